// How routing sees a connected peer: something it can hand frames to, tell about failures and
// evict. The server implements it on top of a WebSocket; routing never sees the socket, and never
// chooses how a failure or an eviction is worded on the wire: each dialect does.
//
// The registry calls these methods from inside its own calls and callbacks. So none of them may
// call back into the registry (Register, Unregister, Route...) before returning: an
// implementation that must (a connection leaving releases its id) does it later, from its own
// event (the server's Session releases its id from its writable callback).
#pragma once

#include <string_view>

#include "routing/routed_frame.h"

namespace switchboard::routing {

// Why messages a peer sent could not be delivered.
enum class Undeliverable {
  kPeerUnavailable,  // the target did not connect before the queue expired, or its queue is full
  kUnavailable,      // the routing backend cannot reach the target's pod
};

// Why the registry evicts a connection from the id it held.
enum class Eviction {
  kReplaced,  // the same client (the same token) connected again, here or on another pod
  kIdTaken,   // claiming the id again (after Redis came back or reaped this pod), it was found
              // held by another connection
};

class PeerConnection {
 public:
  virtual ~PeerConnection() = default;

  // Queues `frame` to be written to this peer, after every frame queued before it. Never blocks.
  // `origin` says who sent it, should the connection have to hand it back unwritten.
  virtual void Deliver(RoutedFrame frame, const FrameOrigin& origin) = 0;

  // Tells this peer that what it sent to `target` was not delivered. `ref` is the raw JSON id of
  // the message concerned, or empty when the notice covers several messages.
  virtual void NotifyUndeliverable(std::string_view target, Undeliverable reason,
                                   std::string_view ref) = 0;

  // The connection no longer holds its id, for `why`: it should close, after the frames already
  // queued. The registry has already forgotten it; its later Unregister is a no-op.
  virtual void Evict(Eviction why) = 0;
};

}  // namespace switchboard::routing
