#include "server/session.h"

#include <simdjson.h>

#include <cstring>
#include <string>
#include <utility>

namespace switchboard::server {

namespace {

static_assert(protocol::Frame::kHeadroom >= LWS_PRE,
              "frames must leave libwebsockets room for its header");

constexpr int kCloseUnsupportedData = 1003;
constexpr int kClosePolicy = 1008;
constexpr int kCloseTooBig = 1009;
constexpr int kCloseInvalidText = 1007;

// How long a close may wait for the frames queued before it to be written: a client that does
// not read would otherwise keep its socket, and its id, as long as it keeps sending.
constexpr int kCloseFlushSeconds = 2;
// What a closing connection may hold, in multiples of --max-outbound-bytes, before its socket is
// dropped at once: what reaches it after its close is kept, to be handed back.
constexpr size_t kClosingOutboundFactor = 2;

}  // namespace

Session::Session(SessionEnvironment& environment, lws* wsi, SessionIdentity identity)
    : env_(environment),
      limiter_(environment.config.rate_limit, environment.config.rate_burst,
               environment.config.flood_strikes, RateLimiter::Clock::now()),
      identity_(std::move(identity)),
      wsi_(wsi),
      keepalive_(static_cast<uint64_t>(environment.config.ping_interval_seconds) * 1000,
                 static_cast<uint64_t>(environment.config.ping_timeout_seconds) * 1000) {
  ++env_.metrics.connections_open;
  ++env_.metrics.connections_accepted;
}

Session::~Session() { --env_.metrics.connections_open; }

void Session::Register(std::string routing_key, std::string token,
                       std::function<void(routing::RegisterResult)> on_result) {
  routing_key_ = std::move(routing_key);
  registration_ = Registration::kPending;
  env_.registry.Register(routing_key_, token, this,
                         [this, on_result = std::move(on_result)](routing::RegisterResult result) {
                           const bool registered = result == routing::RegisterResult::kRegistered ||
                                                   result == routing::RegisterResult::kTookOver;
                           registration_ = registered ? Registration::kDone : Registration::kNone;
                           on_result(result);
                           std::vector<HeldRoute> held = std::move(held_routes_);
                           held_routes_.clear();
                           if (!registered) return;
                           for (HeldRoute& route : held)
                             Route(route.to, std::move(route.frame), route.ref);
                         });
}

void Session::Route(std::string_view to, routing::RoutedFrame frame, std::string_view ref) {
  switch (registration_) {
    case Registration::kDone:
      env_.registry.Route(routing_key_, to, std::move(frame), ref);
      return;
    case Registration::kPending:
      // Redis has not answered yet; the peer may already send (it saw the socket open).
      held_routes_.push_back(HeldRoute{std::string(to), std::move(frame), std::string(ref)});
      return;
    case Registration::kNone:
      return;  // refused: the connection is closing
  }
}

void Session::CheckKeepalive(uint64_t now_ms) {
  if (close_sent_ || hung_up_) return;
  // Reassembly memory is kept between messages, not between seconds: idle connections hold none.
  if (partial_.empty() && partial_.capacity() > 0) std::string().swap(partial_);
  switch (keepalive_.Check(now_ms)) {
    case Keepalive::Action::kNone:
      break;
    case Keepalive::Action::kPing:
      ping_due_ = true;
      lws_callback_on_writable(wsi_);
      break;
    case Keepalive::Action::kHangUp:
      // A client that answers nothing would not answer a close frame either: drop the socket.
      DropSocket();
      break;
  }
}

void Session::DropSocket() {
  if (hung_up_) return;
  hung_up_ = true;
  if (!close_sent_) Metrics::Increment(env_.metrics.closes, "1006");  // else counted already
  lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
  // Called from our timer or a registry callback, not from inside libwebsockets' service: it
  // would see the kill only at its next event, up to 30 s later on a quiet server. Waking it
  // sees to it now.
  lws_cancel_service(lws_get_context(wsi_));
}

bool Session::OnReceive(const char* data, size_t length) {
  if (lws_frame_is_binary(wsi_)) {
    // libwebsockets checks UTF-8 only in text frames: a binary one relayed as text could carry
    // bytes that make the target's browser drop its socket.
    if (IgnoresBinary()) {
      CountError("bad-message");
      return true;
    }
    CloseNow(kCloseUnsupportedData, "binary frames are not accepted");
    return false;
  }
  const size_t remaining = lws_remaining_packet_payload(wsi_);
  const size_t max = static_cast<size_t>(env_.config.max_message_bytes);
  if (partial_.size() + length + remaining > max) {
    CloseNow(kCloseTooBig, "message over " + std::to_string(max) + " bytes");
    return false;
  }
  const bool complete = remaining == 0 && lws_is_final_fragment(wsi_);
  const auto now = routing::Clock::now();
  if (complete && partial_.empty()) {  // the common case: the whole message in one chunk
    if (!IsValidText(std::string_view(data, length))) return false;
    env_.metrics.bytes_received += length;
    ++env_.metrics.messages_received;
    // Even once our close is on its way: the client sent this before it saw the close.
    HandleMessage(std::string_view(data, length), now);
    return true;
  }
  partial_.append(data, length);
  if (complete) {
    if (!IsValidText(partial_)) return false;
    env_.metrics.bytes_received += partial_.size();
    ++env_.metrics.messages_received;
    HandleMessage(partial_, now);
    partial_.clear();  // its memory is kept for the next message, until CheckKeepalive frees it
  }
  return true;
}

// RFC 6455 requires text messages to be UTF-8. libwebsockets can check that (a byte at a time);
// simdjson checks a whole message many times faster, so the server does it here instead.
bool Session::IsValidText(std::string_view message) {
  if (simdjson::validate_utf8(message.data(), message.size())) return true;
  CloseNow(kCloseInvalidText, "text is not valid UTF-8");
  return false;
}

void Session::Deliver(routing::RoutedFrame frame, const routing::FrameOrigin& origin) {
  if (released_) return;  // not reachable: the registry no longer routes here
  outbound_bytes_ += frame.frame.size();
  const auto max_bytes = static_cast<size_t>(env_.config.max_outbound_bytes);
  if (outbound_bytes_ > max_bytes && !pending_close_) {
    env_.logger.Warn("closing a client too slow to read", {{"peer", routing_key_}});
    Close(kClosePolicy, "too slow to read");
  }
  if (outbound_bytes_ > kClosingOutboundFactor * max_bytes) DropSocket();
  // With nothing queued, a socket that takes data gets the frame now: waiting for a writable
  // callback costs two epoll_ctl() calls and a loop iteration per frame (docs/benchmarks.md).
  // Asking first is required: libwebsockets refuses back-to-back writes not separated by it.
  if (outbound_.empty() && !pending_close_ && !ping_due_ && !close_sent_ && !hung_up_ &&
      !lws_send_pipe_choked(wsi_)) {
    WriteFrame(frame);  // on failure the socket is gone and libwebsockets closes it
    return;
  }
  // Handed back by ReleasePeerId if the socket goes before it is written.
  outbound_.push_back(
      OutboundFrame{std::move(frame), std::string(origin.pod), std::string(origin.peer)});
  if (!hung_up_) lws_callback_on_writable(wsi_);
}

bool Session::WriteFrame(routing::RoutedFrame& next) {
  const size_t size = next.frame.size();
  const int written = lws_write(wsi_, reinterpret_cast<unsigned char*>(next.frame.mutable_body()),
                                size, LWS_WRITE_TEXT);
  outbound_bytes_ -= size;
  if (written < static_cast<int>(size)) return false;
  env_.metrics.bytes_sent += size;
  if (next.accepted_at != routing::Clock::time_point{}) {
    const std::chrono::duration<double> latency = routing::Clock::now() - next.accepted_at;
    env_.metrics.relay_latency.Observe(latency.count());
  }
  return true;
}

void Session::Close(int code, std::string_view reason) {
  if (pending_close_) return;
  pending_close_ = PendingClose{code, std::string(reason)};
  // Replaced by the close-ack timeout once the close frame is written.
  lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, kCloseFlushSeconds);
  lws_callback_on_writable(wsi_);
}

