#include "server/server.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include "protocol/peer_id.h"
#include "routing/embedded_registry.h"
#include "routing/redis_registry.h"
#include "server/http_endpoints.h"
#include "server/native_session.h"
#include "server/open_file_limit.h"
#include "server/peerjs_session.h"

namespace switchboard::server {

namespace {

constexpr size_t kRandomPeerIdLength = 20;
constexpr uint64_t kTickMs = 100;
// Each tick looks at one slice of the sessions: every session once a second (sliced_list.h).
constexpr size_t kTickSlices = 10;
// After the drain window, connections that have not finished closing get this much longer.
constexpr uint64_t kDrainGraceNs = 5'000'000'000ULL;
constexpr unsigned short kMaxHandshakeHeaderBytes = 16384;
// Refused handshakes come at an attacker's pace: at most this many log lines per window (10 a
// second on average, in bursts of up to 50).
constexpr int kRefusalLogLines = 50;
constexpr auto kRefusalLogWindow = std::chrono::seconds(5);

// What libwebsockets keeps for each connection: a pointer to its Session, set once the
// WebSocket is established.
struct SessionSlot {
  Session* session;
};

// libwebsockets' own log lines, as JSON lines like ours. Its log hook takes no user pointer, so
// this makes a throwaway Logger per line instead of reaching for a global one. It warns once per
// malformed request ("Missing URI in HTTP request", a failed TLS handshake), at whatever pace
// clients send them, so its warnings pass a throttle: the one static here, for that same reason.
void EmitLwsLog(int level, const char* line) {
  static LogThrottle throttle(20, std::chrono::seconds(10));
  long long suppressed = 0;
  const bool throttled = (level & (LLL_ERR | LLL_WARN)) != 0;  // not --log-level debug's lines
  if (throttled && !throttle.Admit(LogThrottle::Clock::now(), &suppressed)) return;
  std::string_view text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  Logger(LogLevel::kDebug)
      .Log((level & LLL_ERR) ? LogLevel::kError : LogLevel::kWarn, text,
           {{"source", "libwebsockets"}, {"suppressed", suppressed}});
}

// libwebsockets gives every connection a receive buffer of rx_buffer_size bytes (4096 when 0),
// and hands messages over in pieces of at most that size. At tens of thousands of idle
// connections those 4 KB were most of the server's memory (docs/benchmarks.md); with 512 bytes a
// 2 KB offer arrives in a few pieces, which Session reassembles (1 KB measured no faster).
// tx_packet_size must then be set, or every send() would be cut to rx_buffer_size.
constexpr size_t kReceiveBufferBytes = 512;
constexpr size_t kSendChunkBytes = 1 << 20;

const lws_protocols kProtocols[] = {
    {"switchboard", &Server::Callback, sizeof(SessionSlot), kReceiveBufferBytes, 0, nullptr,
     kSendChunkBytes},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

// The answer to GET <peerjs-path>/peers: the PeerJS ids among the routing keys the registry
// listed (nullopt when it could not be reached), with the request's CORS headers.
HttpResponse PeerListResponse(const std::optional<std::vector<std::string>>& keys,
                              const HttpHeaders& cors) {
  if (!keys) {
    return {503, "text/plain; charset=utf-8", "the routing backend is unreachable\n", cors};
  }
  std::vector<std::string> ids;
  for (const std::string& key : *keys) {
    if (std::optional<std::string> id = protocol::PeerJsIdFromRoutingKey(key)) {
      ids.push_back(std::move(*id));
    }
  }
  return {200, "application/json; charset=utf-8", protocol::PeerJsIdList(ids), cors};
}

// Whether the request says it carries a body: a Transfer-Encoding, or a Content-Length other
// than one "0" (a second Content-Length, whatever its value, counts as a body).
bool HasBody(lws* wsi) {
  if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) return true;
  if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0) return false;
  if (lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, 1) > 0) return true;
  char length[32];
  if (lws_hdr_copy(wsi, length, sizeof(length), WSI_TOKEN_HTTP_CONTENT_LENGTH) < 0) return true;
  return std::string_view(length) != "0";
}

