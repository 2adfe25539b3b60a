// One client's WebSocket, whatever its dialect: what it sends is reassembled and handed to the
// dialect; what it is sent waits in an outbound queue until libwebsockets says the socket is
// writable.
//
// libwebsockets only lets a connection write from its own writable callback, so Deliver,
// NotifyUndeliverable and Close never touch the socket: they queue and ask for a callback.
// Closing works the same way, so a close code always follows the frames queued before it.
//
// A connection the server closes loses nothing (docs/operations.md, "what not lost means"): what
// the client sends until the socket is gone, having not seen the close yet, is still routed; the
// peer keeps its id until its close frame is written, and what never got written (the socket
// died, or the client stopped reading) is handed back to the registry to wait for the peer's
// next connection. A close that cannot be written within kCloseFlushSeconds (a client that does
// not read) drops the socket.
#pragma once

#include <libwebsockets.h>

#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/frame.h"
#include "protocol/native_protocol.h"
#include "protocol/peerjs_protocol.h"
#include "routing/peer_connection.h"
#include "routing/registry.h"
#include "server/config.h"
#include "server/keepalive.h"
#include "server/logger.h"
#include "server/metrics.h"
#include "server/rate_limiter.h"
#include "server/token_claims.h"

namespace switchboard::server {

class TokenVerifier;

// Who a connection is: where it comes from and what its token allowed, as its handshake showed.
struct SessionIdentity {
  std::string address;               // the client's address (client_address.h)
  std::optional<TokenClaims> token;  // with --auth-*: the claims of its valid token
};

// What every session shares with the server. Not owned by the sessions.
struct SessionEnvironment {
  const Config& config;
  routing::Registry& registry;
  Metrics& metrics;
  Logger& logger;
  // One parser per dialect, reused by every session of the loop.
  protocol::NativeParser& native_parser;
  protocol::PeerJsParser& peerjs_parser;
  // With --auth-*: checks the tokens a native client sends to refresh its own. Else nullptr.
  const TokenVerifier* tokens;
};

// What is common to the dialects: reassembling what arrives, registering the peer, routing what
// it sends, writing what it is sent, closing. A dialect (NativeSession, PeerJsSession) decides
// what a message means and how the peer is greeted and told of failures.
class Session : public routing::PeerConnection {
 public:
  // "Service restart" in RFC 6455's registry; libwebsockets 4.1 names no such status.
  static constexpr int kCloseRebalance = 1012;

  // A session for the established WebSocket `wsi` of the client `identity`. Call Start next.
  Session(SessionEnvironment& environment, lws* wsi, SessionIdentity identity);
  ~Session() override;

  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Claims the peer id, or refuses the connection.
  virtual void Start() = 0;

  // A chunk of an incoming message, as libwebsockets' receive callback hands it over. Returns
  // false when the connection must be closed now (the close reason has been set).
  bool OnReceive(const char* data, size_t length);

  // The client showed it is alive at `now_ms` (the event loop's clock, in ms): a frame or a pong.
  void Heard(uint64_t now_ms) { keepalive_.Heard(now_ms); }

  // Pings the client when it has been silent for --ping-interval-seconds, and drops the
  // connection when it stays silent --ping-timeout-seconds more; frees reassembly memory that
  // no message is using. Called by the server's tick, about once a second per session.
  void CheckKeepalive(uint64_t now_ms);

  // The socket can take data: writes queued frames, or the pending close. Returns false when the
  // connection must be closed now.
  bool OnWritable();

  // The client sent a close frame: it reads nothing more, so its peer id is released now and
  // what is sent to it, or was not written yet, waits for its next connection.
  void OnClientClosing();

  // The socket is gone: releases the peer id, handing back what was not written.
  void OnClosed();

  // Periodic check, on the server's timer: a dialect may close a peer that went silent.
  virtual void Tick(routing::Clock::time_point /*now*/) {}

  // routing::PeerConnection
  void Deliver(routing::RoutedFrame frame, const routing::FrameOrigin& origin) override;
  void Evict(routing::Eviction why) override;

