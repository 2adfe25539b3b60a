#include "server/native_session.h"

#include <chrono>
#include <utility>

#include "server/token_verifier.h"

namespace switchboard::server {

namespace {

constexpr int kClosePolicy = 1008;
constexpr int kCloseIdTaken = 4409;
constexpr int kCloseTokenExpired = 4401;

int64_t SecondsSinceEpoch() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string UndeliverableMessage(std::string_view target, routing::Undeliverable reason) {
  if (reason == routing::Undeliverable::kUnavailable) {
    return "cannot reach the pod of peer " + std::string(target) + " now; retry later";
  }
  return "peer " + std::string(target) + " is not connected";
}

}  // namespace

NativeSession::NativeSession(SessionEnvironment& environment, lws* wsi, SessionIdentity identity,
                             std::string peer, std::string token)
    : Session(environment, wsi, std::move(identity)),
      peer_(std::move(peer)),
      token_(std::move(token)),
      refreshes_(kRefreshesPerSecond, kRefreshBurst, kNeverDisconnect, routing::Clock::now()) {}

void NativeSession::Start() {
  Register(peer_, token_, [this](routing::RegisterResult result) {
    switch (result) {
      case routing::RegisterResult::kRegistered:
      case routing::RegisterResult::kTookOver:
        SendOwn(protocol::BuildWelcomeFrame(peer_, env_.config.pod_id));
        env_.logger.Debug("peer registered", {{"peer", peer_}});
        break;
      case routing::RegisterResult::kIdTaken:
        SendError(protocol::ErrorCode::kIdTaken,
                  "peer id " + peer_ + " is held by another connection", {}, {});
        Close(kCloseIdTaken, "id-taken");
        break;
      case routing::RegisterResult::kUnavailable:
        SendError(protocol::ErrorCode::kUnavailable, "the routing backend is unreachable", {}, {});
        Close(kClosePolicy, "unavailable");
        break;
    }
  });
}

void NativeSession::HandleMessage(std::string_view text, routing::Clock::time_point now) {
  protocol::ClientMessage message;
  protocol::ParseError error;
  const bool parsed = env_.native_parser.Parse(text, &message, &error);
  const std::string_view ref = parsed ? message.ref : error.ref;

  switch (limiter_.Admit(now)) {
    case RateLimiter::Verdict::kAllow:
      break;
    case RateLimiter::Verdict::kRefuse:
      SendError(protocol::ErrorCode::kRateLimited, "too many messages; slow down", {}, ref);
      return;
    case RateLimiter::Verdict::kDisconnect:
      env_.logger.Warn("closing flooding connection", {{"peer", peer_}});
      Close(kClosePolicy, "flooding");
      return;
  }
  if (!parsed) {
    SendError(protocol::ErrorCode::kBadMessage, error.message, {}, ref);
    return;
  }
  if (message.type == protocol::MessageType::kPing) {
    SendOwn(protocol::BuildPongFrame(ref));
    return;
  }
  if (message.type == protocol::MessageType::kRefresh) {
    Refresh(message.token, ref, now);
    return;
  }
  if (!MaySendTo(message.to)) {
    SendError(protocol::ErrorCode::kForbidden,
              "this connection's token may not send to peer " + std::string(message.to), message.to,
              ref);
    return;
  }
  Route(message.to,
        routing::RoutedFrame{
            protocol::BuildRelayFrame(message.type, peer_, message.to, message.payload), now},
        ref);
}

void NativeSession::Tick(routing::Clock::time_point) {
  if (!identity_.token || closing()) return;
  // Subtracted, not added: "exp" may be as large as int64 allows.
  if (SecondsSinceEpoch() - env_.tokens->policy().leeway_seconds > identity_.token->expires_at) {
    env_.logger.Debug("closing a connection whose token expired", {{"peer", peer_}});
    Close(kCloseTokenExpired, "token-expired");
  }
}

void NativeSession::Refresh(std::string_view token, std::string_view ref,
                            routing::Clock::time_point now) {
  if (env_.tokens == nullptr) {
    SendError(protocol::ErrorCode::kBadMessage, "this server takes no connection tokens", {}, ref);
    return;
  }
  // Each refresh may cost a signature check per key: a few, then one per 5 seconds.
  if (refreshes_.Admit(now) != RateLimiter::Verdict::kAllow) {
    SendError(protocol::ErrorCode::kRateLimited, "at most one refresh per 5 seconds", {}, ref);
    return;
  }
  std::string why;
  std::optional<TokenClaims> claims = env_.tokens->Verify(token, SecondsSinceEpoch(), &why);
  const bool names_this_peer = claims.has_value() && claims->subject == peer_;
  if (!names_this_peer) {
    if (claims.has_value()) why = "the token names another peer";
    env_.logger.Debug("refresh refused", {{"peer", peer_}, {"why", why}});  // the client is told
    SendError(protocol::ErrorCode::kUnauthorized, "refresh refused: " + why, {}, ref);
    return;
  }
  const int64_t expires_at = claims->expires_at;
  identity_.token = std::move(claims);
  SendOwn(protocol::BuildRefreshedFrame(expires_at, ref));
}

void NativeSession::Shed() {
  if (closing()) return;
  SendOwn(protocol::BuildReconnectFrame("rebalance"));
  Close(kCloseRebalance, "rebalance");
}

void NativeSession::NotifyUndeliverable(std::string_view target, routing::Undeliverable reason,
                                        std::string_view ref) {
  const protocol::ErrorCode code = reason == routing::Undeliverable::kUnavailable
                                       ? protocol::ErrorCode::kUnavailable
                                       : protocol::ErrorCode::kPeerUnavailable;
  SendError(code, UndeliverableMessage(target, reason), target, ref);
}

void NativeSession::SendError(protocol::ErrorCode code, std::string_view message,
                              std::string_view to, std::string_view ref) {
  CountError(protocol::ErrorCodeName(code));
  SendOwn(protocol::BuildErrorFrame(code, message, to, ref));
}

}  // namespace switchboard::server
