#include "routing/redis_connection.h"

#include <arpa/inet.h>
#include <hiredis/adapters/libuv.h>
#include <netdb.h>

#include <memory>

namespace switchboard::routing {

namespace {

// What rides along with one command, as hiredis' privdata.
struct PendingReply {
  RedisConnection::ReplyCallback done;
};

}  // namespace

RedisConnection::RedisConnection(uv_loop_t* loop, RedisAddress address, std::string name,
                                 Events events)
    : loop_(loop),
      address_(std::move(address)),
      name_(std::move(name)),
      events_(std::move(events)) {}

RedisConnection::~RedisConnection() { Drop(); }

void RedisConnection::Connect() {
  if (context_ != nullptr || resolving_ != nullptr) return;
  quiet_ = false;
  resolving_ = new uv_getaddrinfo_t;
  resolving_->data = this;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  const std::string port = std::to_string(address_.port);
  const int status = uv_getaddrinfo(loop_, resolving_, &RedisConnection::OnResolved,
                                    address_.host.c_str(), port.c_str(), &hints);
  if (status != 0) {
    delete resolving_;
    resolving_ = nullptr;
    // Reported from the loop, not from inside Connect(), as promised.
    auto* report = new uv_timer_t;
    uv_timer_init(loop_, report);
    report->data = this;
    uv_timer_start(
        report,
        [](uv_timer_t* timer) {
          static_cast<RedisConnection*>(timer->data)->Lost("cannot resolve the Redis host");
          uv_close(reinterpret_cast<uv_handle_t*>(timer),
                   [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
        },
        0, 0);
  }
}

void RedisConnection::OnResolved(uv_getaddrinfo_t* request, int status, addrinfo* result) {
  auto* self = static_cast<RedisConnection*>(request->data);
  std::unique_ptr<addrinfo, decltype(&uv_freeaddrinfo)> addresses(result, &uv_freeaddrinfo);
  delete request;
  if (self == nullptr) return;  // dropped while resolving
  self->resolving_ = nullptr;
  if (status != 0 || result == nullptr) {
    self->Lost(std::string("cannot resolve ") + self->address_.host + ": " + uv_strerror(status));
    return;
  }
  char ip[INET6_ADDRSTRLEN] = {};
  const void* where =
      result->ai_family == AF_INET6
          ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(result->ai_addr)->sin6_addr)
          : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(result->ai_addr)->sin_addr);
  inet_ntop(result->ai_family, where, ip, sizeof(ip));
  self->StartConnect(ip);
}

void RedisConnection::StartConnect(const std::string& ip) {
  redisAsyncContext* context = redisAsyncConnect(ip.c_str(), address_.port);
  if (context == nullptr || context->err != 0) {
    const std::string why = context == nullptr ? "out of memory" : context->errstr;
    if (context != nullptr) redisAsyncFree(context);
    Lost(why);
    return;
  }
  context->data = this;
  context_ = context;
  connect_timer_ = new uv_timer_t;
  uv_timer_init(loop_, connect_timer_);
  connect_timer_->data = this;
  uv_timer_start(
      connect_timer_,
      [](uv_timer_t* timer) {
        static_cast<RedisConnection*>(timer->data)->Lost("connect timed out");
      },
      kConnectTimeoutMs, 0);
  redisLibuvAttach(context_, loop_);
  redisAsyncSetConnectCallback(context_, &RedisConnection::OnConnect);
  redisAsyncSetDisconnectCallback(context_, &RedisConnection::OnDisconnect);
}

void RedisConnection::OnConnect(const redisAsyncContext* context, int status) {
  auto* self = static_cast<RedisConnection*>(context->data);
  if (self == nullptr) return;
  self->StopConnectTimer();
  if (status != REDIS_OK) {
    // hiredis frees the context after this callback, without calling OnDisconnect.
    self->context_ = nullptr;
    self->Lost(context->errstr);
    return;
  }
  self->connected_ = true;
  // Pipelined ahead of everything else: no command can overtake them.
  if (!self->address_.password.empty()) {
    std::vector<std::string_view> auth = {"AUTH"};
    if (!self->address_.user.empty()) auth.push_back(self->address_.user);
    auth.push_back(self->address_.password);
    self->Command(auth, [self](redisReply* reply) {
      if (reply != nullptr && reply->type == REDIS_REPLY_ERROR) {
        self->Lost(std::string("AUTH refused: ") + reply->str);
      }
    });
  }
  if (self->address_.db != 0) {
    const std::string db = std::to_string(self->address_.db);
    self->Command({"SELECT", db}, [self](redisReply* reply) {
      if (reply != nullptr && reply->type == REDIS_REPLY_ERROR) {
        self->Lost(std::string("SELECT refused: ") + reply->str);
      }
    });
  }
  if (self->events_.connected) self->events_.connected();
}

void RedisConnection::OnDisconnect(const redisAsyncContext* context, int status) {
  auto* self = static_cast<RedisConnection*>(context->data);
  if (self == nullptr) return;
  self->context_ = nullptr;  // hiredis frees it after this callback
  self->Lost(status == REDIS_OK ? "connection closed" : context->errstr);
}

void RedisConnection::StopConnectTimer() {
  if (connect_timer_ == nullptr) return;
  uv_close(reinterpret_cast<uv_handle_t*>(connect_timer_),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
  connect_timer_ = nullptr;
}

void RedisConnection::Lost(std::string_view why) {
  const bool report = !quiet_;
  connected_ = false;
  StopConnectTimer();
  subscription_ = nullptr;
  if (context_ != nullptr) {  // e.g. AUTH refused: drop the link before reporting
    redisAsyncContext* context = context_;
    context_ = nullptr;
    context->data = nullptr;
    redisAsyncFree(context);
  }
  if (report && events_.lost) events_.lost(why);
}

bool RedisConnection::Command(const std::vector<std::string_view>& args, ReplyCallback done) {
  if (context_ == nullptr || !connected_) return false;
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (std::string_view arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  auto* pending = new PendingReply{std::move(done)};
  if (redisAsyncCommandArgv(context_, &RedisConnection::OnReply, pending,
                            static_cast<int>(argv.size()), argv.data(),
                            lengths.data()) != REDIS_OK) {
    delete pending;
    return false;
  }
  return true;
}

void RedisConnection::OnReply(redisAsyncContext* /*context*/, void* reply, void* privdata) {
  std::unique_ptr<PendingReply> pending(static_cast<PendingReply*>(privdata));
  if (pending->done) pending->done(static_cast<redisReply*>(reply));
}

bool RedisConnection::Subscribe(std::string_view channel, ReplyCallback on_message) {
  if (context_ == nullptr || !connected_) return false;
  subscription_ = std::move(on_message);
  const char* argv[] = {"SUBSCRIBE", channel.data()};
  const size_t lengths[] = {9, channel.size()};
  return redisAsyncCommandArgv(context_, &RedisConnection::OnSubscriptionReply, this, 2, argv,
                               lengths) == REDIS_OK;
}

void RedisConnection::OnSubscriptionReply(redisAsyncContext* context, void* reply,
                                          void* /*privdata*/) {
  auto* self = static_cast<RedisConnection*>(context->data);
  if (self == nullptr || !self->subscription_) return;
  self->subscription_(static_cast<redisReply*>(reply));
}

void RedisConnection::Drop() {
  quiet_ = true;
  if (resolving_ != nullptr) {
    resolving_->data = nullptr;  // OnResolved frees it and ignores the result
    uv_cancel(reinterpret_cast<uv_req_t*>(resolving_));
    resolving_ = nullptr;
  }
  Lost("dropped");
  quiet_ = false;
}

void RedisConnection::Quit() {
  // hiredis frees a context that never connected at once, without OnDisconnect; let Drop() do it
  // and stop the connect timer.
  if (context_ == nullptr || !connected_) {
    Drop();
    return;
  }
  quiet_ = true;
  connected_ = false;
  redisAsyncDisconnect(context_);
}

}  // namespace switchboard::routing
