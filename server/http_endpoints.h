// The operations endpoints: health, readiness, metrics, served on the WebSocket port, or with
// --admin-port on a port of their own (and then not on the public one).
//
// Pure: it decides what to answer; server.cc writes it to the socket.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchboard::server {

// Header lines beyond the common ones: name (lowercase, no colon) and value.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  HttpHeaders headers;
};

// What the endpoints need to know about the running server.
struct ServerHealth {
  bool draining = false;
  bool nearly_full = false;  // see IsNearlyFull
  std::function<std::string()> render_metrics;
};

// Whether a server holding `open` connections of at most `max` is nearly full: at 95% of `max`.
// It then reports itself not ready, so that load balancers send new clients to other pods before
// it has to refuse their handshakes at `max` (and before probes could go unanswered).
bool IsNearlyFull(int64_t open, int max);

// The answer to GET `path` (without query): /healthz 200 while the loop runs (it does, if this
// runs), /readyz 200 when accepting connections and 503 while draining or nearly full, /metrics
// the Prometheus text, anything else 404.
HttpResponse RespondToGet(std::string_view path, const ServerHealth& health);

// Whether `path` is one of the operations endpoints (/healthz, /readyz, /metrics).
bool IsOperationsPath(std::string_view path);

// The 404 of a port that serves only some routes: `what` names them.
HttpResponse NotServedHere(std::string_view what);

}  // namespace switchboard::server
