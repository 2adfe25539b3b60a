#include "server/peerjs_http.h"

namespace switchboard::server {

std::optional<PeerJsHttpRoute> MatchPeerJsHttp(std::string_view request_path,
                                               std::string_view mount) {
  if (request_path.size() > 1 && request_path.ends_with('/')) request_path.remove_suffix(1);
  std::string_view bare_mount = mount;
  if (bare_mount.size() > 1) bare_mount.remove_suffix(1);  // "/app/" is also reached as "/app"
  if (request_path == bare_mount) return PeerJsHttpRoute::kInfo;
  if (!request_path.starts_with(mount)) return std::nullopt;
  const std::string_view rest = request_path.substr(mount.size());  // "<key>/id"
  const size_t slash = rest.find('/');
  if (slash == 0 || slash == std::string_view::npos) return std::nullopt;
  const std::string_view method = rest.substr(slash + 1);
  if (method == "id") return PeerJsHttpRoute::kId;
  if (method == "peers") return PeerJsHttpRoute::kPeers;
  return std::nullopt;
}

std::string PeerJsWebSocketPath(std::string_view mount) { return std::string(mount) + "peerjs"; }

std::string FormatUuidV4(std::array<uint8_t, 16> random) {
  random[6] = static_cast<uint8_t>((random[6] & 0x0f) | 0x40);  // version 4
  random[8] = static_cast<uint8_t>((random[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  text.reserve(36);
  for (size_t i = 0; i < random.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text.push_back('-');
    text.push_back(kHex[random[i] >> 4]);
    text.push_back(kHex[random[i] & 0x0f]);
  }
  return text;
}

}  // namespace switchboard::server
