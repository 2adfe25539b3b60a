#include "server/peerjs_session.h"

#include <chrono>
#include <utility>

namespace switchboard::server {

namespace {

constexpr int kClosePolicy = 1008;
constexpr int kCloseIdTaken = 4409;

}  // namespace

PeerJsSession::PeerJsSession(SessionEnvironment& environment, lws* wsi, SessionIdentity identity,
                             protocol::PeerJsHandshake handshake,
                             std::optional<std::string> refusal, std::string token)
    : Session(environment, wsi, std::move(identity)),
      handshake_(std::move(handshake)),
      refusal_(std::move(refusal)),
      token_(std::move(token)),
      last_heard_(routing::Clock::now()) {}

void PeerJsSession::Start() {
  if (refusal_) {
    CountError("peerjs-handshake");
    SendOwn(protocol::BuildPeerJsErrorFrame(*refusal_));
    Close(kClosePolicy, *refusal_);
    return;
  }
  Register(protocol::PeerJsRoutingKey(handshake_.id), token_,
           [this](routing::RegisterResult result) {
             switch (result) {
               case routing::RegisterResult::kRegistered:
               case routing::RegisterResult::kTookOver:
                 SendOwn(protocol::BuildPeerJsOpenFrame());
                 break;
               case routing::RegisterResult::kIdTaken:
                 CountError("id-taken");
                 SendOwn(protocol::BuildPeerJsIdTakenFrame());
                 Close(kCloseIdTaken, "id-taken");
                 break;
               case routing::RegisterResult::kUnavailable:
                 CountError("unavailable");
                 SendOwn(protocol::BuildPeerJsErrorFrame("the routing backend is unreachable"));
                 Close(kClosePolicy, "unavailable");
                 break;
             }
           });
}

void PeerJsSession::Tick(routing::Clock::time_point now) {
  const auto alive_timeout = std::chrono::milliseconds(env_.config.peerjs_alive_timeout_ms);
  if (!closing() && now - last_heard_ > alive_timeout) {
    env_.logger.Debug("closing a silent PeerJS client", {{"peer", handshake_.id}});
    Close(kClosePolicy, "no heartbeat within the alive timeout");
  }
}

void PeerJsSession::HandleMessage(std::string_view text, routing::Clock::time_point now) {
  last_heard_ = now;
  switch (limiter_.Admit(now)) {
    case RateLimiter::Verdict::kAllow:
      break;
    case RateLimiter::Verdict::kRefuse:  // PeerJS has no way to say so; the frame is dropped
      CountError("rate-limited");
      return;
    case RateLimiter::Verdict::kDisconnect:
      env_.logger.Warn("closing flooding connection", {{"peer", handshake_.id}});
      Close(kClosePolicy, "flooding");
      return;
  }
  protocol::PeerJsMessage message;
  // As `peer` does, frames that are not messages are ignored without a reply.
  const protocol::PeerJsParse parsed = env_.peerjs_parser.Parse(text, &message);
  if (parsed == protocol::PeerJsParse::kInvalidJson) CountError("bad-message");
  if (parsed != protocol::PeerJsParse::kMessage) return;
  if (message.type == protocol::PeerJsType::kHeartbeat) return;
  if (!MaySendTo(message.dst)) {  // PeerJS' one notice of failure, as for an absent peer
    CountError("forbidden");
    SendOwn(protocol::BuildPeerJsExpireFrame(message.dst, handshake_.id));
    return;
  }
  routing::RoutedFrame frame{
      protocol::BuildPeerJsRelayFrame(message.type, handshake_.id, message.dst, message.payload),
      now, !protocol::IsDroppedWhenAbsent(message.type)};
  Route(protocol::PeerJsRoutingKey(message.dst), std::move(frame), {});
}

void PeerJsSession::NotifyUndeliverable(std::string_view target, routing::Undeliverable,
                                        std::string_view) {
  // PeerJS has one notice for every failure: EXPIRE, from the peer that could not be reached.
  if (std::optional<std::string> id = protocol::PeerJsIdFromRoutingKey(target)) {
    SendOwn(protocol::BuildPeerJsExpireFrame(*id, handshake_.id));
  }
}

}  // namespace switchboard::server
