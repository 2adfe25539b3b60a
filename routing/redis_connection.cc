#include "routing/redis_connection.h"

#include <netdb.h>

#include <charconv>
#include <utility>

namespace switchboard::routing {

namespace {

// Bytes read from the socket at a time, before they are fed to the reader.
constexpr size_t kReadChunk = 64 * 1024;

// A buffer grown past this by a large command is released once written, not kept for reuse.
constexpr size_t kKeptBufferBytes = 1024 * 1024;

void AppendDecimal(std::string* out, size_t value) {
  char digits[24];
  const auto [end, error] = std::to_chars(digits, digits + sizeof(digits), value);
  out->append(digits, end);
}

bool IsText(const redisReply* reply) {
  return reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS;
}

std::string_view TextOf(const redisReply* reply) {
  if (reply->str == nullptr) return {};
  return std::string_view(reply->str, reply->len);
}

}  // namespace

struct RedisConnection::Socket {
  explicit Socket(RedisConnection* connection) : owner(connection) {}
  ~Socket() {
    if (reader != nullptr) redisReaderFree(reader);
  }

  RedisConnection* owner;  // nullptr once closing: every callback then ignores what it got
  uv_tcp_t tcp{};
  uv_idle_t idle{};        // output waits for its turn (see Wake())
  uv_prepare_t prepare{};  // output waits to be written, in turn
  uv_timer_t timer{};      // the connect or quit timeout, or a deferred failure
  uv_connect_t connect{};
  uv_write_t write{};
  int open_handles = 0;  // tcp, idle, prepare, timer: freed when the last one has closed
  bool writing_now = false;
  std::string writing;  // the bytes handed to uv_write, kept until its callback
  std::string failure;  // a failure to report from the loop (the timer), not from Connect()
  redisReader* reader = nullptr;
  char input[kReadChunk];
};

RedisConnection::RedisConnection(uv_loop_t* loop, RedisAddress address, std::string name,
                                 Events events)
    : loop_(loop),
      address_(std::move(address)),
      name_(std::move(name)),
      events_(std::move(events)) {}

RedisConnection::~RedisConnection() { Drop(); }

void RedisConnection::AppendCommand(std::string* out, const std::vector<std::string_view>& args) {
  size_t size = 16;
  for (std::string_view arg : args) size += arg.size() + 16;
  out->reserve(out->size() + size);  // geometric growth: std::string doubles past its capacity
  out->push_back('*');
  AppendDecimal(out, args.size());
  out->append("\r\n");
  for (std::string_view arg : args) {
    out->push_back('$');
    AppendDecimal(out, arg.size());
    out->append("\r\n");
    out->append(arg);
    out->append("\r\n");
  }
}

void RedisConnection::Connect() {
  if (state_ != State::kIdle) return;
  auto* socket = new Socket(this);
  socket_ = socket;
  uv_tcp_init(loop_, &socket->tcp);
  uv_idle_init(loop_, &socket->idle);
  uv_prepare_init(loop_, &socket->prepare);
  uv_timer_init(loop_, &socket->timer);
  socket->open_handles = 4;
  socket->tcp.data = socket;
  socket->idle.data = socket;
  socket->prepare.data = socket;
  socket->timer.data = socket;
  socket->connect.data = socket;
  socket->write.data = socket;
  state_ = State::kResolving;

  socket->reader = redisReaderCreate();
  if (socket->reader == nullptr) {
    socket->failure = "out of memory";
    StartTimer(0);
    return;
  }
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
    socket->failure = "cannot resolve " + address_.host + ": " + uv_strerror(status);
    StartTimer(0);  // reported from the loop, not from inside Connect(), as promised
  }
}

