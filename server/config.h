// The server's settings: command-line flags, each with an environment variable equivalent
// (12-factor, for Kubernetes): --expire-ms is also SWITCHBOARD_EXPIRE_MS. A flag beats its
// variable, which beats the default.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace switchboard::server {

struct Config {
  std::string host = "0.0.0.0";
  int port = 8080;
  std::string pod_id;  // defaults to $POD_NAME, then the hostname
  int expire_ms = 5000;
  int max_message_bytes = 65536;
  int max_queued_per_peer = 256;
  // What may wait for absent peers, per sender and for this pod's senders in all
  // (routing/queue_budget.h).
  int max_queued_per_sender = 1024;
  int max_queued_bytes_per_sender = 1 << 20;
  int max_queued = 65536;
  int max_queued_bytes = 64 << 20;
  int max_outbound_bytes = 1 << 20;
  int max_connections = 50000;
  int drain_seconds = 10;
  // Rebalancing after a scale-up (server/shed_controller.h): balanced within this percentage
  // of the mean, shedding at most this many thousandths of the mean per second (0: never), never
  // below this many connections, with this much jitter (percent).
  int rebalance_threshold_percent = 20;
  int rebalance_rate_permille = 5;
  int rebalance_min_connections = 50;
  int rebalance_jitter_percent = 25;
  int rate_limit = 100;
  int rate_burst = 200;
  int flood_strikes = 50;
  int handshake_timeout_seconds = 10;
  int ping_interval_seconds = 30;
  int ping_timeout_seconds = 10;
  std::string log_level = "info";
  std::string redis_url;       // empty: the embedded single-pod backend
  std::string redis_password;  // AUTH password when redis_url holds none
  std::string redis_prefix = "switchboard";
  bool redis_cluster = false;           // redis_url names a node of a Redis Cluster
  std::string redis_sentinels;          // host:port,... of Redis Sentinels (empty: no Sentinel)
  std::string redis_sentinel_master;    // the name they monitor the master under
  std::string redis_sentinel_password;  // the sentinels' own password (empty: none)

  // Whether the pods share peers through Redis (a URL, or Sentinel).
  bool uses_redis() const { return !redis_url.empty() || !redis_sentinels.empty(); }
  std::string peerjs_path = "/";  // PeerJS clients connect to <peerjs_path>peerjs
  std::string peerjs_key = "peerjs";
  bool peerjs_allow_discovery = false;
  int peerjs_alive_timeout_ms = 60000;
  std::string allowed_origins = "*";  // origin_allowlist.h
  int admin_port = -1;                // -1: /metrics, /healthz, /readyz on the public port
  // Connection tokens (token_verifier.h): off unless one of the two key files is set.
  std::string auth_jwt_secret_file;
  std::string auth_jwt_public_key_file;
  std::string auth_audience;
  std::string auth_issuer;
  int auth_leeway_seconds = 60;
  // TLS on the public port: both or neither.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Per client address (client_address.h, address_limits.h).
  int max_connections_per_ip = 200;
  int handshake_rate_per_ip = 20;
  int handshake_burst_per_ip = 100;
  std::string trusted_proxies;  // CIDRs whose X-Forwarded-For is believed

  // Whether connection tokens are required.
  bool auth_enabled() const {
    return !auth_jwt_secret_file.empty() || !auth_jwt_public_key_file.empty();
  }
  bool tls_enabled() const { return !tls_cert_file.empty(); }
};

// What the command line asks for.
enum class ConfigAction { kRun, kHelp, kError };

// Looks up an environment variable; returns nullptr when it is not set.
using EnvLookup = std::function<const char*(const char* name)>;

// Reads `args` (without the program name) and the environment into `config`. Returns kHelp for
// --help, kError with `error` set for an unknown flag, a missing or malformed value, or a value
// out of range. `hostname` is the pod id of last resort.
ConfigAction ParseConfig(const std::vector<std::string>& args, const EnvLookup& env,
                         const std::string& hostname, Config* config, std::string* error);

// The --help text: every flag, its variable, its default and what it does.
std::string HelpText();

}  // namespace switchboard::server