// --allowed-origins, which Validate() has read once already.
ShedController::Policy RebalancePolicy(const Config& config) {
  ShedController::Policy policy;
  policy.threshold = config.rebalance_threshold_percent / 100.0;
  policy.max_rate = config.rebalance_rate_permille / 1000.0;
  policy.min_connections = static_cast<size_t>(config.rebalance_min_connections);
  policy.jitter = config.rebalance_jitter_percent / 100.0;
  return policy;
}

OriginAllowlist AllowlistOf(std::string_view list) {
  std::string error;
  return *OriginAllowlist::Parse(list, &error);
}

// --trusted-proxies, which Validate() has read once already.
ProxyList TrustedProxiesOf(std::string_view list) {
  std::string error;
  return *ParseTrustedProxies(list, &error);
}

}  // namespace

std::string Server::OriginOf(lws* wsi) {
  char origin[512];
  const int length = lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN);
  if (length > 0) return std::string(origin, static_cast<size_t>(length));
  // Longer than any origin (or unreadable): not one to let in, unless every origin is.
  return lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0 ? std::string("?") : std::string();
}

bool Server::OriginAllowed(std::string_view origin) const {
  return origin.empty() || origins_.Allows(origin);
}

Server::Server(Config config, Logger& logger)
    : config_(std::move(config)),
      logger_(logger),
      peerjs_ws_path_(PeerJsWebSocketPath(config_.peerjs_path)),
      origins_(AllowlistOf(config_.allowed_origins)),
      trusted_proxies_(TrustedProxiesOf(config_.trusted_proxies)),
      address_limits_({config_.max_connections_per_ip,
                       static_cast<double>(config_.handshake_rate_per_ip),
                       static_cast<double>(config_.handshake_burst_per_ip)}),
      refusal_log_(kRefusalLogLines, kRefusalLogWindow),
      socket_log_(kRefusalLogLines, kRefusalLogWindow),
      registry_(MakeRegistry()),
      session_env_{config_, *registry_, metrics_, logger_, native_parser_, peerjs_parser_, nullptr},
      rebalancer_(RebalancePolicy(config_), config_.pod_id, *registry_, metrics_, logger_) {
  metrics_.connections_shed["rebalance"] = 0;
  // Every error code and refusal reason is exported from the start, at zero, so that rate() and
  // alerts work before the first occurrence.
  for (auto code : {protocol::ErrorCode::kBadMessage, protocol::ErrorCode::kPeerUnavailable,
                    protocol::ErrorCode::kRateLimited, protocol::ErrorCode::kIdTaken,
                    protocol::ErrorCode::kUnavailable}) {
    metrics_.errors[std::string(protocol::ErrorCodeName(code))] = 0;
  }
  if (config_.auth_enabled()) {
    for (auto code : {protocol::ErrorCode::kUnauthorized, protocol::ErrorCode::kForbidden}) {
      metrics_.errors[std::string(protocol::ErrorCodeName(code))] = 0;
    }
  }
  metrics_.errors["peerjs-handshake"] = 0;
  for (const char* reason :
       {"bad-origin", "bad-peer-id", "bad-token", "bad-query", "draining", "full", "not-found",
        "unauthorized", "forbidden-peer", "too-many-connections", "too-many-handshakes"}) {
    metrics_.handshakes_refused[reason] = 0;
  }
}

Server::~Server() = default;

std::unique_ptr<routing::Registry> Server::MakeRegistry() {
  uv_loop_init(&loop_);
  const auto expire = std::chrono::milliseconds(config_.expire_ms);
  const auto max_queued = static_cast<size_t>(config_.max_queued_per_peer);
  const routing::QueueBudget::Limits budget{
      static_cast<size_t>(config_.max_queued_per_sender),
      static_cast<size_t>(config_.max_queued_bytes_per_sender),
      static_cast<size_t>(config_.max_queued), static_cast<size_t>(config_.max_queued_bytes)};
  if (!config_.uses_redis()) {
    return std::make_unique<routing::EmbeddedRegistry>(
        routing::EmbeddedRegistry::Options{expire, max_queued, budget});
  }
  std::string error;
  routing::RedisRegistry::Options options;
  if (!config_.redis_url.empty()) {
    options.address = *routing::ParseRedisUrl(config_.redis_url, &error);  // checked by ParseConfig
  }
  if (!config_.redis_sentinels.empty()) {
    options.sentinel = routing::RedisLink::Options::Sentinel{
        config_.redis_sentinel_master, *routing::ParseSentinelList(config_.redis_sentinels, &error),
        config_.redis_sentinel_password};
  }
  if (!config_.redis_password.empty()) options.address.password = config_.redis_password;
  options.prefix = config_.redis_prefix;
  options.cluster = config_.redis_cluster;
  options.pod_id = config_.pod_id;
  options.expire = expire;
  options.max_queued_per_peer = max_queued;
  options.queue_budget = budget;
  options.log = [this](bool warning, std::string_view message, std::string_view detail) {
    if (warning) {
      logger_.Warn(message, {{"why", detail}});
    } else {
      logger_.Info(message, {{"detail", detail}});
    }
  };
  redis_ = new routing::RedisRegistry(&loop_, std::move(options));
  return std::unique_ptr<routing::Registry>(redis_);
}