void RedisConnection::OnResolved(uv_getaddrinfo_t* request, int status, addrinfo* result) {
  auto* self = static_cast<RedisConnection*>(request->data);
  std::unique_ptr<addrinfo, decltype(&uv_freeaddrinfo)> addresses(result, &uv_freeaddrinfo);
  delete request;
  if (self == nullptr) return;  // dropped while resolving
  self->resolving_ = nullptr;
  if (status != 0 || result == nullptr) {
    self->Close("cannot resolve " + self->address_.host + ": " + uv_strerror(status), true);
    return;
  }
  self->state_ = State::kConnecting;
  const int connecting = uv_tcp_connect(&self->socket_->connect, &self->socket_->tcp,
                                        result->ai_addr, &RedisConnection::OnConnected);
  if (connecting != 0) {
    self->Close("cannot connect to " + self->address_.host + ":" +
                    std::to_string(self->address_.port) + ": " + uv_strerror(connecting),
                true);
    return;
  }
  self->StartTimer(kConnectTimeoutMs);
}

void RedisConnection::OnConnected(uv_connect_t* request, int status) {
  auto* socket = static_cast<Socket*>(request->data);
  RedisConnection* self = socket->owner;
  if (self == nullptr) return;  // closed while connecting
  if (status == 0) status = uv_tcp_nodelay(&socket->tcp, 1);
  if (status == 0) {
    status = uv_read_start(reinterpret_cast<uv_stream_t*>(&socket->tcp),
                           &RedisConnection::OnAllocate, &RedisConnection::OnRead);
  }
  if (status != 0) {
    self->Close("cannot connect to " + self->address_.host + ":" +
                    std::to_string(self->address_.port) + ": " + uv_strerror(status),
                true);
    return;
  }
  uv_timer_stop(&socket->timer);
  self->state_ = State::kConnected;
  // Pipelined ahead of everything else: no command can overtake them.
  if (!self->address_.password.empty()) {
    std::vector<std::string_view> auth = {"AUTH"};
    if (!self->address_.user.empty()) auth.push_back(self->address_.user);
    auth.push_back(self->address_.password);
    self->Send(auth, [self](redisReply* reply) {
      if (reply != nullptr && reply->type == REDIS_REPLY_ERROR) {
        self->Close("AUTH refused: " + std::string(TextOf(reply)), true);
      }
    });
  }
  if (self->address_.db != 0) {
    const std::string db = std::to_string(self->address_.db);
    self->Send({"SELECT", db}, [self](redisReply* reply) {
      if (reply != nullptr && reply->type == REDIS_REPLY_ERROR) {
        self->Close("SELECT refused: " + std::string(TextOf(reply)), true);
      }
    });
  }
  if (self->events_.connected) self->events_.connected();
}

void RedisConnection::StartTimer(uint64_t timeout_ms) {
  uv_timer_start(&socket_->timer, &RedisConnection::OnTimer, timeout_ms, 0);
}

void RedisConnection::OnTimer(uv_timer_t* timer) {
  auto* socket = static_cast<Socket*>(timer->data);
  RedisConnection* self = socket->owner;
  if (self == nullptr) return;
  if (!socket->failure.empty()) {
    self->Close(socket->failure, true);
  } else if (self->state_ == State::kQuitting) {
    self->Close({}, false);  // the replies due did not come in time
  } else if (self->state_ != State::kConnected) {
    self->Close("connect timed out after " + std::to_string(kConnectTimeoutMs) + " ms", true);
  }
}

bool RedisConnection::Command(const std::vector<std::string_view>& args, ReplyCallback done) {
  if (state_ != State::kConnected || subscriber_) return false;
  Send(args, std::move(done));
  return true;
}

void RedisConnection::Send(const std::vector<std::string_view>& args, ReplyCallback done) {
  AppendCommand(&output_, args);
  pending_.push_back(std::move(done));
  // With a write under way, OnWritten starts the flush once it is done.
  Wake();
}

// libuv runs the handles of one kind newest first. Going through an idle handle (whose callback
// starts the prepare handle) reverses that twice: the connections of a loop flush in the order
// they were first given output in the pass, as one buffer for all of them would. And output given
// too late for this pass's turn (from another prepare callback) does not wait for an event: an
// active idle handle makes the loop poll without blocking, and it leaves at the next pass.
void RedisConnection::Wake() {
  Socket* socket = socket_;
  if (socket->writing_now || uv_is_active(reinterpret_cast<uv_handle_t*>(&socket->prepare))) {
    return;  // OnWritten wakes it again; the prepare handle is due anyway
  }
  uv_idle_start(&socket->idle, &RedisConnection::OnIdle);
}