// How an eviction reads on the wire, in both dialects (docs/protocol.md, docs/peerjs.md).
void Session::Evict(routing::Eviction why) {
  switch (why) {
    case routing::Eviction::kReplaced:
      Close(4410, "replaced");
      return;
    case routing::Eviction::kIdTaken:
      Close(4409, "id-taken");
      return;
  }
}

void Session::CountError(std::string_view code) { Metrics::Increment(env_.metrics.errors, code); }

void Session::SendOwn(protocol::Frame frame) {
  Deliver(routing::RoutedFrame{std::move(frame), routing::Clock::time_point{}}, {});
}

bool Session::OnWritable() {
  if (close_sent_ || hung_up_) return true;
  if (outbound_.empty() && pending_close_) {
    SendCloseFrame();
    return true;
  }
  if (ping_due_) {
    ping_due_ = false;
    // libwebsockets reports a pong only when it carries a payload, which it echoes from the ping.
    unsigned char ping[LWS_PRE + 2] = {};
    ping[LWS_PRE] = 's';
    ping[LWS_PRE + 1] = 'b';
    if (lws_write(wsi_, ping + LWS_PRE, 2, LWS_WRITE_PING) < 0) return false;
    // libwebsockets refuses a second write that was not preceded by this question.
    if (!outbound_.empty() && lws_send_pipe_choked(wsi_)) {
      lws_callback_on_writable(wsi_);
      return true;
    }
  }
  while (!outbound_.empty()) {
    if (!WriteFrame(outbound_.front().frame)) return false;  // the socket failed; lws closes it
    outbound_.pop_front();
    // Asking whether the socket takes more costs a poll() system call: ask only when there is more.
    if (!outbound_.empty() && lws_send_pipe_choked(wsi_)) break;
  }
  if (!outbound_.empty() || pending_close_) lws_callback_on_writable(wsi_);
  return true;
}