// The open-file limit fitted to --max-connections (open_file_limit.h), and shared out
// (descriptor_budget.h): where the limit is lower, --max-connections is lowered to fit under it.
void Server::FitOpenFileLimit() {
  const int64_t wanted = DescriptorsFor(config_.max_connections);
  const auto granted = static_cast<int64_t>(server::FitOpenFileLimit(static_cast<rlim_t>(wanted)));
  descriptors_ = BudgetDescriptors(granted, config_.max_connections);
  if (descriptors_.max_sessions < config_.max_connections) {
    logger_.Warn("the open-file limit caps connections below --max-connections",
                 {{"max_connections", config_.max_connections},
                  {"connections_allowed", static_cast<long long>(descriptors_.max_sessions)},
                  {"open_file_limit", static_cast<long long>(granted)}});
    config_.max_connections = static_cast<int>(descriptors_.max_sessions);
  }
  metrics_.connections_max = config_.max_connections;
}

// A socket just accepted, numbered `descriptor`: refused (closed at once) when it reaches the
// budget's ceiling for its port, so that accept() never meets the open-file limit.
bool Server::AdmitSocket(lws* listener, int descriptor) {
  const bool admin = admin_vhost_ != nullptr && lws_get_vhost(listener) == admin_vhost_;
  const int64_t ceiling = admin ? descriptors_.admin_ceiling : descriptors_.public_ceiling;
  if (descriptor < ceiling) return true;
  ++metrics_.sockets_refused;
  long long suppressed = 0;
  if (socket_log_.Admit(LogThrottle::Clock::now(), &suppressed)) {
    logger_.Warn("socket refused: no descriptor to spare",
                 {{"port", admin ? "admin" : "public"},
                  {"descriptor", descriptor},
                  {"ceiling", static_cast<long long>(ceiling)},
                  {"suppressed", suppressed}});
  }
  return false;
}

int Server::Run() {
  // Signals are handled from before the first connection can arrive: a SIGTERM in between
  // must drain, not kill.
  StartOwnHandles();
  FitOpenFileLimit();
  const bool keys_loaded = LoadTokenVerifier() && CheckTlsCertificate();
  if (!keys_loaded || !StartLibwebsockets()) {
    if (keys_loaded) {
      logger_.Error(
          "cannot listen",
          {{"host", config_.host}, {"port", config_.port}, {"admin_port", config_.admin_port}});
    }
    registry_->Close();
    CloseOwnHandles();
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
    return 1;
  }
  const int port = lws_get_vhost_listen_port(lws_get_vhost_by_name(context_, "default"));
  const std::string url = std::string(tls_ ? "wss://" : "ws://") + config_.host + ":" +
                          std::to_string(port) + std::string(kWebSocketPath);
  logger_.Info(
      "listening",
      {{"host", config_.host},
       {"port", port},
       {"admin_port", admin_vhost_ != nullptr ? lws_get_vhost_listen_port(admin_vhost_) : port},
       {"pod", config_.pod_id},
       {"url", url},
       {"routing", redis_ != nullptr ? "redis" : "embedded"},
       {"auth", config_.auth_enabled() ? "jwt" : "none"},
       {"tls", tls_ ? "on" : "off"}});
  if (redis_ != nullptr) redis_->Start();

  // Runs until Shutdown() has destroyed the context and closed every handle.
  uv_run(&loop_, UV_RUN_DEFAULT);
  // The second call frees what could not be freed inside the loop; if libwebsockets already
  // freed the context, it has set context_ to nullptr (info.pcontext) and this does nothing.
  lws_context_destroy(context_);
  uv_loop_close(&loop_);
  logger_.Info("stopped");
  return 0;
}

