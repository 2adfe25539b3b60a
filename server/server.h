// The Switchboard process: one libuv loop that runs libwebsockets (as a foreign loop), the
// routing backend's timers, the signal handlers and the drain.
#pragma once

#include <libwebsockets.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "protocol/native_protocol.h"
#include "protocol/peerjs_protocol.h"
#include "routing/redis_registry.h"
#include "routing/registry.h"
#include "server/address_limits.h"
#include "server/client_address.h"
#include "server/config.h"
#include "server/descriptor_budget.h"
#include "server/http_endpoints.h"
#include "server/log_throttle.h"
#include "server/logger.h"
#include "server/metrics.h"
#include "server/origin_allowlist.h"
#include "server/peerjs_http.h"
#include "server/rebalancer.h"
#include "server/session.h"
#include "server/sliced_list.h"
#include "server/tls_certificate.h"
#include "server/token_verifier.h"

namespace switchboard::server {

class Server {
 public:
  // A server for `config`, logging to `logger` (not owned). Nothing is opened until Run.
  Server(Config config, Logger& logger);
  ~Server();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Listens, serves until a signal's drain completes, cleans up. Returns the process exit code:
  // 0 after a drain, 1 when the server could not start.
  int Run();

  // The libwebsockets protocol callback; dispatches to the Server in the context's user data.
  static int Callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len);

 private:
  // What the upgrade check learned about a WebSocket, kept until it is established.
  struct Admission {
    SessionIdentity identity;
    bool peerjs = false;
    std::string peer;            // native: the id it claims
    std::string registry_token;  // what proves a reconnect is the same client (takeover)
    protocol::PeerJsHandshake peerjs_handshake;
    std::optional<std::string> peerjs_refusal;  // the ERROR frame's message, if refused
    uint64_t at_ms = 0;                         // when it was checked (the loop's clock)
  };

  // Why a handshake is refused: the HTTP status, a metric label, the text sent to the client and,
  // for the log only, the detail behind it (never a token).
  struct Refusal {
    int status;
    std::string_view reason;
    std::string text;
    std::string why;
  };

  // Initialises the loop and builds the routing backend the config asks for.
  std::unique_ptr<routing::Registry> MakeRegistry();

  // With --auth-*: reads the key. False (logged) when it cannot be used.
  bool LoadTokenVerifier();
  // The file of the token key, and a verifier for what it holds now (nullptr with `error` set).
  const std::string& TokenKeyPath() const;
  std::unique_ptr<TokenVerifier> ReadTokenKey(std::string* error) const;
  // Reads the token key again (it changed, or SIGHUP), keeping the old one if the new cannot be
  // used. Open connections keep the claims they were admitted with.
  void ReloadTokenKey(std::string_view trigger);
  // With --tls-*: checks the certificate and key. False (logged) when they cannot be used.
  bool CheckTlsCertificate();
  // Loads the certificate files again (they changed, or SIGHUP), keeping the old pair if the
  // new one is unusable. `trigger` is for the log.
  void ReloadTlsCertificate(std::string_view trigger);

