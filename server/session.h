// One client's WebSocket: what it sends is reassembled, checked and routed; what it is sent
// waits in an outbound queue until libwebsockets says the socket is writable.
//
// libwebsockets only lets a connection write from its own writable callback, so Deliver,
// NotifyUndeliverable and Close never touch the socket: they queue and ask for a callback.
// Closing works the same way, so a close code always follows the frames queued before it.
#pragma once

#include <libwebsockets.h>

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/native_protocol.h"
#include "routing/peer_connection.h"
#include "routing/registry.h"
#include "server/config.h"
#include "server/logger.h"
#include "server/metrics.h"
#include "server/rate_limiter.h"

namespace switchboard::server {

// What every session shares with the server. Not owned by the sessions.
struct SessionEnvironment {
  const Config& config;
  routing::Registry& registry;
  Metrics& metrics;
  protocol::NativeParser& parser;
  Logger& logger;
};

class Session : public routing::PeerConnection {
 public:
  // A session for the established WebSocket `wsi`, which wants to be `peer` and may prove it
  // with `token`. Call Start next.
  Session(SessionEnvironment& environment, lws* wsi, std::string peer, std::string token);
  ~Session() override;

  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Claims the peer id; on success sends welcome, else id-taken and closes with 4409.
  void Start();

  // A chunk of an incoming message, as libwebsockets' receive callback hands it over. Returns
  // false when the connection must be closed now (the close reason has been set).
  bool OnReceive(const char* data, size_t length);

  // The socket can take data: writes queued frames, or the pending close. Returns false when the
  // connection must be closed now.
  bool OnWritable();

  // The socket is gone: releases the peer id.
  void OnClosed();

  // routing::PeerConnection
  void Deliver(routing::RoutedFrame frame) override;
  void NotifyUndeliverable(std::string_view target, routing::Undeliverable reason,
                           std::string_view ref) override;
  void Close(int code, std::string_view reason) override;

  const std::string& peer() const { return peer_; }

  // True once a close has been asked for.
  bool closing() const { return pending_close_.has_value(); }

 private:
  struct PendingClose {
    int code;
    std::string reason;
  };

  // Handles one complete text message.
  void HandleMessage(std::string_view text, routing::Clock::time_point now);

  // Queues an error frame and counts it.
  void SendError(protocol::ErrorCode code, std::string_view message, std::string_view to,
                 std::string_view ref);

  // Queues a frame of the server's own (not relayed).
  void SendOwn(protocol::Frame frame);

  // Writes the close frame of the pending close (see session.cc for why by hand).
  void SendCloseFrame();

  // Sets the close code and reason on the socket and counts the close; the caller then returns
  // -1 from the libwebsockets callback.
  void CloseNow(int code, std::string_view reason);

  SessionEnvironment& env_;
  lws* wsi_;
  std::string peer_;
  std::string token_;
  bool registered_ = false;
  RateLimiter limiter_;
  std::string partial_;  // a message arriving in several chunks
  std::deque<routing::RoutedFrame> outbound_;
  size_t outbound_bytes_ = 0;
  std::optional<PendingClose> pending_close_;
  bool close_sent_ = false;
};

}  // namespace switchboard::server
