#include "server/http_endpoints.h"

namespace switchboard::server {

bool IsNearlyFull(int64_t open, int max) { return open >= max - max / 20; }

bool IsOperationsPath(std::string_view path) {
  return path == "/healthz" || path == "/readyz" || path == "/metrics";
}

HttpResponse NotServedHere(std::string_view what) {
  return {404,
          "text/plain; charset=utf-8",
          "not found: this port serves " + std::string(what) + "\n",
          {}};
}

HttpResponse RespondToGet(std::string_view path, const ServerHealth& health) {
  if (path == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n", {}};
  if (path == "/readyz") {
    if (health.draining) return {503, "text/plain; charset=utf-8", "draining\n", {}};
    if (health.nearly_full) return {503, "text/plain; charset=utf-8", "nearly full\n", {}};
    return {200, "text/plain; charset=utf-8", "ready\n", {}};
  }
  if (path == "/metrics") {
    return {200, "text/plain; version=0.0.4; charset=utf-8", health.render_metrics(), {}};
  }
  return {404,
          "text/plain; charset=utf-8",
          "not found: WebSocket clients connect to /ws; operators use /healthz, /readyz, "
          "/metrics\n",
          {}};
}

}  // namespace switchboard::server
