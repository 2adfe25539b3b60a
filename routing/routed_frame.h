// A frame on its way to a peer, with the moment the server accepted it (for the relay latency
// histogram) and what to do when the peer is not connected.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

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

// Who sent a frame the registry hands to a connection: the peer id and the pod it sent from
// (empty: this pod). Views, valid only during the Deliver call that carries them.
struct FrameOrigin {
  std::string_view pod;
  std::string_view peer;
};

// A frame a connection took but never wrote, handed back when it lets go of its id
// (Registry::Unregister), with who sent it, so that the sender can be told if it cannot wait.
struct UnsentFrame {
  RoutedFrame frame;
  std::string sender_pod;  // empty: this pod
  std::string sender;
};

}  // namespace switchboard::routing