const std::string& Server::TokenKeyPath() const {
  return config_.auth_jwt_secret_file.empty() ? config_.auth_jwt_public_key_file
                                              : config_.auth_jwt_secret_file;
}

std::unique_ptr<TokenVerifier> Server::ReadTokenKey(std::string* error) const {
  const TokenPolicy policy{config_.auth_audience, config_.auth_issuer, config_.auth_leeway_seconds};
  return config_.auth_jwt_secret_file.empty()
             ? TokenVerifier::FromPublicKeyFile(TokenKeyPath(), policy, error)
             : TokenVerifier::FromSecretFile(TokenKeyPath(), policy, error);
}

bool Server::LoadTokenVerifier() {
  if (!config_.auth_enabled()) return true;
  token_key_file_.emplace(std::vector<std::string>{TokenKeyPath()});
  std::string error;
  tokens_ = ReadTokenKey(&error);
  if (tokens_ == nullptr) {
    logger_.Error("cannot use the connection token key", {{"why", error}});
    return false;
  }
  session_env_.tokens = tokens_.get();
  metrics_.token_key_reloads.emplace("loaded", 0);
  metrics_.token_key_reloads.emplace("kept-old", 0);
  return true;
}

void Server::ReloadTokenKey(std::string_view trigger) {
  if (!token_key_file_) return;
  token_key_file_->Note();
  std::string error;
  std::unique_ptr<TokenVerifier> fresh = ReadTokenKey(&error);
  if (fresh == nullptr) {
    Metrics::Increment(metrics_.token_key_reloads, "kept-old");
    logger_.Warn("connection token key not reloaded: using the old one",
                 {{"trigger", trigger}, {"why", error}});
    return;
  }
  // Sessions reach the verifier through session_env_ each time, never keeping it.
  tokens_ = std::move(fresh);
  session_env_.tokens = tokens_.get();
  Metrics::Increment(metrics_.token_key_reloads, "loaded");
  logger_.Info("connection token key reloaded", {{"trigger", trigger}, {"file", TokenKeyPath()}});
}

bool Server::CheckTlsCertificate() {
  if (!config_.tls_enabled()) return true;
  tls_.emplace(config_.tls_cert_file, config_.tls_key_file);
  std::string why;
  if (!tls_->Check(&why)) {
    logger_.Error("cannot use the TLS certificate", {{"why", why}});
    return false;
  }
  metrics_.tls_expires_at = tls_->expires_at();
  metrics_.tls_reloads.emplace("loaded", 0);
  metrics_.tls_reloads.emplace("kept-old", 0);
  return true;
}

void Server::ReloadTlsCertificate(std::string_view trigger) {
  if (!tls_) return;
  std::string why;
  if (!tls_->Reload(&why)) {
    Metrics::Increment(metrics_.tls_reloads, "kept-old");
    logger_.Warn("TLS certificate not reloaded: serving the old one",
                 {{"trigger", trigger}, {"why", why}});
    return;
  }
  metrics_.tls_expires_at = tls_->expires_at();
  Metrics::Increment(metrics_.tls_reloads, "loaded");
  logger_.Info("TLS certificate reloaded",
               {{"trigger", trigger},
                {"cert", tls_->cert_path()},
                {"expires_at", static_cast<long long>(tls_->expires_at())}});
}

void Server::StartOwnHandles() {
  uv_signal_init(&loop_, &sigterm_);
  uv_signal_init(&loop_, &sigint_);
  uv_signal_init(&loop_, &sighup_);
  sigterm_.data = sigint_.data = sighup_.data = this;
  auto on_signal = [](uv_signal_t* handle, int signal) {
    static_cast<Server*>(handle->data)->OnSignal(signal);
  };
  uv_signal_start(&sigterm_, on_signal, SIGTERM);
  uv_signal_start(&sigint_, on_signal, SIGINT);
  uv_signal_start(&sighup_, on_signal, SIGHUP);
  uv_timer_init(&loop_, &tick_);
  tick_.data = this;
  auto on_tick = [](uv_timer_t* handle) { static_cast<Server*>(handle->data)->OnTick(); };
  uv_timer_start(&tick_, on_tick, kTickMs, kTickMs);
}

