#include "server/metrics.h"

namespace switchboard::server {

namespace {

void Header(std::string* out, std::string_view name, std::string_view type, std::string_view help) {
  out->append("# HELP ").append(name).append(" ").append(help).append("\n");
  out->append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void Single(std::string* out, std::string_view name, std::string_view type, std::string_view help,
            double value) {
  Header(out, name, type, help);
  routing::AppendSample(out, name, "", value);
}

void Labelled(std::string* out, std::string_view name, std::string_view help,
              std::string_view label, const std::map<std::string, uint64_t, std::less<>>& values) {
  Header(out, name, "counter", help);
  for (const auto& [key, value] : values) {
    routing::AppendSample(out, name, std::string(label) + "=\"" + key + "\"",
                          static_cast<double>(value));
  }
}

}  // namespace

void Metrics::Increment(std::map<std::string, uint64_t, std::less<>>& map, std::string_view key) {
  auto it = map.find(key);
  if (it == map.end()) it = map.emplace(std::string(key), 0).first;
  ++it->second;
}

std::string Metrics::Render(const routing::RoutingStats& routing) const {
  std::string out;
  out.reserve(4096);
  Single(&out, "switchboard_connections_open", "gauge", "WebSocket connections open now.",
         static_cast<double>(connections_open));
  Single(&out, "switchboard_connections_max", "gauge",
         "Connections this pod holds at most (--max-connections); handshakes beyond get 503.",
         static_cast<double>(connections_max));
  Single(&out, "switchboard_connections_accepted_total", "counter",
         "WebSocket connections accepted.", static_cast<double>(connections_accepted));
  Single(&out, "switchboard_peers_registered", "gauge", "Peer ids held on this pod now.",
         static_cast<double>(routing.peers));
  Single(&out, "switchboard_messages_received_total", "counter", "Messages received from clients.",
         static_cast<double>(messages_received));
  Header(&out, "switchboard_messages_relayed_total", "counter",
         "Messages handed on to their target, by path: local (same pod) or remote (another pod).");
  routing::AppendSample(&out, "switchboard_messages_relayed_total", "path=\"local\"",
                        static_cast<double>(routing.relayed_local));
  routing::AppendSample(&out, "switchboard_messages_relayed_total", "path=\"remote\"",
                        static_cast<double>(routing.relayed_remote));
  Single(&out, "switchboard_messages_queued_total", "counter",
         "Messages queued for a peer that was not connected.", static_cast<double>(routing.queued));
  Single(&out, "switchboard_messages_expired_total", "counter",
         "Queued messages dropped because their target never connected.",
         static_cast<double>(routing.expired));
  Single(&out, "switchboard_messages_queue_rejected_total", "counter",
         "Messages refused because their target's queue was full.",
         static_cast<double>(routing.queue_rejected));
  Single(&out, "switchboard_messages_waiting", "gauge", "Messages waiting in queues now.",
         static_cast<double>(routing.queued_now));
  Labelled(&out, "switchboard_errors_total", "Error frames sent to clients, by code.", "code",
           errors);
  Labelled(&out, "switchboard_handshakes_refused_total", "WebSocket handshakes refused, by reason.",
           "reason", handshakes_refused);
  Labelled(&out, "switchboard_closes_total", "Connections closed by the server, by close code.",
           "code", closes);
  Labelled(&out, "switchboard_connections_shed_total",
           "Connections closed so that their clients reconnect to a less loaded pod, by reason.",
           "reason", connections_shed);
  Single(&out, "switchboard_rebalance_average_connections", "gauge",
         "Mean open connections per pod, as this pod last read them (0 without rebalancing).",
         rebalance_average);
  Single(&out, "switchboard_sockets_refused_total", "counter",
         "Sockets closed as they were accepted: the open-file limit was nearly spent.",
         static_cast<double>(sockets_refused));
  Single(&out, "switchboard_messages_handed_back_total", "counter",
         "Messages a connection closed before writing, handed back to wait for its next one.",
         static_cast<double>(frames_handed_back));
  Single(&out, "switchboard_bytes_received_total", "counter", "WebSocket message bytes received.",
         static_cast<double>(bytes_received));
  Single(&out, "switchboard_bytes_sent_total", "counter", "WebSocket message bytes sent.",
         static_cast<double>(bytes_sent));
  Header(&out, "switchboard_relay_latency_seconds", "histogram",
         "Time from receiving a message to writing it to its target's socket.");
  relay_latency.Render("switchboard_relay_latency_seconds", &out);
  Header(&out, "switchboard_cross_pod_messages_total", "counter",
         "Messages sent to (out) or received from (in) other pods through Redis.");
  routing::AppendSample(&out, "switchboard_cross_pod_messages_total", "direction=\"out\"",
                        static_cast<double>(routing.relayed_remote));
  routing::AppendSample(&out, "switchboard_cross_pod_messages_total", "direction=\"in\"",
                        static_cast<double>(routing.received_remote));
  if (routing.redis_up >= 0) {
    Single(&out, "switchboard_redis_up", "gauge", "1 while the link to Redis is up.",
           routing.redis_up);
    Single(&out, "switchboard_redis_reconnects_total", "counter",
           "Times the link to Redis was lost (and then re-established with backoff).",
           static_cast<double>(routing.redis_reconnects));
    Single(&out, "switchboard_redis_errors_total", "counter",
           "Commands Redis answered with an error (out of memory, read-only replica...).",
           static_cast<double>(routing.redis_errors));
    Single(&out, "switchboard_redis_owner_lookups_total", "counter",
           "Cross-pod messages whose target's pod was looked up in Redis (a script) instead of "
           "known from the pod's cache (one PUBLISH).",
           static_cast<double>(routing.owner_lookups));
    Single(&out, "switchboard_cross_pod_bounced_total", "counter",
           "Messages for a peer this pod no longer holds, handed back to the sender's pod.",
           static_cast<double>(routing.bounced));
    Single(&out, "switchboard_cross_pod_unconfirmed_total", "counter",
           "Messages published to another pod that never confirmed it handled them (it died, or "
           "its link was cut); their senders were told.",
           static_cast<double>(routing.unconfirmed));
    Single(&out, "switchboard_cross_pod_stale_dropped_total", "counter",
           "Messages this pod read only after it had stalled (frozen, starved) for longer than "
           "their senders' pods wait for a receipt: dropped, since those senders are told.",
           static_cast<double>(routing.stale_dropped));
    Single(
        &out, "switchboard_cross_pod_late_dropped_total", "counter",
        "Messages Redis ran after newer ones of the same sender's pod (left in a connection that "
        "pod had given up on): dropped to keep order, since their senders were told.",
        static_cast<double>(routing.late_dropped));
    Single(&out, "switchboard_cross_pod_receipt_asks_total", "counter",
           "Times this pod asked another which of its messages it handled, because the receipt "
           "was late or the link to Redis was new (docs/architecture.md, \"Receipts\").",
           static_cast<double>(routing.receipt_asks));
  }
  if (routing.redis_latency != nullptr) {
    Header(&out, "switchboard_redis_command_seconds", "histogram",
           "Round trip of the Redis commands the routing backend sends.");
    routing.redis_latency->Render("switchboard_redis_command_seconds", &out);
  }
  if (!token_key_reloads.empty()) {
    Labelled(&out, "switchboard_token_key_reloads_total",
             "Connection token key reloads (the file changed, or SIGHUP), by result.", "result",
             token_key_reloads);
  }
  if (tls_expires_at > 0) {
    Single(&out, "switchboard_tls_certificate_expiry_timestamp_seconds", "gauge",
           "When the certificate served on the public port expires (notAfter), in Unix time.",
           static_cast<double>(tls_expires_at));
    Labelled(&out, "switchboard_tls_reloads_total",
             "Certificate reloads (the files changed, or SIGHUP), by result.", "result",
             tls_reloads);
  }
  Single(&out, "switchboard_draining", "gauge", "1 while the server is shutting down.",
         draining ? 1 : 0);
  return out;
}

}  // namespace switchboard::server
