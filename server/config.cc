#include "server/config.h"

#include <cctype>
#include <charconv>
#include <sstream>
#include <string_view>

#include "routing/redis_url.h"
#include "routing/sentinel_resolver.h"
#include "server/client_address.h"
#include "server/origin_allowlist.h"

namespace switchboard::server {

namespace {

// One flag: how to name it, document it and store it. Exactly one of `text`, `number` and
// `boolean` is set. A boolean flag alone means true; it also takes =true or =false.
struct Flag {
  const char* name;  // without the leading dashes
  const char* help;
  std::string Config::*text = nullptr;
  int Config::*number = nullptr;
  int min = 0;
  int max = 0;
  bool Config::*boolean = nullptr;
};

const std::vector<Flag>& Flags() {
  static const std::vector<Flag> kFlags = {
      {"host", "address to listen on", &Config::host},
      {"port", "TCP port for WebSocket and HTTP (0 picks a free one)", nullptr, &Config::port, 0,
       65535},
      {"pod-id", "this pod's name in logs and routing (default: $POD_NAME, else the hostname)",
       &Config::pod_id},
      {"expire-ms", "how long a message waits for a peer that is not connected", nullptr,
       &Config::expire_ms, 1, 3600000},
      {"max-message-bytes", "largest message accepted; larger ones close with 1009", nullptr,
       &Config::max_message_bytes, 64, 16 << 20},
      {"max-queued-per-peer", "messages that may wait for one absent peer", nullptr,
       &Config::max_queued_per_peer, 1, 1000000},
      {"max-queued-per-sender",
       "messages one client may have waiting for absent peers (within --expire-ms)", nullptr,
       &Config::max_queued_per_sender, 1, 1000000},
      {"max-queued-bytes-per-sender", "bytes of those messages, per client", nullptr,
       &Config::max_queued_bytes_per_sender, 1024, 1 << 30},
      {"max-queued", "messages this pod's clients may have waiting for absent peers, in all",
       nullptr, &Config::max_queued, 1, 100000000},
      {"max-queued-bytes", "bytes of those messages, in all", nullptr, &Config::max_queued_bytes,
       65536, 1 << 30},
      {"max-outbound-bytes",
       "bytes that may wait to be written to one client before it is closed with 1008", nullptr,
       &Config::max_outbound_bytes, 4096, 1 << 30},
      {"max-connections",
       "connections held at once: more are refused (503) and /readyz fails from 95% of it; sets "
       "the open-file limit, by which libwebsockets sizes its tables",
       nullptr, &Config::max_connections, 16, 1000000},
      {"drain-seconds", "on SIGTERM, spread closing the connections over this many seconds",
       nullptr, &Config::drain_seconds, 0, 3600},
      {"rebalance-threshold-percent",
       "with Redis: pods are balanced when each holds the mean number of connections give or take "
       "this percentage; out of balance, pods above the mean close some (1012) so that their "
       "clients reconnect elsewhere",
       nullptr, &Config::rebalance_threshold_percent, 1, 1000},
      {"rebalance-rate-permille",
       "thousandths of the mean a pod closes per second at most while out of balance (0: never "
       "rebalance)",
       nullptr, &Config::rebalance_rate_permille, 0, 1000},
      {"rebalance-min-connections", "a pod is never rebalanced below this many connections",
       nullptr, &Config::rebalance_min_connections, 0, 1000000},
      {"rebalance-jitter-percent",
       "how much each second's share of the rate varies at random, so that pods do not act in "
       "step",
       nullptr, &Config::rebalance_jitter_percent, 0, 100},
      {"rate-limit", "messages per second one connection may send", nullptr, &Config::rate_limit, 1,
       1000000},
      {"rate-burst", "messages one connection may send in a burst", nullptr, &Config::rate_burst, 1,
       1000000},
      {"flood-strikes", "refused messages within 10 s after which a connection is closed (1008)",
       nullptr, &Config::flood_strikes, 1, 1000000},
      {"handshake-timeout-seconds", "time a new connection has to complete its handshake", nullptr,
       &Config::handshake_timeout_seconds, 1, 3600},
      {"ping-interval-seconds", "idle time after which a connection is pinged", nullptr,
       &Config::ping_interval_seconds, 1, 3600},
      {"ping-timeout-seconds", "time a pinged connection has to answer before it is dropped",
       nullptr, &Config::ping_timeout_seconds, 1, 3600},
      {"log-level", "least severe level logged: debug, info, warn or error", &Config::log_level},
      {"redis-url",
       "redis://[[user]:password@]host[:port][/db]: share peers with other pods through Redis "
       "(default: none, single pod)",
       &Config::redis_url},
      {"redis-password",
       "password for Redis AUTH when --redis-url holds none; prefer the variable, which stays out "
       "of the process list (default: none)",
       &Config::redis_password},
      {"redis-prefix", "prefix of every Redis key and channel", &Config::redis_prefix},
      {"redis-cluster",
       "--redis-url names one node of a Redis Cluster: learn the others from it and use sharded "
       "pub/sub",
       nullptr, nullptr, 0, 0, &Config::redis_cluster},
      {"redis-sentinels",
       "host:port,... of Redis Sentinels: use the master they name (--redis-sentinel-master), "
       "asking them again on every reconnect; --redis-url then gives only the user, password and "
       "db (default: none)",
       &Config::redis_sentinels},
      {"redis-sentinel-master", "the name the sentinels monitor the master under",
       &Config::redis_sentinel_master},
      {"redis-sentinel-password",
       "password of the sentinels themselves, if they require one (default: none); prefer the "
       "variable",
       &Config::redis_sentinel_password},
      {"peerjs-path",
       "where the PeerJS endpoint is mounted: WebSocket <path>peerjs, HTTP <path> and "
       "<path><key>/id",
       &Config::peerjs_path},
      {"peerjs-key", "the key PeerJS clients must present", &Config::peerjs_key},
      {"peerjs-allow-discovery", "answer GET <path><key>/peers with every connected PeerJS id",
       nullptr, nullptr, 0, 0, &Config::peerjs_allow_discovery},
      {"peerjs-alive-timeout-ms", "close a PeerJS client that sent nothing for this long", nullptr,
       &Config::peerjs_alive_timeout_ms, 1000, 3600000},
      {"admin-port",
       "serve /metrics, /healthz and /readyz on this port instead of the public one (0 picks a "
       "free one; default: off, everything on --port)",
       nullptr, &Config::admin_port, 0, 65535},
      {"allowed-origins",
       "web origins whose pages may connect and read the HTTP routes (CORS): * or a "
       "comma-separated "
       "list of scheme://host[:port], * in the host matching any name (https://*.example.com); "
       "requests without an Origin are always let in",
       &Config::allowed_origins},
      {"auth-jwt-secret-file",
       "require connection tokens (JWT) signed with the HMAC secret in this file (HS256/384/512), "
       "reloaded when it changes or on SIGHUP; default: none, anyone may connect",
       &Config::auth_jwt_secret_file},
      {"auth-jwt-public-key-file",
       "require connection tokens (JWT) signed by the private half of an RSA or EC public key "
       "in this PEM file (RS256/384/512, ES256/384/512; up to 8 keys, for a rotation), reloaded "
       "when it changes or on SIGHUP; default: none",
       &Config::auth_jwt_public_key_file},
      {"auth-audience", "connection tokens must name this in \"aud\" (default: not checked)",
       &Config::auth_audience},
      {"auth-issuer", "connection tokens must have this \"iss\" (default: not checked)",
       &Config::auth_issuer},
      {"auth-leeway-seconds", "clock skew allowed when checking a token's exp and nbf", nullptr,
       &Config::auth_leeway_seconds, 0, 3600},
      {"tls-cert-file",
       "serve wss:// and https:// on --port with the certificate chain in this PEM file, reloaded "
       "when it changes or on SIGHUP (default: none, plain ws://)",
       &Config::tls_cert_file},
      {"tls-key-file", "the private key of --tls-cert-file (PEM)", &Config::tls_key_file},
      {"max-connections-per-ip",
       "connections one client address may hold at once; more are refused (429)", nullptr,
       &Config::max_connections_per_ip, 1, 1000000},
      {"handshake-rate-per-ip", "WebSocket handshakes per second one client address may make",
       nullptr, &Config::handshake_rate_per_ip, 1, 1000000},
      {"handshake-burst-per-ip", "WebSocket handshakes one client address may make in a burst",
       nullptr, &Config::handshake_burst_per_ip, 1, 1000000},
      {"trusted-proxies",
       "comma-separated CIDRs of proxies whose X-Forwarded-For is believed: the client is the "
       "right-most address in it that is not one of them (default: none, the socket's address)",
       &Config::trusted_proxies},
  };
  return kFlags;
}

bool ValidateSentinel(const Config& config, std::string* error) {
  if (config.redis_sentinels.empty()) {
    if (!config.redis_sentinel_master.empty() || !config.redis_sentinel_password.empty()) {
      *error = "--redis-sentinel-*: set without --redis-sentinels, so there is no sentinel to ask";
      return false;
    }
    return true;
  }
  std::string why;
  if (!routing::ParseSentinelList(config.redis_sentinels, &why)) {
    *error = "--redis-sentinels: " + why;
    return false;
  }
  if (config.redis_sentinel_master.empty()) {
    *error = "--redis-sentinels: --redis-sentinel-master must name the master to ask for";
    return false;
  }
  if (!routing::IsValidSentinelMasterName(config.redis_sentinel_master, &why)) {
    *error = "--redis-sentinel-master: " + why;
    return false;
  }
  if (config.redis_cluster) {
    *error = "--redis-cluster: a Redis Cluster fails over by itself; drop --redis-sentinels";
    return false;
  }
  return true;
}

// SWITCHBOARD_ + the flag's name in upper snake case.
std::string EnvName(const char* flag) {
  std::string name = "SWITCHBOARD_";
  for (const char* c = flag; *c != '\0'; ++c) {
    name.push_back(*c == '-' ? '_'
                             : static_cast<char>(std::toupper(static_cast<unsigned char>(*c))));
  }
  return name;
}

const Flag* FindFlag(std::string_view name) {
  for (const Flag& flag : Flags()) {
    if (name == flag.name) return &flag;
  }
  return nullptr;
}

bool Assign(const Flag& flag, std::string_view value, const char* source, Config* config,
            std::string* error) {
  if (flag.text != nullptr) {
    config->*flag.text = std::string(value);
    return true;
  }
  if (flag.boolean != nullptr) {
    if (value != "true" && value != "false") {
      *error = std::string(source) + ": expected true or false, got \"" + std::string(value) + "\"";
      return false;
    }
    config->*flag.boolean = value == "true";
    return true;
  }
  int number = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (ec != std::errc() || end != value.data() + value.size() || number < flag.min ||
      number > flag.max) {
    *error = std::string(source) + ": expected an integer from " + std::to_string(flag.min) +
             " to " + std::to_string(flag.max) + ", got \"" + std::string(value) + "\"";
    return false;
  }
  config->*flag.number = number;
  return true;
}

bool IsPlainName(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    const bool plain =
        std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    if (!plain) return false;
  }
  return true;
}

// The auth and TLS flags make sense only together; their files are read when the server starts.
bool ValidateSecurity(const Config& config, std::string* error) {
  if (!config.auth_jwt_secret_file.empty() && !config.auth_jwt_public_key_file.empty()) {
    *error = "--auth-jwt-secret-file and --auth-jwt-public-key-file: set one of them";
    return false;
  }
  if (!config.auth_enabled() && (!config.auth_audience.empty() || !config.auth_issuer.empty())) {
    *error =
        "--auth-audience and --auth-issuer need --auth-jwt-secret-file or "
        "--auth-jwt-public-key-file";
    return false;
  }
  if (config.tls_cert_file.empty() != config.tls_key_file.empty()) {
    *error = "--tls-cert-file and --tls-key-file: set both or neither";
    return false;
  }
  std::string proxies_error;
  if (!ParseTrustedProxies(config.trusted_proxies, &proxies_error)) {
    *error = "--trusted-proxies: " + proxies_error;
    return false;
  }
  return true;
}

bool Validate(Config* config, std::string* error) {
  static const char* kLevels[] = {"debug", "info", "warn", "error"};
  bool level_ok = false;
  for (const char* level : kLevels) level_ok = level_ok || config->log_level == level;
  if (!level_ok) {
    *error = "--log-level: expected debug, info, warn or error, got \"" + config->log_level + "\"";
    return false;
  }
  if (config->host.empty()) {
    *error = "--host must not be empty";
    return false;
  }
  // Pod ids and the prefix name Redis keys and channels and head cross-pod messages, which are
  // space-separated: keep them to a plain alphabet.
  if (!IsPlainName(config->pod_id)) {
    *error = "--pod-id must be 1 to 128 characters of A-Z a-z 0-9 . _ - (got \"" + config->pod_id +
             "\")";
    return false;
  }
  if (!IsPlainName(config->redis_prefix)) {
    *error = "--redis-prefix must be 1 to 128 characters of A-Z a-z 0-9 . _ -";
    return false;
  }
  if (!config->peerjs_path.starts_with('/') ||
      config->peerjs_path.find_first_of("?# ") != std::string::npos) {
    *error = "--peerjs-path must start with / and hold no ?, # or space";
    return false;
  }
  if (!config->peerjs_path.ends_with('/')) config->peerjs_path += '/';  // as the client does
  if (config->peerjs_key.empty() || config->peerjs_key.find('/') != std::string::npos) {
    *error = "--peerjs-key must be non-empty, without /";
    return false;
  }
  if (config->admin_port > 0 && config->admin_port == config->port) {
    *error = "--admin-port must differ from --port";
    return false;
  }
  std::string origins_error;
  if (!OriginAllowlist::Parse(config->allowed_origins, &origins_error)) {
    *error = "--allowed-origins: " + origins_error;
    return false;
  }
  if (!ValidateSecurity(*config, error)) return false;
  if (!config->redis_url.empty()) {
    std::string url_error;
    const auto address = routing::ParseRedisUrl(config->redis_url, &url_error);
    if (!address) {
      *error = "--redis-url: " + url_error;
      return false;
    }
    if (!address->password.empty() && !config->redis_password.empty()) {
      *error = "--redis-password: the password is also in --redis-url; set it in one place";
      return false;
    }
    if (config->redis_cluster && address->db != 0) {
      *error = "--redis-cluster: a Redis Cluster has database 0 only; drop the /db of --redis-url";
      return false;
    }
  } else if (config->redis_cluster) {
    *error = "--redis-cluster: set without --redis-url, so there is no cluster to join";
    return false;
  } else if (!config->redis_password.empty() && config->redis_sentinels.empty()) {
    *error = "--redis-password: set without --redis-url, so there is no Redis to log in to";
    return false;
  }
  return ValidateSentinel(*config, error);
}

}  // namespace