bool Server::StartLibwebsockets() {
  const int lws_levels = logger_.Enabled(LogLevel::kDebug)
                             ? LLL_ERR | LLL_WARN | LLL_NOTICE | LLL_INFO | LLL_DEBUG
                             : LLL_ERR | LLL_WARN;
  lws_set_log_level(lws_levels, EmitLwsLog);

  void* foreign_loops[] = {&loop_};
  lws_context_creation_info info{};
  info.port = config_.port;
  info.iface = config_.host == "0.0.0.0" ? nullptr : config_.host.c_str();
  info.protocols = kProtocols;
  info.user = this;
  // No LWS_SERVER_OPTION_VALIDATE_UTF8: Session::IsValidText checks whole messages faster.
  info.options =
      LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
  if (config_.host.find(':') == std::string::npos) info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
  info.foreign_loops = foreign_loops;
  info.timeout_secs = static_cast<unsigned int>(config_.handshake_timeout_seconds);
  info.timeout_secs_ah_idle = static_cast<unsigned int>(config_.handshake_timeout_seconds);
  info.keepalive_timeout = config_.handshake_timeout_seconds;
  // Without a policy libwebsockets applies its default one (ping after 5 minutes): a timer per
  // connection in one sorted list, re-sorted at each sign of life. Keepalive does that job.
  info.retry_and_idle_policy = &no_idle_policy_;
  // The request line and the headers kept while a handshake is read: room for a signed token of
  // up to 8 KB in the URL beside a browser's cookies (the default, 4 KB, is less than a token).
  info.max_http_header_data = kMaxHandshakeHeaderBytes;
  if (tls_) {
    // The same port serves wss:// and https://; a plain request on it fails its handshake.
    info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.ssl_cert_filepath = config_.tls_cert_file.c_str();
    info.ssl_private_key_filepath = config_.tls_key_file.c_str();
    info.alpn = "http/1.1";  // WebSockets over HTTP/2 (RFC 8441) are not served
  }
  info.pcontext = &context_;
  context_ = lws_create_context(&info);
  return context_ != nullptr && StartAdminListener();
}

bool Server::StartAdminListener() {
  if (config_.admin_port < 0) return true;
  lws_context_creation_info info{};
  info.port = config_.admin_port;
  info.iface = config_.host == "0.0.0.0" ? nullptr : config_.host.c_str();
  info.protocols = kProtocols;
  info.vhost_name = "admin";
  info.options = LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
  if (config_.host.find(':') == std::string::npos) info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
  info.keepalive_timeout = config_.handshake_timeout_seconds;
  info.retry_and_idle_policy = &no_idle_policy_;
  admin_vhost_ = lws_create_vhost(context_, &info);
  return admin_vhost_ != nullptr;
}

int Server::Callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
  auto* server = static_cast<Server*>(lws_context_user(lws_get_context(wsi)));
  if (server == nullptr) return lws_callback_http_dummy(wsi, reason, user, in, len);
  return server->OnCallback(wsi, reason, user, in, len);
}

