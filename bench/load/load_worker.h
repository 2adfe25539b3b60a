// One event loop of the load generator, with its share of the connections.
//
// Each worker owns a libuv loop, a libwebsockets client context on it, and whole pairs of
// connections, so the two peers of a pair never cross threads: a message goes out of one of the
// worker's sockets, through the server, and back into another of its sockets. A 1 ms timer drives
// everything that is not a reaction to a frame: pacing the handshakes, the open-loop schedule,
// heartbeats, and following the phase the main thread sets (run_control.h).
//
// The hot path allocates nothing: a message is a small record in its connection's queue until
// the socket is writable, then it is written into one reused buffer and handed to the socket; a
// received message is read from its first bytes only (wire_format.h).
#pragma once

#include <libwebsockets.h>
#include <uv.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bench/load/bench_config.h"
#include "bench/load/latency_recorder.h"
#include "bench/load/ring_queue.h"
#include "bench/load/run_control.h"
#include "bench/load/wire_format.h"

namespace switchboard::bench {

class LoadWorker {
 public:
  // The worker runs connections [first, first + count) of the run, numbered so that 2k and 2k+1
  // are the two peers of pair k (the connections scenario has no pairs). `rate` is its share of
  // the open-loop rate. `config` and `control` must outlive it.
  LoadWorker(const BenchConfig& config, RunControl& control, int first, int count, double rate);
  ~LoadWorker();
  LoadWorker(const LoadWorker&) = delete;
  LoadWorker& operator=(const LoadWorker&) = delete;

  // Runs the loop until the phase is kStopping and every connection is closed. Call once, on the
  // worker's own thread. Returns false, with `error()` set, when the client could not start.
  bool Run();

  const WorkerCounters& counters() const { return counters_; }
  // The latencies recorded in the measured window. Read only after Run returned.
  const LatencyRecorder& latencies() const { return latencies_; }
  const std::string& error() const { return error_; }

  // The libwebsockets callback of every client connection (public for the protocol table).
  static int Callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len);

 private:
  enum class State { kIdle, kConnecting, kOpen, kReady, kClosed };

  struct Outgoing {
    MessageKind kind = MessageKind::kOffer;
    bool heartbeat = false;
    uint32_t bytes = 0;
    int64_t queued_ns = 0;
  };

  struct Connection {
    LoadWorker* worker = nullptr;
    lws* wsi = nullptr;
    int index = 0;  // in connections_
    State state = State::kIdle;
    std::string peer_id;
    std::string path;
    const ServerAddress* server = nullptr;
    std::string source;  // 127.0.0.x to bind to
    RingQueue<Outgoing> outbound;
    uint64_t next_seq = 1;        // of the next message sent
    uint64_t expected_seq = 1;    // of the next message received
    int candidates_received = 0;  // in the current relay session
    char head[kFrameHeadBytes];
    size_t head_length = 0;
    bool in_message = false;  // a message's first fragment arrived, its last not yet
  };

  bool StartClient();
  void OnTick();
  void FollowPhase(int64_t now);
  void ConnectMore();
  void Connect(Connection& connection);
  void OnConnectDone(Connection& connection, bool ready);
  void SendScheduled(int64_t now);
  void SendHeartbeats(int64_t now);
  void StartSession(int pair);
  void Queue(Connection& from, MessageKind kind, uint32_t bytes, int64_t now);
  void QueueHeartbeat(Connection& connection);
  bool OnWritable(Connection& connection);
  void OnReceive(Connection& connection, const char* data, size_t length);
  void OnFrame(Connection& connection, std::string_view head);
  void OnRelayed(Connection& connection, const Incoming& message);
  void OnClosed(Connection& connection);
  Connection& PartnerOf(const Connection& connection);
  bool HasPairs() const;
  Scenario Workload() const;

  const BenchConfig& config_;
  RunControl& control_;
  const double rate_;
  uv_loop_t loop_{};
  uv_timer_t tick_{};
  lws_context* context_ = nullptr;
  std::vector<Connection> connections_;
  std::vector<char> write_buffer_;  // LWS_PRE bytes of headroom, then the frame
  WorkerCounters counters_;
  LatencyRecorder latencies_;
  Phase phase_ = Phase::kConnecting;
  bool measuring_ = false;
  size_t next_to_connect_ = 0;
  int handshakes_in_flight_ = 0;
  uint64_t scheduled_ = 0;      // open-loop sends started since kLoading began
  size_t schedule_cursor_ = 0;  // the next pair (or connection) the schedule serves
  int64_t heartbeat_start_ns_ = 0;
  uint64_t heartbeats_due_ = 0;
  size_t heartbeat_cursor_ = 0;
  bool closing_ = false;
  std::string error_;
};

}  // namespace switchboard::bench
