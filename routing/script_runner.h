// Runs the Redis backend's Lua scripts by their SHA (EVALSHA) on one pipelined connection, and
// survives Redis losing them.
//
// After a SCRIPT FLUSH (or a Redis that restarted without them) every script call fails with
// NOSCRIPT until the scripts are loaded again. Retrying each one as its error comes back would let
// calls still in the pipeline, which succeed once the first retry has reloaded the script,
// overtake the ones retried before them, and reorder a sender's frames. So the runner holds every
// NOSCRIPT call, and every new call, until no script call is in flight; then it loads the scripts
// and sends them all again, in their original order. That holds only if no one else can load this
// runner's scripts: each pod marks its copy with its own id, so its SHAs are its own.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "routing/latency_histogram.h"
#include "routing/redis_connection.h"

namespace switchboard::routing {

class ScriptRunner {
 public:
  struct Events {
    // A script call was answered with an error other than NOSCRIPT (Redis full, read-only...).
    std::function<void(std::string_view error)> refused;
    // The scripts had to be loaded again (logged once per reload).
    std::function<void(std::string_view error)> reloading;
    // Loading them again failed: the caller should treat the link as lost.
    std::function<void(std::string_view error)> reload_failed;
  };

  // Runs `scripts` (their texts, indexed by the caller's own numbering) on `connection`, which is
  // not owned and must outlive the runner.
  ScriptRunner(RedisConnection* connection, std::vector<std::string> scripts, Events events);

  // Loads every script with SCRIPT LOAD. Calls `done` once: with an empty error when all are
  // loaded, or with the first failure (nullptr reply: the connection was lost).
  void Load(std::function<void(std::string_view error)> done);

  // Runs script number `script` with `keys` and `args`; `done` gets the reply, or nullptr when
  // the connection was lost first. Calls are answered in the order they were made, NOSCRIPT
  // retries included. `done` may run before Run returns (the connection is down).
  void Run(int script, const std::vector<std::string_view>& keys,
           const std::vector<std::string_view>& args, RedisConnection::ReplyCallback done);

  // The connection was lost: every call held for a reload is answered with nullptr, in order.
  void FailHeld();

  // No callback is made after this.
  void Close() { closed_ = true; }

  // Round trips of script calls.
  const LatencyHistogram& latency() const { return latency_; }

 private:
  struct Call {
    std::vector<std::string> command;  // EVALSHA <sha> <key count> <keys...> <args...>
    RedisConnection::ReplyCallback done;
  };

  void Send(std::shared_ptr<Call> call);
  void ResendHeld();

  RedisConnection* connection_;
  std::vector<std::string> texts_;
  std::vector<std::string> shas_;
  Events events_;
  int in_flight_ = 0;
  bool reloading_ = false;                     // NOSCRIPT seen: calls held until none in flight
  std::deque<std::shared_ptr<Call>> failed_;   // failed with NOSCRIPT, in order
  std::deque<std::shared_ptr<Call>> waiting_;  // made while reloading
  bool closed_ = false;
  LatencyHistogram latency_;
};

}  // namespace switchboard::routing
