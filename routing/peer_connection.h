// How routing sees a connected peer: something it can hand frames to, tell about failures and
// close. The server implements it on top of a WebSocket; routing never sees the socket.
#pragma once

#include <string_view>

#include "routing/routed_frame.h"

namespace switchboard::routing {

// Why messages a peer sent could not be delivered.
enum class Undeliverable {
  kPeerUnavailable,  // the target did not connect before the queue expired, or its queue is full
  kUnavailable,      // the routing backend cannot reach the target's pod
};

class PeerConnection {
 public:
  virtual ~PeerConnection() = default;

  // Queues `frame` to be written to this peer, after every frame queued before it. Never blocks.
  virtual void Deliver(RoutedFrame frame) = 0;

  // Tells this peer that what it sent to `target` was not delivered. `ref` is the raw JSON id of
  // the message concerned, or empty when the notice covers several messages.
  virtual void NotifyUndeliverable(std::string_view target, Undeliverable reason,
                                   std::string_view ref) = 0;

  // Closes the connection with a WebSocket close code and reason, after the frames already
  // queued. The connection unregisters itself when it is gone.
  virtual void Close(int code, std::string_view reason) = 0;
};

}  // namespace switchboard::routing
