// A frame on its way to a peer, with the moment the server accepted it (for the relay latency
// histogram).
#pragma once

#include <chrono>

#include "protocol/frame.h"

namespace switchboard::routing {

using Clock = std::chrono::steady_clock;

struct RoutedFrame {
  protocol::Frame frame;
  Clock::time_point accepted_at;
};

}  // namespace switchboard::routing
