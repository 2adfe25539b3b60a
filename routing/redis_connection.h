// One connection to Redis on the libuv loop, on a socket of its own: a uv_tcp_t, hiredis' RESP
// reader for the replies, and commands encoded here (RESP arrays of bulk strings) straight into
// an output buffer.
//
// Why not hiredis' async API: hiredis 0.14 asserts on the replies to SSUBSCRIBE (sharded pub/sub,
// which Redis Cluster needs), its libuv adapter ignores poll errors, it has no connect timeout,
// and it writes whenever it likes, so what is on the wire when a link is declared lost is not
// ours to decide. Here:
// - The host name is resolved with uv_getaddrinfo (never a blocking getaddrinfo on the loop); an
//   attempt that has not connected within kConnectTimeoutMs is abandoned and reported lost.
// - Commands are pipelined: Command() appends to the output buffer and returns. Everything issued
//   during one pass of the event loop leaves in one write per connection: a uv_prepare_t flushes
//   the buffer just before the loop would block in poll, so commands issued from timers and from
//   I/O callbacks alike are on the wire before the loop sleeps. The connections of one loop flush
//   in the order they were first given commands in the pass (so Redis sees them in that order,
//   as with one socket). While a write is under way, newer commands wait for it and then leave
//   together. The buffers are reused: a command costs no allocation beyond its callback (which is
//   why commands are encoded here, to the same bytes as redisFormatCommandArgv, and not by it: it
//   allocates every command).
// - Replies are parsed by hiredis' reader (redisReply trees, freed after their callback) and go
//   to the callbacks in the order the commands were sent. A reply of an unexpected shape is
//   handed over as it is, or, on a subscriber connection, makes the connection lost: never a
//   crash.
// - Drop() closes the socket now: what is still in the output buffer is discarded and is never
//   written, whatever the loop does next (nor is the part of a write under way that the kernel
//   has not taken yet); the socket is closed with a reset, so that what the kernel had taken but
//   not yet delivered is thrown away too, rather than sent when a cut link heals. Every callback
//   still due gets nullptr, in order. A lost connection does the same right after it reports
//   events.lost, so that whoever owns it knows it is down before any of its callers hear of a
//   failed command (and, say, sends the command elsewhere); Quit() lets the replies due come
//   first.
//
// Every libuv handle lives in a heap block that its close callbacks free, so this object can go
// away in any state (the handles finish closing on the loop). Nothing waits.
#pragma once

#include <hiredis/hiredis.h>
#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "routing/redis_url.h"

namespace switchboard::routing {

class RedisConnection {
 public:
  // `reply` is nullptr when the connection was lost (or dropped) before the reply came. The reply
  // belongs to the connection and is valid only during the call.
  using ReplyCallback = std::function<void(redisReply* reply)>;

  // A push on a subscriber connection. `kind`: "message", "smessage", "subscribe", "ssubscribe",
  // "unsubscribe", "sunsubscribe"...; for messages `payload` is the message, for (un)subscribe
  // confirmations the count as text. Valid only during the call.
  using PushCallback = std::function<void(std::string_view kind, std::string_view channel,
                                          std::string_view payload)>;

  struct Events {
    std::function<void()> connected;                 // connected, AUTH and SELECT sent
    std::function<void(std::string_view why)> lost;  // a connect failed or the link dropped
  };

  static constexpr uint64_t kConnectTimeoutMs = 1000;
  // How long Quit() waits for the replies due before it closes anyway.
  static constexpr uint64_t kQuitTimeoutMs = 1000;