ConfigAction ParseConfig(const std::vector<std::string>& args, const EnvLookup& env,
                         const std::string& hostname, Config* config, std::string* error) {
  for (const Flag& flag : Flags()) {
    const std::string name = EnvName(flag.name);
    if (const char* value = env(name.c_str())) {
      if (!Assign(flag, value, name.c_str(), config, error)) return ConfigAction::kError;
    }
  }
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") return ConfigAction::kHelp;
    if (!arg.starts_with("--")) {
      *error = "unexpected argument \"" + std::string(arg) + "\" (see --help)";
      return ConfigAction::kError;
    }
    arg.remove_prefix(2);
    std::string_view value;
    bool has_value = false;
    if (const size_t eq = arg.find('='); eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    const Flag* flag = FindFlag(arg);
    if (flag == nullptr) {
      *error = "unknown flag --" + std::string(arg) + " (see --help)";
      return ConfigAction::kError;
    }
    if (!has_value && flag->boolean != nullptr) {
      // Alone it means true; "--flag true" and "--flag false" read the next argument.
      const bool next_is_value =
          i + 1 < args.size() && (args[i + 1] == "true" || args[i + 1] == "false");
      value = next_is_value ? std::string_view(args[++i]) : std::string_view("true");
    } else if (!has_value) {
      if (i + 1 >= args.size()) {
        *error = "--" + std::string(arg) + " needs a value";
        return ConfigAction::kError;
      }
      value = args[++i];
    }
    const std::string source = "--" + std::string(arg);
    if (!Assign(*flag, value, source.c_str(), config, error)) return ConfigAction::kError;
  }
  if (config->pod_id.empty()) {
    const char* pod_name = env("POD_NAME");
    config->pod_id = (pod_name != nullptr && *pod_name != '\0') ? pod_name : hostname;
  }
  return Validate(config, error) ? ConfigAction::kRun : ConfigAction::kError;
}

std::string HelpText() {
  const Config defaults;
  std::ostringstream out;
  out << "Usage: switchboard [--flag value | --flag=value]...\n\n"
         "Switchboard relays WebRTC signaling between peers over WebSockets (/ws).\n"
         "Every flag can also be set by the environment variable shown beside it.\n\n";
  for (const Flag& flag : Flags()) {
    std::string default_value;
    if (flag.text != nullptr) {
      default_value = defaults.*flag.text;
    } else if (flag.number != nullptr) {
      default_value = std::to_string(defaults.*flag.number);
    } else {
      default_value = defaults.*flag.boolean ? "true" : "false";
    }
    if (default_value.empty()) default_value = "(see text)";
    out << "  --" << flag.name << "  (" << EnvName(flag.name) << ", default " << default_value
        << ")\n      " << flag.help << "\n";
  }
  return out.str();
}

}  // namespace switchboard::server
