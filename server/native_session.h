// A connection speaking the native v1 dialect (docs/protocol.md) at /ws.
#pragma once

#include <string>
#include <string_view>

#include "server/rate_limiter.h"
#include "server/session.h"

namespace switchboard::server {

class NativeSession : public Session {
 public:
  // A session for `wsi` of the client `identity`, that wants to be `peer` (a valid peer id) and
  // may prove it with `token` (the registry's takeover token).
  NativeSession(SessionEnvironment& environment, lws* wsi, SessionIdentity identity,
                std::string peer, std::string token);

  // Claims the peer id; on success sends welcome, else id-taken and closes with 4409.
  void Start() override;

  // With --auth-*: closes the connection with 4401 once its token has expired (exp plus the
  // leeway) and no refresh replaced it.
  void Tick(routing::Clock::time_point now) override;
  // A reconnect frame, then the close (docs/protocol.md).
  void Shed() override;

  // routing::PeerConnection: an error frame naming the target.
  void NotifyUndeliverable(std::string_view target, routing::Undeliverable reason,
                           std::string_view ref) override;

 private:
  void HandleMessage(std::string_view text, routing::Clock::time_point now) override;

  // A refresh message: checks the new token and, when it is valid and names this peer, keeps its
  // claims in place of the old one's. Limited to a burst of 3, then one per 5 seconds.
  void Refresh(std::string_view token, std::string_view ref, routing::Clock::time_point now);

  static constexpr double kRefreshesPerSecond = 0.2;
  static constexpr double kRefreshBurst = 3;
  static constexpr int kNeverDisconnect = 1 << 30;  // a refused refresh is answered, not punished

  // Queues an error frame and counts it.
  void SendError(protocol::ErrorCode code, std::string_view message, std::string_view to,
                 std::string_view ref);

  std::string peer_;
  std::string token_;
  RateLimiter refreshes_;
};

}  // namespace switchboard::server