void RedisConnection::OnIdle(uv_idle_t* idle) {
  auto* socket = static_cast<Socket*>(idle->data);
  uv_idle_stop(idle);
  if (socket->owner != nullptr) uv_prepare_start(&socket->prepare, &RedisConnection::OnPrepare);
}

void RedisConnection::OnPrepare(uv_prepare_t* prepare) {
  auto* socket = static_cast<Socket*>(prepare->data);
  if (socket->owner != nullptr) socket->owner->Flush();
}

void RedisConnection::Flush() {
  Socket* socket = socket_;
  uv_prepare_stop(&socket->prepare);
  if (output_.empty() || socket->writing_now) return;
  socket->writing.swap(output_);
  output_.clear();
  uv_buf_t buffer =
      uv_buf_init(socket->writing.data(), static_cast<unsigned int>(socket->writing.size()));
  ++writes_;
  const int status = uv_write(&socket->write, reinterpret_cast<uv_stream_t*>(&socket->tcp), &buffer,
                              1, &RedisConnection::OnWritten);
  if (status != 0) {
    Close(std::string("write failed: ") + uv_strerror(status), state_ != State::kQuitting);
    return;
  }
  socket->writing_now = true;
}

void RedisConnection::OnWritten(uv_write_t* request, int status) {
  auto* socket = static_cast<Socket*>(request->data);
  socket->writing_now = false;
  if (socket->writing.capacity() > kKeptBufferBytes) {
    std::string().swap(socket->writing);
  } else {
    socket->writing.clear();
  }
  RedisConnection* self = socket->owner;
  if (self == nullptr) return;  // closed: the write was cancelled
  if (status != 0) {
    self->Close(std::string("write failed: ") + uv_strerror(status),
                self->state_ != State::kQuitting);
    return;
  }
  if (!self->output_.empty()) self->Wake();
}

void RedisConnection::OnAllocate(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buffer) {
  auto* socket = static_cast<Socket*>(handle->data);
  *buffer = uv_buf_init(socket->input, sizeof(socket->input));
}

void RedisConnection::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* /*buffer*/) {
  auto* socket = static_cast<Socket*>(stream->data);
  RedisConnection* self = socket->owner;
  if (self == nullptr || nread == 0) return;
  const bool report = self->state_ != State::kQuitting;
  if (nread < 0) {
    self->Close(nread == UV_EOF
                    ? std::string("connection closed by Redis")
                    : std::string("read failed: ") + uv_strerror(static_cast<int>(nread)),
                report);
    return;
  }
  if (redisReaderFeed(socket->reader, socket->input, static_cast<size_t>(nread)) != REDIS_OK) {
    self->Close("out of memory reading a reply", report);
    return;
  }
  for (;;) {
    void* reply = nullptr;
    if (redisReaderGetReply(socket->reader, &reply) != REDIS_OK) {
      self->Close("protocol error: " + std::string(socket->reader->errstr),
                  self->state_ != State::kQuitting);
      return;
    }
    if (reply == nullptr) return;  // the rest has not come yet
    self->Dispatch(static_cast<redisReply*>(reply));
    freeReplyObject(reply);
    // The callback may have closed, dropped or reconnected the connection, or destroyed it: the
    // rest of what was read belongs to a socket that is gone.
    if (socket->owner == nullptr) return;
  }
}

void RedisConnection::Dispatch(redisReply* reply) {
  if (!pending_.empty()) {
    // Off the queue before the call: the callback may drop the connection, which fails the rest.
    ReplyCallback done = std::move(pending_.front());
    pending_.pop_front();
    if (done) done(reply);
  } else if (subscriber_) {
    Push(reply);
  } else {
    Close("a reply to no command", state_ != State::kQuitting);
  }
}