int Server::OnCallback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
  auto* slot = static_cast<SessionSlot*>(user);
  switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
      return ConfirmUpgrade(wsi);
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
      return AdmitSocket(wsi, static_cast<int>(reinterpret_cast<intptr_t>(in))) ? 0 : 1;
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
      // The public listener's SSL_CTX, once, as its vhost is created: rotation loads into it.
      if (tls_ && !tls_->attached()) {
        auto* context = static_cast<SSL_CTX*>(user);
        SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
        tls_->Attach(context);
      }
      return 0;
    case LWS_CALLBACK_HTTP:
      return ServeHttp(wsi, std::string_view(static_cast<const char*>(in), len));
    case LWS_CALLBACK_HTTP_WRITEABLE:
      return OnHttpWritable(wsi);
    case LWS_CALLBACK_CLOSED_HTTP:
      pending_http_.erase(wsi);
      return 0;
    case LWS_CALLBACK_WSI_DESTROY:
      // An upgrade accepted that libwebsockets then failed never becomes ESTABLISHED: its
      // admission must not pass to a later connection that gets the same address.
      admitted_.erase(wsi);
      return lws_callback_http_dummy(wsi, reason, user, in, len);
    case LWS_CALLBACK_ESTABLISHED:
      return OnEstablished(wsi, user) ? 0 : -1;
    case LWS_CALLBACK_RECEIVE:
      if (slot == nullptr || slot->session == nullptr) return -1;
      slot->session->Heard(uv_now(&loop_));  // any traffic proves the peer alive, not only pongs
      return slot->session->OnReceive(static_cast<const char*>(in), len) ? 0 : -1;
    case LWS_CALLBACK_RECEIVE_PONG:
      if (slot != nullptr && slot->session != nullptr) slot->session->Heard(uv_now(&loop_));
      return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
      if (slot == nullptr || slot->session == nullptr) return 0;
      return slot->session->OnWritable() ? 0 : -1;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
      if (slot == nullptr || slot->session == nullptr) return 0;
      // When we wrote the close frame ourselves (Session::SendCloseFrame), this is the client's
      // answer to it; libwebsockets does not know ours went out and would echo a second close,
      // which browsers reject ("Close received after close") and report as 1006. Nonzero: just
      // close the connection.
      if (slot->session->close_sent()) return 1;
      slot->session->OnClientClosing();
      return 0;
    case LWS_CALLBACK_CLOSED:
      if (slot != nullptr && slot->session != nullptr) {
        slot->session->OnClosed();
        address_limits_.Closed(AddressLimitKey(slot->session->address()));
        sessions_.Remove(slot->session);
        delete slot->session;
        slot->session = nullptr;
      }
      return 0;
    default:
      return lws_callback_http_dummy(wsi, reason, user, in, len);
  }
}

bool Server::OnEstablished(lws* wsi, void* user) {
  auto it = admitted_.find(wsi);
  if (it == admitted_.end()) return false;  // every upgrade is checked first; cannot happen
  Admission admission = std::move(it->second);
  admitted_.erase(it);
  address_limits_.Opened(AddressLimitKey(admission.identity.address), AddressLimits::Clock::now());
  Session* session = nullptr;
  if (admission.peerjs) {
    session = new PeerJsSession(
        session_env_, wsi, std::move(admission.identity), std::move(admission.peerjs_handshake),
        std::move(admission.peerjs_refusal), std::move(admission.registry_token));
  } else {
    session = new NativeSession(session_env_, wsi, std::move(admission.identity),
                                std::move(admission.peer), std::move(admission.registry_token));
  }
  static_cast<SessionSlot*>(user)->session = session;
  sessions_.Add(session);
  session->Heard(uv_now(&loop_));
  session->Start();
  if (draining_) session->Close(LWS_CLOSE_STATUS_GOINGAWAY, "draining");
  return true;
}

int Server::ServeHttp(lws* wsi, std::string_view path) {
  // Every route takes GET (or HEAD) without a body. Anything else is answered and the connection
  // closed (returning nonzero: libwebsockets flushes the answer first), since what follows on it
  // may be a body that a proxy in front framed another way and would be read as a request (two
  // Content-Length headers: request smuggling).
  const bool get_or_head = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0 ||
                           lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0;
  if (!get_or_head) {
    WriteHttpResponse(wsi, 405, "text/plain; charset=utf-8", "only GET and HEAD are served\n");
    return -1;
  }
  if (HasBody(wsi)) {
    WriteHttpResponse(wsi, 400, "text/plain; charset=utf-8", "a request here takes no body\n");
    return -1;
  }
  const bool on_admin_port = admin_vhost_ != nullptr && lws_get_vhost(wsi) == admin_vhost_;
  if (on_admin_port && !IsOperationsPath(path)) {
    return FinishHttp(wsi, NotServedHere("/healthz, /readyz and /metrics"));
  }
  if (admin_vhost_ != nullptr && !on_admin_port && IsOperationsPath(path)) {
    return FinishHttp(wsi, NotServedHere("WebSockets and the PeerJS routes (see --admin-port)"));
  }
  if (const std::optional<PeerJsHttpRoute> route = MatchPeerJsHttp(path, config_.peerjs_path)) {
    return ServePeerJsHttp(wsi, *route);
  }
  ServerHealth health{draining_, IsNearlyFull(metrics_.connections_open, config_.max_connections),
                      [this] { return metrics_.Render(registry_->stats()); }};
  HttpResponse response = RespondToGet(path, health);
  if (path == kWebSocketPath) {
    response = {400, "text/plain; charset=utf-8", "/ws expects a WebSocket upgrade\n", {}};
  }
  return FinishHttp(wsi, response);
}