  // Closes the connection with a WebSocket close code and reason, after the frames already
  // queued.
  void Close(int code, std::string_view reason);

  // Closes the connection so that its client reconnects, probably to a less loaded pod (1012
  // "rebalance"). A dialect that can say so first asks the client to reconnect.
  virtual void Shed() { Close(kCloseRebalance, "rebalance"); }

  // True once a close has been asked for.
  bool closing() const { return pending_close_.has_value(); }

  // Its position in the server's SlicedList, written by the list.
  size_t& list_index() { return list_index_; }

  // True once the close frame has been written.
  bool close_sent() const { return close_sent_; }

  // The client's address, as its per-address limits count it.
  const std::string& address() const { return identity_.address; }

 protected:
  // Handles one complete message.
  virtual void HandleMessage(std::string_view text, routing::Clock::time_point now) = 0;

  // Whether binary frames are ignored; if not, they close the connection with 1003. Either way
  // they are never read: only text frames are checked for UTF-8.
  virtual bool IgnoresBinary() const { return false; }

  // Claims `routing_key` with `token`. `on_result` runs with the registry's answer, then the
  // messages the peer sent meanwhile are routed, in order (for kRegistered and kTookOver).
  void Register(std::string routing_key, std::string token,
                std::function<void(routing::RegisterResult)> on_result);

  // Routes a frame from this peer to `to` (a routing key). Before the registration completes the
  // frame is held, and routed once it has; a refused peer's frames are dropped.
  void Route(std::string_view to, routing::RoutedFrame frame, std::string_view ref);

  // Queues a frame of the server's own (not relayed).
  void SendOwn(protocol::Frame frame);

  // Counts an error frame of `code` in the metrics.
  void CountError(std::string_view code);

  // Whether this peer's token (if the server requires them) lets it send to `peer` (an id of the
  // dialect, not a routing key).
  bool MaySendTo(std::string_view peer) const {
    return !identity_.token || identity_.token->may_send.Allows(peer);
  }

  SessionEnvironment& env_;
  RateLimiter limiter_;
  SessionIdentity identity_;

 private:
  struct PendingClose {
    int code;
    std::string reason;
  };
  // A frame waiting to be written, with who sent it (empty for the server's own frames).
  struct OutboundFrame {
    routing::RoutedFrame frame;
    std::string sender_pod;
    std::string sender;
  };
  // A frame the peer sent before its registration completed.
  struct HeldRoute {
    std::string to;
    routing::RoutedFrame frame;
    std::string ref;
  };
  enum class Registration { kNone, kPending, kDone };

  // Unregisters the peer id, handing back the relayed frames not written (see session.cc).
  void ReleasePeerId();

  // Drops the socket at once (libwebsockets closes it from its own service; OnClosed follows).
  void DropSocket();

  // Writes the close frame of the pending close (see session.cc for why by hand).
  // True when `message` is valid UTF-8; otherwise closes the connection with 1007.
  bool IsValidText(std::string_view message);
  // Writes `frame` to the socket and counts it. Returns false when the socket failed.
  bool WriteFrame(routing::RoutedFrame& frame);
  void SendCloseFrame();

  // Sets the close code and reason on the socket and counts the close; the caller then returns
  // -1 from the libwebsockets callback.
  void CloseNow(int code, std::string_view reason);

  lws* wsi_;
  std::string routing_key_;
  Registration registration_ = Registration::kNone;
  std::vector<HeldRoute> held_routes_;
  std::string partial_;  // a message arriving in several chunks
  std::deque<OutboundFrame> outbound_;
  size_t outbound_bytes_ = 0;
  std::optional<PendingClose> pending_close_;
  bool close_sent_ = false;
  Keepalive keepalive_;
  bool ping_due_ = false;  // a WebSocket ping waits for the socket to be writable
  bool hung_up_ = false;   // the socket is being dropped (DropSocket)
  size_t list_index_ = 0;  // where the session sits in the server's SlicedList
  bool released_ = false;  // the peer id has been unregistered
};

}  // namespace switchboard::server
