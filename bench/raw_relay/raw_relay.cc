// switchboard-raw-relay: the floor that Switchboard's cost is measured against.
//
// It runs the same stack as Switchboard (libwebsockets on a libuv loop, the same buffer sizes and
// write path) and does the least a relay can: the two connections that open
// /relay?pair=<name> with the same name are paired, and every message one sends is written, as
// it came, to the other. No parsing, no UTF-8 check, no routing, no registry, no limits. Whatever
// Switchboard spends per message above this program is the price of what it adds
// (docs/benchmarks.md).
#include <libwebsockets.h>
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <unordered_map>

namespace {

struct RelayConnection {
  lws* wsi = nullptr;
  RelayConnection* partner = nullptr;
  std::string pair;
  std::string incoming;              // LWS_PRE bytes of headroom, then the message so far
  std::deque<std::string> outbound;  // each: LWS_PRE bytes of headroom, then the message
};

struct Relay {
  uv_loop_t loop{};
  uv_signal_t sigterm{};
  uv_signal_t sigint{};
  lws_context* context = nullptr;
  std::unordered_map<std::string, RelayConnection*> waiting;  // first half of each pair
};

// The value of `pair=` in the handshake's query, or empty.
std::string PairOf(lws* wsi) {
  char value[128];
  if (lws_get_urlarg_by_name(wsi, "pair=", value, sizeof(value)) == nullptr) return {};
  return value;
}

void Pair(Relay& relay, RelayConnection* connection) {
  auto waiting = relay.waiting.find(connection->pair);
  if (waiting == relay.waiting.end()) {
    relay.waiting.emplace(connection->pair, connection);
    return;
  }
  connection->partner = waiting->second;
  waiting->second->partner = connection;
  relay.waiting.erase(waiting);
}

// Writes at once when nothing waits and the socket takes data, as Switchboard does
// (server/session.cc); otherwise queues for the writable callback.
void Forward(RelayConnection* connection) {
  RelayConnection* partner = connection->partner;
  std::string& message = connection->incoming;
  if (partner != nullptr && partner->outbound.empty() && !lws_send_pipe_choked(partner->wsi)) {
    const size_t size = message.size() - LWS_PRE;
    lws_write(partner->wsi, reinterpret_cast<unsigned char*>(message.data()) + LWS_PRE, size,
              LWS_WRITE_TEXT);
  } else if (partner != nullptr) {
    partner->outbound.push_back(std::move(message));
    lws_callback_on_writable(partner->wsi);
  }
  message.clear();
}

bool WriteQueued(RelayConnection* connection) {
  while (!connection->outbound.empty()) {
    std::string& message = connection->outbound.front();
    const size_t size = message.size() - LWS_PRE;
    auto* body = reinterpret_cast<unsigned char*>(message.data()) + LWS_PRE;
    if (lws_write(connection->wsi, body, size, LWS_WRITE_TEXT) < static_cast<int>(size)) {
      return false;
    }
    connection->outbound.pop_front();
    // Asking whether the socket takes more costs a poll() system call: ask only when there is more.
    if (!connection->outbound.empty() && lws_send_pipe_choked(connection->wsi)) break;
  }
  if (!connection->outbound.empty()) lws_callback_on_writable(connection->wsi);
  return true;
}

void Unpair(Relay& relay, RelayConnection* connection) {
  if (connection->partner != nullptr) connection->partner->partner = nullptr;
  auto waiting = relay.waiting.find(connection->pair);
  if (waiting != relay.waiting.end() && waiting->second == connection) relay.waiting.erase(waiting);
}

int Callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
  auto** slot = static_cast<RelayConnection**>(user);
  auto* relay = static_cast<Relay*>(lws_context_user(lws_get_context(wsi)));
  switch (reason) {
    case LWS_CALLBACK_ESTABLISHED: {
      auto* connection = new RelayConnection;
      connection->wsi = wsi;
      connection->pair = PairOf(wsi);
      *slot = connection;
      Pair(*relay, connection);
      return 0;
    }
    case LWS_CALLBACK_RECEIVE: {
      RelayConnection* connection = *slot;
      if (connection->incoming.empty()) connection->incoming.assign(LWS_PRE, '\0');
      connection->incoming.append(static_cast<const char*>(in), len);
      if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) Forward(connection);
      return 0;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE:
      return WriteQueued(*slot) ? 0 : -1;
    case LWS_CALLBACK_CLOSED:
      if (*slot != nullptr) {
        Unpair(*relay, *slot);
        delete *slot;
        *slot = nullptr;
      }
      return 0;
    default:
      return lws_callback_http_dummy(wsi, reason, user, in, len);
  }
}

// The same receive buffer and send chunk sizes as Switchboard (server/server.cc), so that the two
// differ only in what they do with a frame.
const lws_protocols kProtocols[] = {
    {"raw-relay", Callback, sizeof(RelayConnection*), 512, 0, nullptr, 1 << 20},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

void OnSignal(uv_signal_t* handle, int) {
  auto* relay = static_cast<Relay*>(handle->data);
  lws_context_destroy(relay->context);
  uv_close(reinterpret_cast<uv_handle_t*>(&relay->sigterm), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&relay->sigint), nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  int port = 8090;
  const char* host = "127.0.0.1";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      port = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
      host = argv[++i];
    } else {
      std::fprintf(stderr, "usage: switchboard-raw-relay [--host 127.0.0.1] [--port 8090]\n");
      return 2;
    }
  }
  Relay relay;
  uv_loop_init(&relay.loop);
  lws_set_log_level(LLL_ERR | LLL_WARN, nullptr);
  void* foreign_loops[] = {&relay.loop};
  lws_context_creation_info info{};
  info.port = port;
  info.iface = host;
  info.protocols = kProtocols;
  info.user = &relay;
  info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DISABLE_IPV6;
  info.foreign_loops = foreign_loops;
  // As Switchboard: no libwebsockets keepalive, whose sorted timer list makes accepting quadratic.
  static const lws_retry_bo_t kNoIdlePolicy{};
  info.retry_and_idle_policy = &kNoIdlePolicy;
  info.pcontext = &relay.context;
  relay.context = lws_create_context(&info);
  if (relay.context == nullptr) {
    std::fprintf(stderr, "switchboard-raw-relay: cannot listen on %s:%d\n", host, port);
    return 1;
  }
  for (uv_signal_t* signal : {&relay.sigterm, &relay.sigint}) {
    uv_signal_init(&relay.loop, signal);
    signal->data = &relay;
  }
  uv_signal_start(&relay.sigterm, OnSignal, SIGTERM);
  uv_signal_start(&relay.sigint, OnSignal, SIGINT);
  const int listening = lws_get_vhost_listen_port(lws_get_vhost_by_name(relay.context, "default"));
  std::fprintf(stderr, "{\"msg\":\"listening\",\"host\":\"%s\",\"port\":%d}\n", host, listening);
  uv_run(&relay.loop, UV_RUN_DEFAULT);
  lws_context_destroy(relay.context);
  uv_loop_close(&relay.loop);
  return 0;
}