  int OnCallback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len);

  // Checks a WebSocket upgrade (server_upgrade.cc). Returns 0 to accept it, having kept its
  // Admission for OnEstablished, or 1 after writing a refusal.
  int ConfirmUpgrade(lws* wsi);
  std::optional<Refusal> CheckUpgrade(lws* wsi, Admission* admission);
  std::optional<Refusal> AdmitNative(lws* wsi, Admission* admission) const;
  std::optional<Refusal> AdmitPeerJs(lws* wsi, Admission* admission) const;
  // With --auth-*: checks `token` and keeps its claims in `admission`. `claimed` is the id the
  // client asks for ("" when it names none); it must be the token's subject.
  std::optional<Refusal> CheckAccessToken(const std::optional<std::string>& token,
                                          std::string_view claimed, Admission* admission) const;
  // The client's address (client_address.h), from the socket and X-Forwarded-For.
  std::string ClientAddressOf(lws* wsi) const;
  // One info line per refusal, at most 50 in 5 seconds (log_throttle.h).
  void LogRefusal(const Refusal& refusal, const std::string& address);
  // Forgets the admissions of upgrades that never completed (the client went away in between).
  void ForgetStaleAdmissions(uint64_t now_ms);

  static constexpr std::string_view kWebSocketPath = "/ws";

  // Answers an HTTP request. Returns what the callback should return.
  int ServeHttp(lws* wsi, std::string_view path);

  // Answers a request to the PeerJS endpoint, with the CORS headers `peer` sends. The peer list
  // is answered later, from OnHttpWritable, once the registry has it.
  int ServePeerJsHttp(lws* wsi, PeerJsHttpRoute route);
  // The request's Origin header ("" without one), and whether --allowed-origins lets it in (a
  // request without one is not a browser's, and is).
  static std::string OriginOf(lws* wsi);
  bool OriginAllowed(std::string_view origin) const;

  // Writes the response a PeerJS request waited for, if it has arrived.
  int OnHttpWritable(lws* wsi);

  // Writes a complete HTTP response (headers and body) and ends the transaction. Returns what the
  // callback should return.
  int FinishHttp(lws* wsi, const HttpResponse& response);

  // Writes a complete HTTP response (headers and body). Returns false if the socket failed.
  bool WriteHttpResponse(lws* wsi, int status, std::string_view content_type, std::string_view body,
                         const HttpHeaders& extra_headers = {});

  // Makes the session of an upgrade ConfirmUpgrade accepted. False (close it) if there is none.
  bool OnEstablished(lws* wsi, void* user);
  void OnSignal(int signal);
  void OnTick();
  void BeginDrain();
  void CloseSomeForDrain();
  // Starts the signal handlers and the housekeeping timer.
  void StartOwnHandles();
  void CloseOwnHandles();

  void FitOpenFileLimit();
  // Whether to keep a socket `listener` just accepted as `descriptor` (descriptor_budget.h).
  bool AdmitSocket(lws* listener, int descriptor);
  // Creates the libwebsockets context on our loop and starts listening. False on failure.
  bool StartLibwebsockets();
  // With --admin-port, a second listener for the operations routes. False on failure.
  bool StartAdminListener();

  void Shutdown();

  // Closes up to `n` open connections that are not closing already, for rebalancing, going on
  // round the sessions from where the last call stopped. Returns how many it closed.
  size_t ShedConnections(size_t n);
  // Connections open and not closing.
  size_t OpenConnections() const;

  std::string RandomPeerId() const;
  std::string RandomUuid() const;

  Config config_;
  Logger& logger_;
  uv_loop_t loop_{};
  uv_signal_t sigterm_{};
  uv_signal_t sigint_{};
  uv_signal_t sighup_{};
  uv_timer_t tick_{};
  lws_context* context_ = nullptr;
  lws_vhost* admin_vhost_ = nullptr;       // with --admin-port: where /metrics and the probes are
  const lws_retry_bo_t no_idle_policy_{};  // all zero: no libwebsockets ping (see Keepalive)
  Metrics metrics_;
  protocol::NativeParser native_parser_;
  protocol::PeerJsParser peerjs_parser_;
  const std::string peerjs_ws_path_;
  const OriginAllowlist origins_;    // --allowed-origins
  const ProxyList trusted_proxies_;  // --trusted-proxies
  AddressLimits address_limits_;     // --max-connections-per-ip, --handshake-*-per-ip
  LogThrottle refusal_log_;
  LogThrottle socket_log_;                        // sockets refused at accept
  DescriptorBudget descriptors_{};                // from Run on
  std::unique_ptr<TokenVerifier> tokens_;         // with --auth-*, from Run on
  std::optional<FileWatch> token_key_file_;       // with --auth-*
  std::optional<TlsCertificate> tls_;             // with --tls-*
  std::unordered_map<lws*, Admission> admitted_;  // upgrades accepted, not yet established
  // Set by MakeRegistry() while registry_ is initialised, so declared before it.
  routing::RedisRegistry* redis_ = nullptr;  // registry_, when it is the Redis backend
  std::unique_ptr<routing::Registry> registry_;
  SessionEnvironment session_env_;
  Rebalancer rebalancer_;
  size_t shed_cursor_ = 0;  // where the next connections to shed are looked for in sessions_
  SlicedList<Session> sessions_;
  // An HTTP request waiting for the registry (the PeerJS peer list). Its serial tells it from a
  // later request on a connection that took the same lws address once the first one closed: an
  // answer fills in only the request it was asked for.
  struct PendingHttp {
    uint64_t serial;
    std::optional<HttpResponse> response;  // once the registry has answered
  };
  std::unordered_map<lws*, PendingHttp> pending_http_;
  uint64_t last_http_serial_ = 0;
  uint64_t ticks_ = 0;
  bool draining_ = false;
  bool shut_down_ = false;
  uint64_t drain_started_ns_ = 0;
  size_t drain_total_ = 0;  // sessions open when the drain began
  size_t drain_closed_ = 0;
};

}  // namespace switchboard::server
