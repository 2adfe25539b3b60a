// The pure HTTP routing of the server: server::MatchPeerJsHttp, PeerJsWebSocketPath and
// FormatUuidV4 (server/peerjs_http.h), RespondToGet and IsOperationsPath
// (server/http_endpoints.h). The first line of the input is the PeerJS mount path, made to start
// and end with "/" as the config guarantees; the rest is the request path.
//
// A route is matched only where the header says (<mount>, <mount><key>/id, <mount><key>/peers,
// a trailing "/" allowed, the key any text without "/"), the WebSocket path is never an HTTP
// route, a fresh id reaches /id and is a valid PeerJS id, and the operations endpoints answer
// 200 exactly on their three paths.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/peerjs_protocol.h"
#include "server/http_endpoints.h"
#include "server/peerjs_http.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace switchboard::server;

// What the route of `path` must be, read from the header's contract.
std::optional<PeerJsHttpRoute> ExpectedRoute(std::string_view path, std::string_view mount) {
  // The mount itself, reached with or without its trailing "/" ("/app", "/app/"; "/" and "//").
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (path == (mount.size() > 1 ? mount.substr(0, mount.size() - 1) : mount)) {
    return PeerJsHttpRoute::kInfo;
  }
  if (!path.starts_with(mount)) return std::nullopt;
  for (auto [method, route] : {std::pair{std::string_view("/id"), PeerJsHttpRoute::kId},
                               std::pair{std::string_view("/peers"), PeerJsHttpRoute::kPeers}}) {
    if (!path.ends_with(method)) continue;
    const std::string_view key =
        path.substr(mount.size(), path.size() - mount.size() - method.size());
    if (path.size() >= mount.size() + method.size() && !key.empty() &&
        key.find('/') == std::string_view::npos) {
      return route;
    }
  }
  return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  std::string mount(input.substr(0, newline));
  if (!mount.starts_with('/')) mount.insert(0, "/");
  if (!mount.ends_with('/')) mount.push_back('/');
  const std::string_view path =
      newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);

  const auto route = MatchPeerJsHttp(path, mount);
  FUZZ_CHECK(route == ExpectedRoute(path, mount));
  if (!path.empty() && !path.ends_with('/'))
    FUZZ_CHECK(MatchPeerJsHttp(std::string(path) + "/", mount) == route);
  FUZZ_CHECK(!MatchPeerJsHttp(PeerJsWebSocketPath(mount), mount).has_value());

  std::array<uint8_t, 16> random{};
  for (size_t i = 0; i < random.size() && i < size; ++i) random[i] = data[i];
  const std::string uuid = FormatUuidV4(random);
  FUZZ_CHECK(uuid.size() == 36 && uuid[14] == '4');
  FUZZ_CHECK(std::string_view("89ab").find(uuid[19]) != std::string_view::npos);
  FUZZ_CHECK(switchboard::protocol::IsValidPeerJsId(uuid));
  FUZZ_CHECK(MatchPeerJsHttp(mount + uuid + "/id", mount) == PeerJsHttpRoute::kId);
  FUZZ_CHECK(MatchPeerJsHttp(mount + uuid + "/peers/", mount) == PeerJsHttpRoute::kPeers);

  const ServerHealth health{.draining = false, .nearly_full = false, .render_metrics = [] {
                              return std::string("m 1\n");
                            }};
  const HttpResponse response = RespondToGet(path, health);
  FUZZ_CHECK(response.status == (IsOperationsPath(path) ? 200 : 404));
  FUZZ_CHECK(!response.body.empty());
  const ServerHealth draining{.draining = true, .nearly_full = false, .render_metrics = [] {
                                return std::string("m 1\n");
                              }};
  if (path == "/readyz") FUZZ_CHECK(RespondToGet(path, draining).status == 503);
  return 0;
}
