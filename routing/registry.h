// The routing backend interface: who holds which peer id, and how a frame reaches it.
//
// Two implementations share this contract (docs/architecture.md): EmbeddedRegistry keeps
// everything in this process, for a single pod; the Redis registry shares ids and queues between
// pods. Calls may complete later than they return (Redis answers asynchronously), so results are
// reported through callbacks and through the PeerConnection interface, never as return values
// that would force the backend to block. All methods run on the event loop thread.
//
// Re-entry: a RegisterCallback may call the registry (a session routes what its client sent
// before it was registered). The PeerConnection methods the registry calls may not
// (peer_connection.h).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "routing/latency_histogram.h"
#include "routing/peer_connection.h"
#include "routing/pod_load.h"
#include "routing/routed_frame.h"
#include "routing/swarm_directory.h"

namespace switchboard::routing {

// The outcome of Register.
enum class RegisterResult {
  kRegistered,  // the id is now held by the new connection
  kTookOver,    // the id was held with the same token: the old connection was evicted
  kIdTaken,     // the id is held by a connection with another or no token
  kUnavailable  // the backend could not be reached
};

// Counters a backend keeps, read by the metrics endpoint.
struct RoutingStats {
  uint64_t relayed_local = 0;     // frames handed to a connection on this pod
  uint64_t relayed_remote = 0;    // frames sent to another pod
  uint64_t queued = 0;            // frames queued for a peer that was not connected
  uint64_t expired = 0;           // queued frames dropped because their target never came
  uint64_t queue_rejected = 0;    // frames refused because the target's queue was full
  uint64_t peers = 0;             // peers registered on this pod now
  uint64_t queued_now = 0;        // frames waiting in this pod's queues now
  uint64_t received_remote = 0;   // frames that came from another pod
  uint64_t owner_lookups = 0;     // cross-pod frames whose target's pod had to be looked up
  uint64_t bounced = 0;           // frames handed back to their sender's pod: target not here
  uint64_t unconfirmed = 0;       // frames a pod's subscription took but no receipt covered
  uint64_t stale_dropped = 0;     // frames read after this pod stalled: their senders are told
  uint64_t late_dropped = 0;      // frames Redis ran after newer ones: their senders are told
  uint64_t receipt_asks = 0;      // times a pod asked another how far it handled a stream
  int redis_up = -1;              // 1 up, 0 down, -1 no Redis backend
  uint64_t redis_reconnects = 0;  // times the link to Redis was lost
  uint64_t redis_errors = 0;      // commands Redis answered with an error (full, read-only...)
  const LatencyHistogram* redis_latency = nullptr;  // Redis command round trips, if any
};

class Registry {
 public:
  using RegisterCallback = std::function<void(RegisterResult)>;

  virtual ~Registry() = default;

  // Claims `peer` for `connection`. An id already held is taken over when `token` is non-empty
  // and equals the holder's token (the holder is evicted as Eviction::kReplaced), else refused.
  // Calls `done` exactly once, possibly before Register returns. On kRegistered and kTookOver,
  // the frames queued for `peer` are delivered to `connection`, in order, right after `done`
  // returns and before any frame routed later; so `done` is the place to send a greeting.
  // `connection` is not owned and must stay valid until Unregister(peer, connection).
  virtual void Register(std::string_view peer, std::string_view token, PeerConnection* connection,
                        RegisterCallback done) = 0;

  // Releases `peer` if it is still held by `connection`; otherwise does nothing (it was taken
  // over). After this the registry no longer touches `connection`.
  //
  // `unsent` holds, oldest first, frames `connection` took but never wrote (it closed first).
  // They wait for the peer's next connection, before anything routed to the peer later, as
  // queued frames do (the same expiry, limits and notices). When the id was taken over already,
  // or they cannot be queued, each of their senders is told once that the peer is unavailable.
  virtual void Unregister(std::string_view peer, PeerConnection* connection,
                          std::vector<UnsentFrame> unsent) = 0;

  // Sends `frame` from peer `from` to peer `to`: delivered to a local connection, forwarded to
  // the pod that holds `to`, or queued until `to` connects or the queue expires. Failures are
  // reported to the connection registered as `from` (NotifyUndeliverable), with `ref` when the
  // failure concerns this one message.
  virtual void Route(std::string_view from, std::string_view to, RoutedFrame frame,
                     std::string_view ref) = 0;

  using ListCallback = std::function<void(std::optional<std::vector<std::string>> peers)>;

  // Lists the ids registered now, on every pod, in no particular order. Calls `done` exactly
  // once, possibly before ListPeers returns, with nullopt when the backend cannot be reached.
  virtual void ListPeers(ListCallback done) = 0;

  using LoadsCallback = std::function<void(std::optional<std::vector<PodLoad>> pods)>;

  // Publishes this pod's load, which the other pods see until a few seconds after its last
  // publication (the liveness TTL), and reads every pod's that is current, this one's included.
  // Calls `done` exactly once, possibly before it returns, with nullopt when the backend cannot
  // be reached. A backend without other pods (the embedded one) answers with no pods at all:
  // there is nothing to balance.
  virtual void ExchangeLoads(const PodLoad& /*own*/, LoadsCallback done) {
    done(std::vector<PodLoad>{});
  }

  // Swarm membership on the same backend (swarm_directory.h): in this process for the embedded
  // registry, in Redis beside the peer ids for the Redis one. Owned by the registry.
  virtual SwarmDirectory& swarms() = 0;

  // Periodic work (queue expiry). The server calls it on a timer, with the current time.
  virtual void Tick(Clock::time_point now) = 0;

  // Counters since start.
  virtual RoutingStats stats() const = 0;

  // True when nothing the backend took is still on its way (a release handing frames back, a
  // frame waiting for Redis' answer): a draining pod waits for it before it exits, so that what
  // its last connections sent or left unwritten is not lost with the process.
  virtual bool Settled() const { return true; }

  // Releases what the backend holds on the event loop, so that the loop can run out. After it
  // no callback is made.
  virtual void Close() {}
};

}  // namespace switchboard::routing
