// The WebSocket upgrade check: who may open a connection, as which peer (Server::ConfirmUpgrade).
//
// Everything is decided before the 101, so that a refusal is an HTTP status a client, a proxy and
// a load tester can all read: 404 for a wrong path, 403 for an origin or a peer id the token does
// not grant, 429 past the per-address limits, 401 for a token that is missing or not valid, 503
// when the pod is full or draining. A PeerJS handshake that is merely unusable (wrong key, bad
// id) is the exception: PeerJS clients expect that inside the WebSocket, as an ERROR frame.
#include <chrono>

#include "protocol/peer_id.h"
#include "server/handshake_query.h"
#include "server/server.h"

namespace switchboard::server {

namespace {

// A signed connection token, in a query argument, fits in this with room to spare.
constexpr size_t kMaxQueryArgumentBytes = 8192;
// What the registry is given as takeover token (docs/protocol.md, Duplicate ids). For an
// authenticated peer it names the subject: any connection with a valid token for the same subject
// may take the id over, on any pod. A client's own resume token is put in another namespace, so
// that no client can present "jwt alice" to a pod (say one without --auth-*, during the rollout
// that turns it on) and take over the authenticated alice. An empty token stays empty: it allows
// no takeover.
std::string SubjectRegistryToken(std::string_view subject) { return "jwt " + std::string(subject); }
std::string ClientRegistryToken(std::string_view resume_token) {
  return resume_token.empty() ? std::string() : "client " + std::string(resume_token);
}

// Appends the query's arguments to `arguments`, in order, leaving out empty ones ("?&peer=x",
// "?a=1&&peer=x": libwebsockets keeps them as arguments of length 0, which must not end the
// list) and those too long to read. Returns false if there was one that long.
bool ReadQueryArguments(lws* wsi, std::vector<std::string>* arguments) {
  bool all_read = true;
  std::string argument(kMaxQueryArgumentBytes, '\0');
  for (int i = 0;; ++i) {
    const int length = lws_hdr_copy_fragment(
        wsi, argument.data(), static_cast<int>(argument.size()), WSI_TOKEN_HTTP_URI_ARGS, i);
    if (length > 0) arguments->emplace_back(argument.data(), static_cast<size_t>(length));
    if (length >= 0) continue;
    // Past the last argument, or one too long to copy.
    if (lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i) == 0) return all_read;
    all_read = false;
  }
}

// The whole of header `token` ("" without one, or when it is longer than `max_bytes`).
std::string HeaderOf(lws* wsi, lws_token_indexes token, size_t max_bytes) {
  const int length = lws_hdr_total_length(wsi, token);
  if (length <= 0 || static_cast<size_t>(length) > max_bytes) return {};
  std::string value(static_cast<size_t>(length) + 1, '\0');
  if (lws_hdr_copy(wsi, value.data(), static_cast<int>(value.size()), token) < 0) return {};
  value.resize(static_cast<size_t>(length));
  return value;
}

int64_t SecondsSinceEpoch() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int Server::ConfirmUpgrade(lws* wsi) {
  Admission admission;
  admission.identity.address = ClientAddressOf(wsi);
  admission.at_ms = uv_now(&loop_);
  std::optional<Refusal> refusal = CheckUpgrade(wsi, &admission);
  if (!refusal) {
    admitted_[wsi] = std::move(admission);
    return 0;
  }
  Metrics::Increment(metrics_.handshakes_refused, refusal->reason);
  LogRefusal(*refusal, admission.identity.address);
  if (!WriteHttpResponse(wsi, refusal->status, "text/plain; charset=utf-8", refusal->text)) {
    return -1;
  }
  return 1;
}

std::optional<Server::Refusal> Server::CheckUpgrade(lws* wsi, Admission* admission) {
  if (admin_vhost_ != nullptr && lws_get_vhost(wsi) == admin_vhost_) {
    return Refusal{404, "not-found", "the admin port takes no WebSockets\n", {}};
  }
  if (draining_) {
    return Refusal{503, "draining", "the server is shutting down; connect again\n", {}};
  }
  if (metrics_.connections_open >= config_.max_connections) {
    return Refusal{503, "full", "the server holds all the connections it may; connect again\n", {}};
  }
  if (!OriginAllowed(OriginOf(wsi))) {
    return Refusal{403, "bad-origin", "this origin may not connect (see --allowed-origins)\n", {}};
  }
  switch (address_limits_.AdmitHandshake(AddressLimitKey(admission->identity.address),
                                         AddressLimits::Clock::now())) {
    case AddressLimits::Verdict::kAdmit:
      break;
    case AddressLimits::Verdict::kTooManyConnections:
      return Refusal{429,
                     "too-many-connections",
                     "this address holds all the connections it may; close one first\n",
                     {}};
    case AddressLimits::Verdict::kTooManyHandshakes:
      return Refusal{429,
                     "too-many-handshakes",
                     "this address opens connections too fast; wait a second\n",
                     {}};
  }
  char path[256];
  if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) < 0) path[0] = '\0';
  if (std::string_view(path) == peerjs_ws_path_) return AdmitPeerJs(wsi, admission);
  if (std::string_view(path) == kWebSocketPath) return AdmitNative(wsi, admission);
  return Refusal{404,
                 "not-found",
                 "WebSockets connect to /ws, or to " + peerjs_ws_path_ + " for PeerJS clients\n",
                 {}};
}