int Server::ServePeerJsHttp(lws* wsi, PeerJsHttpRoute route) {
  // Only a listed origin is named: a page elsewhere gets the answer, but its browser hides it.
  HttpHeaders cors = {{"vary", "Origin"}};
  if (const std::string origin = OriginOf(wsi); !origin.empty() && OriginAllowed(origin)) {
    cors.emplace_back("access-control-allow-origin", origin);
  }
  switch (route) {
    case PeerJsHttpRoute::kInfo:
      return FinishHttp(wsi, {200, "application/json; charset=utf-8",
                              std::string(protocol::PeerJsServerInfo()), cors});
    case PeerJsHttpRoute::kId:
      return FinishHttp(wsi, {200, "text/html; charset=utf-8", RandomUuid(), cors});
    case PeerJsHttpRoute::kPeers:
      break;
  }
  if (!config_.peerjs_allow_discovery) {
    return FinishHttp(wsi, {401, "text/plain; charset=utf-8", "Unauthorized", cors});
  }
  const uint64_t serial = ++last_http_serial_;
  pending_http_[wsi] = PendingHttp{serial, std::nullopt};
  registry_->ListPeers([this, wsi, serial, cors](std::optional<std::vector<std::string>> keys) {
    auto it = pending_http_.find(wsi);
    // The client went away meanwhile; libwebsockets may even have given its address to a newer
    // connection, whose own request (another serial) this answer must not reach.
    if (shut_down_ || it == pending_http_.end() || it->second.serial != serial) return;
    it->second.response = PeerListResponse(keys, cors);
    lws_callback_on_writable(wsi);
  });
  return 0;
}

int Server::OnHttpWritable(lws* wsi) {
  auto it = pending_http_.find(wsi);
  if (it == pending_http_.end() || !it->second.response) return 0;
  const HttpResponse response = std::move(*it->second.response);
  pending_http_.erase(it);
  return FinishHttp(wsi, response);
}

int Server::FinishHttp(lws* wsi, const HttpResponse& response) {
  if (!WriteHttpResponse(wsi, response.status, response.content_type, response.body,
                         response.headers)) {
    return -1;
  }
  return lws_http_transaction_completed(wsi) == 0 ? 0 : -1;
}

bool Server::WriteHttpResponse(lws* wsi, int status, std::string_view content_type,
                               std::string_view body, const HttpHeaders& extra_headers) {
  unsigned char headers[LWS_PRE + 1024];
  unsigned char* start = headers + LWS_PRE;
  unsigned char* p = start;
  unsigned char* end = headers + sizeof(headers) - 1;
  const std::string type(content_type);
  if (lws_add_http_common_headers(wsi, static_cast<unsigned int>(status), type.c_str(), body.size(),
                                  &p, end) != 0) {
    return false;
  }
  for (const auto& [name, value] : extra_headers) {
    const std::string name_colon = name + ":";
    if (lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(name_colon.c_str()),
                                    reinterpret_cast<const unsigned char*>(value.data()),
                                    static_cast<int>(value.size()), &p, end) != 0) {
      return false;
    }
  }
  if (lws_finalize_write_http_header(wsi, start, &p, end) != 0) return false;
  // A HEAD request gets the headers of its GET, content-length included, and no body.
  if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0) body = {};
  std::string buffer(LWS_PRE, '\0');
  buffer.append(body);
  auto* data = reinterpret_cast<unsigned char*>(buffer.data() + LWS_PRE);
  return lws_write(wsi, data, body.size(), LWS_WRITE_HTTP_FINAL) == static_cast<int>(body.size());
}

void Server::OnSignal(int signal) {
  if (signal == SIGHUP) {
    ReloadTlsCertificate("SIGHUP");
    ReloadTokenKey("SIGHUP");
    return;
  }
  if (draining_) {
    logger_.Warn("second signal: exiting at once", {{"signal", signal}});
    std::_Exit(1);
  }
  logger_.Info("draining", {{"signal", signal},
                            {"connections", static_cast<long long>(sessions_.size())},
                            {"drain_seconds", config_.drain_seconds}});
  BeginDrain();
}

void Server::BeginDrain() {
  draining_ = true;
  metrics_.draining = true;
  drain_started_ns_ = uv_hrtime();
  drain_total_ = sessions_.size();
  CloseSomeForDrain();
}

