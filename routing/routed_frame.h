// A frame on its way to a peer, with the moment the server accepted it (for the relay latency
// histogram) and what to do when the peer is not connected.
#pragma once

#include <chrono>

#include "protocol/frame.h"

namespace switchboard::routing {

using Clock = std::chrono::steady_clock;

struct RoutedFrame {
  protocol::Frame frame;
  Clock::time_point accepted_at;
  // Whether the frame waits for an absent peer (--expire-ms) or is dropped silently. PeerJS'
  // LEAVE and EXPIRE are dropped: they mean nothing to a peer that was not there.
  bool queue_if_absent = true;
};

}  // namespace switchboard::routing
