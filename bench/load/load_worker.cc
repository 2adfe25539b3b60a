#include "bench/load/load_worker.h"

#include <algorithm>
#include <cmath>
#include <ctime>

namespace switchboard::bench {

namespace {

constexpr uint32_t kSdpBytes = 2048;       // an offer or an answer
constexpr uint32_t kCandidateBytes = 250;  // one ICE candidate
constexpr int kCandidatesPerSide = 8;
constexpr int kMessagesPerSession = 2 + 2 * kCandidatesPerSide;
constexpr size_t kWriteBufferBytes = 65536;
constexpr uint64_t kMaxSendsPerTick = 100000;  // a stalled loop must not queue without bound
// bind() to port 0 picks among the even half of the ~28,000 ephemeral ports first, and slows
// down sharply past it: so no more than 10,000 connections per source address.
constexpr int kPortsPerSource = 10000;
// No libwebsockets keepalive: its timers live in one sorted list, and inserting each new
// connection's walks all of it, which made opening 10,000 connections quadratic.
const lws_retry_bo_t kNoIdlePolicy{};

int64_t NowNs() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
}

const lws_protocols kClientProtocols[] = {
    {"switchboard-bench", &LoadWorker::Callback, 0, kWriteBufferBytes, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

int TotalConnections(const BenchConfig& config) {
  return config.scenario == Scenario::kConnections ? config.connections : 2 * config.pairs;
}

// Source addresses to spread connections over: enough that none runs out of ports, and only on
// loopback, where every 127.x.y.z is this machine.
int SourcesFor(const BenchConfig& config) {
  if (config.sources > 0) return config.sources;
  if (!config.servers.front().host.starts_with("127.")) return 0;
  return (TotalConnections(config) + kPortsPerSource - 1) / kPortsPerSource;
}

// The n-th source address of the run. Each run takes its own 127.a.b.0/24 (source_subnet), so
// the thousands of ports an earlier run left in TIME_WAIT never slow this run's bind() calls.
std::string SourceAddress(const BenchConfig& config, int n) {
  return "127." + std::to_string(config.source_subnet / 256 % 256) + "." +
         std::to_string(config.source_subnet % 256) + "." + std::to_string(1 + n);
}

}  // namespace

LoadWorker::LoadWorker(const BenchConfig& config, RunControl& control, int first, int count,
                       double rate)
    : config_(config), control_(control), rate_(rate), connections_(static_cast<size_t>(count)) {
  const std::string prefix = config.id_prefix + "-";
  const int sources = SourcesFor(config);
  const bool cross_pod = config.scenario == Scenario::kCrossPod;
  for (int i = 0; i < count; ++i) {
    Connection& connection = connections_[static_cast<size_t>(i)];
    const int number = first + i;
    connection.worker = this;
    connection.index = i;
    connection.peer_id = prefix + std::to_string(number);
    const std::string pair = prefix + "pair" + std::to_string(number / 2);
    connection.path = HandshakePath(config.dialect, config.peerjs, connection.peer_id, pair);
    // Cross-pod: the caller (even) on the first server, the callee (odd) on the second.
    size_t server = 0;
    if (cross_pod) server = static_cast<size_t>(number % 2);
    if (!HasPairs()) server = static_cast<size_t>(number) % config.servers.size();
    connection.server = &config.servers[server];
    if (sources > 0) connection.source = SourceAddress(config, number % sources);
  }
  write_buffer_.resize(LWS_PRE + kWriteBufferBytes);
}

LoadWorker::~LoadWorker() = default;

bool LoadWorker::HasPairs() const { return config_.scenario != Scenario::kConnections; }

Scenario LoadWorker::Workload() const {
  return config_.scenario == Scenario::kCrossPod ? config_.workload : config_.scenario;
}

LoadWorker::Connection& LoadWorker::PartnerOf(const Connection& connection) {
  return connections_[static_cast<size_t>(connection.index ^ 1)];
}

bool LoadWorker::Run() {
  uv_loop_init(&loop_);
  if (!StartClient()) {
    uv_loop_close(&loop_);
    counters_.connecting_done = true;
    return false;
  }
  uv_timer_init(&loop_, &tick_);
  tick_.data = this;
  uv_timer_start(
      &tick_, [](uv_timer_t* timer) { static_cast<LoadWorker*>(timer->data)->OnTick(); }, 1, 1);
  ConnectMore();
  uv_run(&loop_, UV_RUN_DEFAULT);
  lws_context_destroy(context_);  // frees what could not be freed inside the loop, if anything
  uv_loop_close(&loop_);
  return true;
}

bool LoadWorker::StartClient() {
  lws_set_log_level(LLL_ERR, nullptr);
  void* foreign_loops[] = {&loop_};
  lws_context_creation_info info{};
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = kClientProtocols;
  info.options = LWS_SERVER_OPTION_LIBUV;
  info.foreign_loops = foreign_loops;
  info.user = this;
  info.timeout_secs = 30;
  info.retry_and_idle_policy = &kNoIdlePolicy;
  info.pcontext = &context_;
  context_ = lws_create_context(&info);
  if (context_ == nullptr) error_ = "libwebsockets could not create a client context";
  return context_ != nullptr;
}

void LoadWorker::OnTick() {
  const int64_t now = NowNs();
  FollowPhase(now);
  if (closing_) return;
  ConnectMore();
  if (phase_ == Phase::kLoading && rate_ > 0) SendScheduled(now);
  if (config_.scenario == Scenario::kConnections && phase_ == Phase::kLoading) SendHeartbeats(now);
}

void LoadWorker::FollowPhase(int64_t now) {
  measuring_ = control_.measuring.load(std::memory_order_relaxed);
  const Phase phase = control_.phase.load(std::memory_order_acquire);
  if (phase == phase_) return;
  phase_ = phase;
  if (phase == Phase::kLoading) {
    heartbeat_start_ns_ = now;
    if (Workload() == Scenario::kRelay && rate_ == 0 && HasPairs()) {
      for (size_t pair = 0; pair < connections_.size() / 2; ++pair) {
        StartSession(static_cast<int>(pair));
      }
    }
  } else if (phase == Phase::kStopping && !closing_) {
    closing_ = true;
    uv_timer_stop(&tick_);
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
    lws_context_destroy(context_);  // closes every connection; the loop then runs out
  }
}

void LoadWorker::ConnectMore() {
  const int limit = std::max(1, config_.connect_concurrency / config_.threads);
  while (handshakes_in_flight_ < limit && next_to_connect_ < connections_.size()) {
    Connect(connections_[next_to_connect_++]);
  }
}

void LoadWorker::Connect(Connection& connection) {
  ++handshakes_in_flight_;
  connection.state = State::kConnecting;
  lws_client_connect_info info{};
  info.context = context_;
  info.address = connection.server->host.c_str();
  info.port = connection.server->port;
  info.path = connection.path.c_str();
  info.host = info.address;
  info.origin = info.address;
  info.local_protocol_name = kClientProtocols[0].name;
  info.opaque_user_data = &connection;
  info.pwsi = &connection.wsi;
  info.retry_and_idle_policy = &kNoIdlePolicy;
  if (!connection.source.empty()) info.iface = connection.source.c_str();
  // On failure libwebsockets may or may not have reported CLIENT_CONNECTION_ERROR already.
  if (lws_client_connect_via_info(&info) == nullptr && connection.state == State::kConnecting) {
    OnConnectDone(connection, false);
  }
}

void LoadWorker::OnConnectDone(Connection& connection, bool ready) {
  --handshakes_in_flight_;
  if (ready) {
    connection.state = State::kReady;
    Bump(counters_.ready);
  } else {
    connection.state = State::kClosed;
    Bump(counters_.connect_failures);
  }
  const uint64_t done = counters_.ready.load(std::memory_order_relaxed) +
                        counters_.connect_failures.load(std::memory_order_relaxed);
  if (done == connections_.size()) counters_.connecting_done.store(true);
}

// Open loop: whatever is due since kLoading began and not yet started, started now. Relay starts
// whole sessions (each brings kMessagesPerSession messages); latency sends single messages from
// each connection in turn, so both directions of every pair carry the same load.
void LoadWorker::SendScheduled(int64_t now) {
  const int64_t start = control_.load_start_ns.load(std::memory_order_relaxed);
  const bool relay = Workload() == Scenario::kRelay;
  const double per_second = relay ? rate_ / kMessagesPerSession : rate_;
  const auto due = static_cast<uint64_t>(per_second * static_cast<double>(now - start) / 1e9);
  const uint64_t count = std::min(due - std::min(due, scheduled_), kMaxSendsPerTick);
  for (uint64_t i = 0; i < count; ++i) {
    if (relay) {
      StartSession(static_cast<int>(schedule_cursor_));
      schedule_cursor_ = (schedule_cursor_ + 1) % (connections_.size() / 2);
    } else {
      Connection& from = connections_[schedule_cursor_];
      Queue(from, MessageKind::kCandidate, static_cast<uint32_t>(config_.message_bytes), now);
      schedule_cursor_ = (schedule_cursor_ + 1) % connections_.size();
    }
  }
  scheduled_ += count;
}

// Every connection sends one heartbeat per interval, spread evenly over the interval.
void LoadWorker::SendHeartbeats(int64_t now) {
  if (HeartbeatFrame(config_.dialect).empty()) return;
  const double elapsed = static_cast<double>(now - heartbeat_start_ns_) / 1e9;
  const auto due = static_cast<uint64_t>(static_cast<double>(connections_.size()) * elapsed /
                                         config_.heartbeat_seconds);
  for (; heartbeats_due_ < due; ++heartbeats_due_) {
    Connection& connection = connections_[heartbeat_cursor_];
    heartbeat_cursor_ = (heartbeat_cursor_ + 1) % connections_.size();
    if (connection.state == State::kReady) QueueHeartbeat(connection);
  }
}

void LoadWorker::StartSession(int pair) {
  Connection& initiator = connections_[static_cast<size_t>(2 * pair)];
  Queue(initiator, MessageKind::kOffer, kSdpBytes, NowNs());
}

void LoadWorker::Queue(Connection& from, MessageKind kind, uint32_t bytes, int64_t now) {
  if (from.state != State::kReady) return;
  from.outbound.push_back(Outgoing{kind, false, bytes, now});
  // Counted when queued, not when written: a message waiting for its socket when the drain
  // looks is then still owed, instead of slipping in as sent after the drain has ended.
  Bump(counters_.sent);
  lws_callback_on_writable(from.wsi);
}

void LoadWorker::QueueHeartbeat(Connection& connection) {
  connection.outbound.push_back(Outgoing{MessageKind::kOffer, true, 0, 0});
  Bump(counters_.heartbeats);
  lws_callback_on_writable(connection.wsi);
}

bool LoadWorker::OnWritable(Connection& connection) {
  const Connection& partner = PartnerOf(connection);
  char* body = write_buffer_.data() + LWS_PRE;
  while (!connection.outbound.empty()) {
    const Outgoing& next = connection.outbound.front();
    size_t size = 0;
    if (next.heartbeat) {
      const std::string_view beat = HeartbeatFrame(config_.dialect);
      std::copy(beat.begin(), beat.end(), body);
      size = beat.size();
    } else {
      size = EncodeRelay(config_.dialect, next.kind, partner.peer_id,
                         static_cast<uint64_t>(next.queued_ns), connection.next_seq, next.bytes,
                         body, kWriteBufferBytes);
    }
    if (lws_write(connection.wsi, reinterpret_cast<unsigned char*>(body), size, LWS_WRITE_TEXT) <
        static_cast<int>(size)) {
      return false;
    }
    if (!next.heartbeat) ++connection.next_seq;
    connection.outbound.pop_front();
    // Asking whether the socket takes more costs a poll() system call: ask only when there is more.
    if (!connection.outbound.empty() && lws_send_pipe_choked(connection.wsi)) break;
  }
  if (!connection.outbound.empty()) lws_callback_on_writable(connection.wsi);
  return true;
}

// A message may arrive in several pieces; only its first kFrameHeadBytes are kept.
void LoadWorker::OnReceive(Connection& connection, const char* data, size_t length) {
  if (!connection.in_message) {
    connection.in_message = true;
    connection.head_length = 0;
  }
  const size_t take = std::min(length, kFrameHeadBytes - connection.head_length);
  std::copy(data, data + take, connection.head + connection.head_length);
  connection.head_length += take;
  if (lws_is_final_fragment(connection.wsi) && lws_remaining_packet_payload(connection.wsi) == 0) {
    connection.in_message = false;
    OnFrame(connection, std::string_view(connection.head, connection.head_length));
  }
}

void LoadWorker::OnFrame(Connection& connection, std::string_view head) {
  const Incoming message = DecodeFrameHead(head);
  switch (message.event) {
    case Incoming::Event::kRelayed:
      OnRelayed(connection, message);
      break;
    case Incoming::Event::kRegistered:
      if (connection.state == State::kOpen) OnConnectDone(connection, true);
      break;
    case Incoming::Event::kErrorNotice:
      Bump(counters_.error_notices);
      break;
    case Incoming::Event::kPong:
      Bump(counters_.pongs);
      break;
    case Incoming::Event::kOther:
      Bump(counters_.other_frames);
      break;
  }
}

// Answers the way a browser does: the callee answers an offer with its answer and candidates,
// the caller answers the answer with its own candidates. A session ends when each side has the
// other's candidates; in a closed loop the pair then starts the next one.
void LoadWorker::OnRelayed(Connection& connection, const Incoming& message) {
  Bump(counters_.received);
  if (message.seq != connection.expected_seq) Bump(counters_.order_violations);
  connection.expected_seq = message.seq + 1;
  const int64_t now = NowNs();
  if (measuring_) latencies_.Record(now - static_cast<int64_t>(message.sent_ns));
  if (Workload() != Scenario::kRelay || phase_ == Phase::kStopping) return;

  switch (message.kind) {
    case MessageKind::kOffer:
      Queue(connection, MessageKind::kAnswer, kSdpBytes, now);
      [[fallthrough]];
    case MessageKind::kAnswer:
      for (int i = 0; i < kCandidatesPerSide; ++i) {
        Queue(connection, MessageKind::kCandidate, kCandidateBytes, now);
      }
      break;
    case MessageKind::kCandidate: {
      Connection& partner = PartnerOf(connection);
      ++connection.candidates_received;
      if (connection.candidates_received < kCandidatesPerSide ||
          partner.candidates_received < kCandidatesPerSide) {
        break;
      }
      connection.candidates_received -= kCandidatesPerSide;
      partner.candidates_received -= kCandidatesPerSide;
      if (rate_ == 0 && phase_ == Phase::kLoading) StartSession(connection.index / 2);
      break;
    }
  }
}

void LoadWorker::OnClosed(Connection& connection) {
  if (connection.state == State::kReady && phase_ != Phase::kStopping) Bump(counters_.disconnects);
  if (connection.state == State::kConnecting || connection.state == State::kOpen) {
    OnConnectDone(connection, false);
  }
  connection.state = State::kClosed;
  connection.wsi = nullptr;
}

int LoadWorker::Callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
  auto* connection = static_cast<Connection*>(lws_get_opaque_user_data(wsi));
  if (connection == nullptr) return lws_callback_http_dummy(wsi, reason, user, in, len);
  LoadWorker& worker = *connection->worker;
  switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
      connection->wsi = wsi;
      connection->state = State::kOpen;
      // The raw relay has no registration: an open socket is a ready one.
      if (worker.config_.dialect == Dialect::kRaw) worker.OnConnectDone(*connection, true);
      return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
      worker.OnReceive(*connection, static_cast<const char*>(in), len);
      return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
      return worker.OnWritable(*connection) ? 0 : -1;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLIENT_CLOSED:
      worker.OnClosed(*connection);
      return 0;
    default:
      return lws_callback_http_dummy(wsi, reason, user, in, len);
  }
}

}  // namespace switchboard::bench