void RedisConnection::Push(redisReply* reply) {
  if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 3 && IsText(reply->element[0]) &&
      (IsText(reply->element[1]) || reply->element[1]->type == REDIS_REPLY_NIL)) {
    const redisReply* last = reply->element[2];
    char digits[24];
    std::string_view payload;
    bool shaped = true;
    if (IsText(last)) {
      payload = TextOf(last);
    } else if (last->type == REDIS_REPLY_INTEGER) {
      const auto [end, error] = std::to_chars(digits, digits + sizeof(digits), last->integer);
      payload = std::string_view(digits, static_cast<size_t>(end - digits));
    } else {
      shaped = false;
    }
    if (shaped) {
      // A copy: the callback may drop the connection or subscribe again, replacing itself.
      const std::shared_ptr<const PushCallback> on_push = on_push_;
      if (on_push && *on_push) {
        (*on_push)(TextOf(reply->element[0]), TextOf(reply->element[1]), payload);
      }
      return;
    }
  }
  if (state_ == State::kQuitting && reply->type == REDIS_REPLY_STATUS) {
    Close({}, false);  // QUIT's +OK: nothing else is due on a subscriber
    return;
  }
  std::string why = "unexpected reply on a subscriber connection";
  if (reply->type == REDIS_REPLY_ERROR) why += ": " + std::string(TextOf(reply));
  Close(why, state_ != State::kQuitting);
}

bool RedisConnection::Subscribe(std::string_view verb, const std::vector<std::string>& channels,
                                PushCallback on_push) {
  if (state_ != State::kConnected || channels.empty()) return false;
  std::vector<std::string_view> args;
  args.reserve(channels.size() + 1);
  args.push_back(verb);
  args.insert(args.end(), channels.begin(), channels.end());
  AppendCommand(&output_, args);
  subscriber_ = true;
  on_push_ = std::make_shared<const PushCallback>(std::move(on_push));
  Wake();
  return true;
}

void RedisConnection::Shutdown() {
  state_ = State::kIdle;
  subscriber_ = false;
  on_push_.reset();
  if (output_.capacity() > kKeptBufferBytes) {
    std::string().swap(output_);
  } else {
    output_.clear();  // never written: the socket that would have taken it is gone
  }
  if (resolving_ != nullptr) {
    resolving_->data = nullptr;  // OnResolved frees it and ignores the result
    uv_cancel(reinterpret_cast<uv_req_t*>(resolving_));
    resolving_ = nullptr;
  }
  if (socket_ != nullptr) {
    Socket* socket = socket_;
    socket_ = nullptr;
    socket->owner = nullptr;
    // Closing the tcp handle cancels its connect and write requests (their callbacks run first,
    // and see no owner); the Socket goes with the last close callback.
    auto closed = [](uv_handle_t* handle) {
      auto* closing = static_cast<Socket*>(handle->data);
      if (--closing->open_handles == 0) delete closing;
    };
    // With a reset (SO_LINGER 0), what the kernel still holds of our writes is thrown away: once
    // this connection is given up on, nothing of it reaches Redis later, when a cut link heals.
    if (uv_tcp_close_reset(&socket->tcp, closed) != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(&socket->tcp), closed);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&socket->idle), closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&socket->prepare), closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&socket->timer), closed);
  }
}

void RedisConnection::FailPending() {
  if (pending_.empty()) return;
  std::deque<ReplyCallback> pending;
  pending.swap(pending_);
  for (ReplyCallback& done : pending) {
    if (done) done(nullptr);
  }
}

void RedisConnection::Close(std::string_view why, bool report) {
  const std::string reason(why);  // `why` may point into a reply or the socket, both going
  Shutdown();
  if (report && events_.lost) events_.lost(reason);
  FailPending();
}

void RedisConnection::Drop() { Close({}, false); }

void RedisConnection::Quit() {
  if (state_ == State::kQuitting) return;
  if (state_ != State::kConnected) {
    Drop();
    return;
  }
  if (subscriber_) {
    // Its +OK comes after the pushes due (Push() closes on it).
    AppendCommand(&output_, {"QUIT"});
    Wake();
  } else {
    Send({"QUIT"}, [this](redisReply* reply) {
      if (reply != nullptr) Close({}, false);  // nullptr: closing already
    });
  }
  state_ = State::kQuitting;
  StartTimer(kQuitTimeoutMs);
}

}  // namespace switchboard::routing
