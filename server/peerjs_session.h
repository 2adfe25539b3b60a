// A connection speaking the PeerJS dialect at <--peerjs-path>peerjs, as the unmodified `peerjs`
// browser client expects it (docs/protocol.md, "PeerJS").
//
// PeerJS reports a refused handshake inside the WebSocket (an ERROR frame, then close), so the
// upgrade is always accepted and the query is judged here. The peer is registered under its
// routing key (protocol::PeerJsRoutingKey), apart from native ids.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "server/session.h"

namespace switchboard::server {

class PeerJsSession : public Session {
 public:
  // A session for `wsi` of the client `identity`, whose query asked for `handshake`; `refusal` is
  // the ERROR message when the query is unusable (protocol::ReadPeerJsHandshake). `token` is the
  // registry's takeover token: the query's, or one derived from the connection token's subject.
  PeerJsSession(SessionEnvironment& environment, lws* wsi, SessionIdentity identity,
                protocol::PeerJsHandshake handshake, std::optional<std::string> refusal,
                std::string token);

  // Sends ERROR and closes if the handshake was refused; else claims the id and sends OPEN, or
  // ID-TAKEN and closes.
  void Start() override;

  // Closes the peer when it has sent nothing for --peerjs-alive-timeout-ms.
  void Tick(routing::Clock::time_point now) override;

  // routing::PeerConnection: an EXPIRE frame from the target.
  void NotifyUndeliverable(std::string_view target, routing::Undeliverable reason,
                           std::string_view ref) override;

 private:
  void HandleMessage(std::string_view text, routing::Clock::time_point now) override;

  // PeerJS ignores bad input without closing; the client never sends binary frames.
  bool IgnoresBinary() const override { return true; }

  protocol::PeerJsHandshake handshake_;
  std::optional<std::string> refusal_;
  std::string token_;
  routing::Clock::time_point last_heard_;
};

}  // namespace switchboard::server