void Session::CloseNow(int code, std::string_view reason) {
  Metrics::Increment(env_.metrics.closes, std::to_string(code));
  // Control frames carry at most 123 bytes of reason.
  const std::string_view sent = reason.substr(0, 123);
  lws_close_reason(wsi_, static_cast<lws_close_status>(code),
                   reinterpret_cast<unsigned char*>(const_cast<char*>(sent.data())), sent.size());
}

// Debian's libwebsockets 4.1.6 is built with _DEBUG, and with libuv its service loop then closes
// a connection a second time right after a callback returns -1 ("uv repeat test"), killing the
// socket before the close frame set by lws_close_reason() is sent. So a close decided outside
// the receive path writes the close frame itself, then waits for the client's answering close
// (libwebsockets ends the connection on it) or for the timeout.
void Session::SendCloseFrame() {
  constexpr auto kWriteClose = static_cast<lws_write_protocol>(4);  // LWS_WRITE_CLOSE
  constexpr int kCloseAckTimeoutSeconds = 5;
  const std::string_view reason = std::string_view(pending_close_->reason).substr(0, 123);
  unsigned char buffer[LWS_PRE + 125];
  unsigned char* payload = buffer + LWS_PRE;
  payload[0] = static_cast<unsigned char>(pending_close_->code >> 8);
  payload[1] = static_cast<unsigned char>(pending_close_->code & 0xff);
  std::memcpy(payload + 2, reason.data(), reason.size());
  Metrics::Increment(env_.metrics.closes, std::to_string(pending_close_->code));
  close_sent_ = true;
  // Nothing is left to write: from now on what is sent to the peer waits for its next connection,
  // on any pod, even while this socket takes its time to answer the close.
  ReleasePeerId();
  lws_write(wsi_, payload, reason.size() + 2, kWriteClose);
  lws_set_timeout(wsi_, PENDING_TIMEOUT_CLOSE_ACK, kCloseAckTimeoutSeconds);
}

void Session::OnClientClosing() {
  if (!released_) ReleasePeerId();
}

void Session::OnClosed() {
  if (!released_) ReleasePeerId();
}

// A closing peer lets go of its id when its close frame is written, with nothing left to write,
// or when its socket goes (it closed, died, or was dropped for not reading). Until then what is
// sent to it is written before the close, and what it sends, not having seen the close yet, is
// still routed. Whatever reached it and was not written goes back to the registry, which queues
// it for the peer's next connection before anything routed later, or tells its senders; the
// server's own frames (greetings, notices) are not handed back. This runs in libwebsockets'
// callbacks, never inside a registry call, so the registry is not re-entered.
void Session::ReleasePeerId() {
  released_ = true;
  std::vector<routing::UnsentFrame> unsent;
  for (OutboundFrame& item : outbound_) {
    if (item.sender.empty()) continue;
    unsent.push_back(routing::UnsentFrame{std::move(item.frame), std::move(item.sender_pod),
                                          std::move(item.sender)});
  }
  outbound_.clear();
  outbound_bytes_ = 0;
  env_.metrics.frames_handed_back += unsent.size();
  if (!routing_key_.empty()) env_.registry.Unregister(routing_key_, this, std::move(unsent));
}

}  // namespace switchboard::server