// Closes connections at an even pace over --drain-seconds, so that their clients do not all
// reconnect to the other pods in the same instant.
void Server::CloseSomeForDrain() {
  const double window_ns = static_cast<double>(config_.drain_seconds) * 1e9;
  const double elapsed_ns = static_cast<double>(uv_hrtime() - drain_started_ns_);
  const double share = window_ns <= 0 ? 1.0 : std::min(1.0, elapsed_ns / window_ns + 0.001);
  const auto due = static_cast<size_t>(std::ceil(share * static_cast<double>(drain_total_)));
  for (auto it = sessions_.begin(); it != sessions_.end() && drain_closed_ < due; ++it) {
    if ((*it)->closing()) continue;  // already on its way out: counted when it was asked
    (*it)->Close(LWS_CLOSE_STATUS_GOINGAWAY, "draining");
    ++drain_closed_;
  }
}

void Server::OnTick() {
  const routing::Clock::time_point now = routing::Clock::now();
  registry_->Tick(now);
  const uint64_t now_ms = uv_now(&loop_);
  if (++ticks_ % kTickSlices == 0) {  // once a second
    ForgetStaleAdmissions(now_ms);
    address_limits_.Sweep(AddressLimits::Clock::now());
    if (tls_ && tls_->FilesChanged()) ReloadTlsCertificate("files changed");
    if (token_key_file_ && token_key_file_->Changed()) ReloadTokenKey("file changed");
    rebalancer_.Tick(now, OpenConnections(), draining_,
                     [this](size_t n) { return ShedConnections(n); });
  }
  sessions_.VisitSlice(kTickSlices, [&](Session* session) {
    session->CheckKeepalive(now_ms);
    session->Tick(now);
  });
  if (!draining_ || shut_down_) return;
  CloseSomeForDrain();
  const uint64_t deadline_ns =
      static_cast<uint64_t>(config_.drain_seconds) * 1'000'000'000ULL + kDrainGraceNs;
  // The registry too: what the last connections sent, or left unwritten, may still be on its way.
  if ((sessions_.empty() && registry_->Settled()) ||
      uv_hrtime() - drain_started_ns_ > deadline_ns) {
    Shutdown();
  }
}

size_t Server::OpenConnections() const {
  size_t open = 0;
  for (const Session* session : sessions_) open += session->closing() ? 0 : 1;
  return open;
}

size_t Server::ShedConnections(size_t n) {
  size_t closed = 0;
  for (size_t seen = 0; seen < sessions_.size() && closed < n; ++seen) {
    shed_cursor_ = (shed_cursor_ + 1) % sessions_.size();
    Session* session = *(sessions_.begin() + static_cast<std::ptrdiff_t>(shed_cursor_));
    if (session->closing()) continue;
    session->Shed();
    ++closed;
  }
  return closed;
}

void Server::Shutdown() {
  shut_down_ = true;
  logger_.Info("drained", {{"connections_left", static_cast<long long>(sessions_.size())}});
  // Destroying the context from inside the loop lets libwebsockets finish closing its libuv
  // handles as the loop runs out; with our own handles closed too, uv_run then returns.
  lws_context_destroy(context_);
  registry_->Close();
  CloseOwnHandles();
}

void Server::CloseOwnHandles() {
  for (auto* handle :
       {reinterpret_cast<uv_handle_t*>(&sigterm_), reinterpret_cast<uv_handle_t*>(&sigint_),
        reinterpret_cast<uv_handle_t*>(&sighup_), reinterpret_cast<uv_handle_t*>(&tick_)}) {
    uv_close(handle, nullptr);
  }
}

std::string Server::RandomUuid() const {
  std::array<uint8_t, 16> random;
  uv_random(nullptr, nullptr, random.data(), random.size(), 0, nullptr);
  return FormatUuidV4(random);
}

std::string Server::RandomPeerId() const {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
  unsigned char random[kRandomPeerIdLength];
  uv_random(nullptr, nullptr, random, sizeof(random), 0, nullptr);
  std::string id(kRandomPeerIdLength, 'A');
  for (size_t i = 0; i < kRandomPeerIdLength; ++i) id[i] = kAlphabet[random[i] % 64];
  return id;
}

}  // namespace switchboard::server