std::optional<Server::Refusal> Server::AdmitNative(lws* wsi, Admission* admission) const {
  std::vector<std::string> arguments;
  if (!ReadQueryArguments(wsi, &arguments)) {
    return Refusal{400, "bad-query", "a query argument is over 8191 bytes\n", {}};
  }
  NativeQuery query;
  std::string_view reason;
  std::string text;
  const std::string authorization =
      HeaderOf(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, kMaxQueryArgumentBytes);
  if (!ReadNativeQuery(arguments, authorization, &query, &reason, &text)) {
    return Refusal{400, reason, std::move(text), {}};
  }
  if (tokens_ != nullptr) {
    std::optional<Refusal> refusal =
        CheckAccessToken(query.access_token, query.peer.value_or(""), admission);
    if (refusal) return refusal;
    admission->peer = admission->identity.token->subject;
    admission->registry_token = SubjectRegistryToken(admission->peer);
    return std::nullopt;
  }
  admission->peer = query.peer ? std::move(*query.peer) : RandomPeerId();
  admission->registry_token = ClientRegistryToken(query.resume_token);
  return std::nullopt;
}

std::optional<Server::Refusal> Server::AdmitPeerJs(lws* wsi, Admission* admission) const {
  admission->peerjs = true;
  // An argument too long to read is left out: the handshake then misses what it needs, and says
  // so in its ERROR frame.
  std::vector<std::string> arguments;
  ReadQueryArguments(wsi, &arguments);
  protocol::PeerJsHandshake& handshake = admission->peerjs_handshake;
  admission->peerjs_refusal = protocol::ReadPeerJsHandshake(
      std::vector<std::string_view>(arguments.begin(), arguments.end()), config_.peerjs_key,
      &handshake, tokens_ != nullptr ? kMaxQueryArgumentBytes : protocol::kMaxPeerJsTokenLength);
  admission->registry_token = ClientRegistryToken(handshake.token);
  if (tokens_ == nullptr || admission->peerjs_refusal) return std::nullopt;
  // The peerjs client sends its `token` option as the token argument: there goes the JWT.
  std::optional<Refusal> refusal = CheckAccessToken(handshake.token, handshake.id, admission);
  if (refusal) return refusal;
  admission->registry_token = SubjectRegistryToken(handshake.id);
  return std::nullopt;
}

std::optional<Server::Refusal> Server::CheckAccessToken(const std::optional<std::string>& token,
                                                        std::string_view claimed,
                                                        Admission* admission) const {
  if (!token || token->empty()) {
    return Refusal{401, "unauthorized", "a connection token is required\n", "no token"};
  }
  std::string why;
  std::optional<TokenClaims> claims = tokens_->Verify(*token, SecondsSinceEpoch(), &why);
  if (!claims) return Refusal{401, "unauthorized", "the connection token is not valid\n", why};
  const bool valid_subject = admission->peerjs ? protocol::IsValidPeerJsId(claims->subject)
                                               : protocol::IsValidPeerId(claims->subject);
  if (!valid_subject) {
    return Refusal{401, "unauthorized", "the connection token is not valid\n",
                   "its subject is not a peer id"};
  }
  if (!claimed.empty() && claimed != claims->subject) {
    return Refusal{403, "forbidden-peer", "the connection token is for another peer id\n",
                   "the token's subject is another peer id"};
  }
  admission->identity.token = std::move(claims);
  return std::nullopt;
}

std::string Server::ClientAddressOf(lws* wsi) const {
  char peer[64];
  const char* text = lws_get_peer_simple(wsi, peer, sizeof(peer));
  const std::string forwarded_for =
      trusted_proxies_.empty() ? std::string()
                               : HeaderOf(wsi, WSI_TOKEN_X_FORWARDED_FOR, kMaxQueryArgumentBytes);
  return ClientAddress(text != nullptr ? text : "", forwarded_for, trusted_proxies_);
}

void Server::LogRefusal(const Refusal& refusal, const std::string& address) {
  long long suppressed = 0;
  if (!refusal_log_.Admit(LogThrottle::Clock::now(), &suppressed)) return;
  const std::string_view why = refusal.why.empty() ? refusal.reason : refusal.why;
  logger_.Info("handshake refused", {{"status", refusal.status},
                                     {"reason", refusal.reason},
                                     {"why", why},
                                     {"address", address},
                                     {"suppressed", suppressed}});
}

void Server::ForgetStaleAdmissions(uint64_t now_ms) {
  const uint64_t stale_ms = static_cast<uint64_t>(config_.handshake_timeout_seconds) * 2000;
  std::erase_if(admitted_,
                [&](const auto& entry) { return now_ms - entry.second.at_ms > stale_ms; });
}

}  // namespace switchboard::server
