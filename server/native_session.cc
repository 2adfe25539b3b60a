#include "server/native_session.h"

#include <utility>

namespace switchboard::server {

namespace {

constexpr int kClosePolicy = 1008;
constexpr int kCloseIdTaken = 4409;

std::string UndeliverableMessage(std::string_view target, routing::Undeliverable reason) {
  if (reason == routing::Undeliverable::kUnavailable) {
    return "cannot reach the pod of peer " + std::string(target) + " now; retry later";
  }
  return "peer " + std::string(target) + " is not connected";
}

}  // namespace

NativeSession::NativeSession(SessionEnvironment& environment, lws* wsi, std::string peer,
                             std::string token)
    : Session(environment, wsi), peer_(std::move(peer)), token_(std::move(token)) {}

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
  Route(message.to,
        routing::RoutedFrame{
            protocol::BuildRelayFrame(message.type, peer_, message.to, message.payload), now},
        ref);
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
