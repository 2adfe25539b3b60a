// One hiredis asynchronous connection on the libuv loop.
//
// hiredis resolves host names with a blocking getaddrinfo(), so the name is resolved first with
// uv_getaddrinfo and hiredis is handed an address. hiredis 0.14 has no connect timeout, and its
// libuv adapter ignores poll errors, so a refused connect would hang forever: an attempt that
// has not connected within kConnectTimeout is abandoned and reported lost. Commands are pipelined:
// Command() writes and returns; the reply comes to a callback, in the order the commands were sent.
// Nothing waits.
#pragma once

#include <hiredis/async.h>
#include <uv.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "routing/redis_url.h"

namespace switchboard::routing {

class RedisConnection {
 public:
  // `reply` is nullptr when the connection was lost before the reply came.
  using ReplyCallback = std::function<void(redisReply* reply)>;

  struct Events {
    std::function<void()> connected;                 // connected, AUTH and SELECT sent
    std::function<void(std::string_view why)> lost;  // a connect failed or the link dropped
  };

  static constexpr uint64_t kConnectTimeoutMs = 1000;

  // Not connected until Connect(). `loop` must outlive this object.
  RedisConnection(uv_loop_t* loop, RedisAddress address, std::string name, Events events);
  ~RedisConnection();

  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Starts connecting. Calls events.connected or events.lost later, never before returning.
  void Connect();

  // True between events.connected and events.lost.
  bool connected() const { return connected_; }

  // Sends a command; `done` gets its reply. Returns false, without calling `done`, when not
  // connected. Every `done` of a lost connection is called with nullptr.
  bool Command(const std::vector<std::string_view>& args, ReplyCallback done);

  // Sends SUBSCRIBE `channel`; `on_message` gets every reply on it (the confirmation, then each
  // message), until the connection is lost. At most one subscription per connection.
  bool Subscribe(std::string_view channel, ReplyCallback on_message);

  // Drops the connection now; pending callbacks get nullptr and events.lost is not called.
  void Drop();

  // Closes the connection after the replies already due; events.lost is not called.
  void Quit();

 private:
  static void OnResolved(uv_getaddrinfo_t* request, int status, addrinfo* result);
  static void OnConnect(const redisAsyncContext* context, int status);
  static void OnDisconnect(const redisAsyncContext* context, int status);
  static void OnReply(redisAsyncContext* context, void* reply, void* privdata);
  static void OnSubscriptionReply(redisAsyncContext* context, void* reply, void* privdata);

  void StartConnect(const std::string& ip);
  void Lost(std::string_view why);
  void StopConnectTimer();

  uv_loop_t* loop_;
  RedisAddress address_;
  std::string name_;
  Events events_;
  redisAsyncContext* context_ = nullptr;
  uv_getaddrinfo_t* resolving_ = nullptr;  // owned by libuv until its callback runs
  uv_timer_t* connect_timer_ = nullptr;    // while an attempt is under way; freed on close
  bool connected_ = false;
  bool quiet_ = false;  // the owner asked for the close: do not report it as lost
  ReplyCallback subscription_;
};

}  // namespace switchboard::routing