  // Not connected until Connect(). `loop` must outlive this object. `name` is for diagnostics.
  RedisConnection(uv_loop_t* loop, RedisAddress address, std::string name, Events events);
  // Drops the connection (see Drop()). Safe in any state, but not from inside one of this
  // connection's own callbacks.
  ~RedisConnection();

  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Starts connecting: resolves the host, connects (TCP_NODELAY), then sends AUTH (with the user
  // if there is one) and SELECT (if db is not 0) ahead of anything else and reports
  // events.connected. An AUTH or SELECT refused, a connect failed or timed out: events.lost. No
  // event is reported before this returns. Does nothing while an attempt, a connection or a
  // Quit() is under way; after events.lost, after Drop(), or once a Quit() has closed, it starts
  // afresh on the same object.
  void Connect();

  // True between events.connected and events.lost (or Drop(), or Quit()).
  bool connected() const { return state_ == State::kConnected; }

  // Sends a command; `done` (may be null) gets its reply. Returns false, without calling `done`,
  // when not connected or when the connection is a subscriber. Every `done` still due when the
  // connection is lost or dropped is called with nullptr, in order: right after events.lost, or
  // within Drop().
  bool Command(const std::vector<std::string_view>& args, ReplyCallback done);

  // Sends `verb` ("SUBSCRIBE" or "SSUBSCRIBE") with `channels`; from then on the connection is a
  // subscriber: every reply is a push and goes to `on_push`, until the connection is lost (the
  // replies to commands sent before still go to their callbacks first). May be called again to
  // add channels; the latest `on_push` gets the pushes. A push of an unexpected shape (or an error
  // reply, e.g. to a refused SSUBSCRIBE) makes the connection lost. Returns false when not
  // connected or when `channels` is empty.
  //
  // On a Redis Cluster, the channels of one SSUBSCRIBE must all hash to one slot.
  bool Subscribe(std::string_view verb, const std::vector<std::string>& channels,
                 PushCallback on_push);

  // Closes the connection (or the attempt) now. Commands not yet written are discarded and never
  // written; every callback still due gets nullptr, in order; events.lost is not called.
  void Drop();

  // Sends QUIT after every command already issued, and closes once the replies due have come (or
  // Redis closes, or kQuitTimeoutMs passed: the callbacks still due then get nullptr).
  // events.lost is not called. Not connected: the same as Drop().
  void Quit();

  // How many writes this object handed to the socket, ever. For tests and metrics: commands
  // issued in one pass of the loop leave in one write.
  uint64_t writes() const { return writes_; }

  // Appends the RESP encoding of `args` (an array of bulk strings, the bytes that hiredis'
  // redisFormatCommandArgv makes) to `out`.
  static void AppendCommand(std::string* out, const std::vector<std::string_view>& args);

 private:
  enum class State { kIdle, kResolving, kConnecting, kConnected, kQuitting };

  // The socket and the handles of one attempt; freed by the last of its close callbacks.
  struct Socket;

  static void OnResolved(uv_getaddrinfo_t* request, int status, addrinfo* result);
  static void OnConnected(uv_connect_t* request, int status);
  static void OnTimer(uv_timer_t* timer);
  static void OnIdle(uv_idle_t* idle);
  static void OnPrepare(uv_prepare_t* prepare);
  static void OnWritten(uv_write_t* request, int status);
  static void OnAllocate(uv_handle_t* handle, size_t suggested, uv_buf_t* buffer);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buffer);

  // Queues a command whose reply goes to `done`, and makes sure the output is flushed this pass.
  void Send(const std::vector<std::string_view>& args, ReplyCallback done);
  // There is output: have it flushed this pass (or once the write under way is done).
  void Wake();
  void Flush();
  void Dispatch(redisReply* reply);
  void Push(redisReply* reply);
  void StartTimer(uint64_t timeout_ms);
  // Closes whatever the connection holds and discards the output; the callbacks still due stay.
  void Shutdown();
  // Calls every callback still due with nullptr, in order.
  void FailPending();
  // Shutdown(), FailPending(), then events.lost(why) if `report`.
  void Close(std::string_view why, bool report);

  uv_loop_t* loop_;
  RedisAddress address_;
  std::string name_;
  Events events_;
  State state_ = State::kIdle;
  uv_getaddrinfo_t* resolving_ = nullptr;  // owned by libuv until its callback runs
  Socket* socket_ = nullptr;               // from Connect() to the close
  std::string output_;                     // encoded commands not yet handed to the socket
  std::deque<ReplyCallback> pending_;      // one per command written or queued, in order
  bool subscriber_ = false;
  // Shared, so that a push callback that drops the connection or replaces itself is not
  // destroyed while it runs.
  std::shared_ptr<const PushCallback> on_push_;
  uint64_t writes_ = 0;
};

}  // namespace switchboard::routing
