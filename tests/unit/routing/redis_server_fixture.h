// A real redis-server for the tests: started as a child process on a free loopback port, with
// no persistence, and killed by its owner. Plus a plain synchronous hiredis client, to look at
// (and poke) what the backend under test keeps in Redis.
//
// Needs the `redis-server` program on the PATH (Debian package redis-server).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace switchboard::routing {

// A TCP port on 127.0.0.1 that nobody listens on right now (the kernel's choice for port 0).
inline int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

// A synchronous connection to Redis, for the tests' own look at the data. Replies are rendered
// as text: a string or status as itself, nil as "(nil)", an integer as its digits, an error as
// "(error) <message>", an array as "[a,b,...]".
class RedisClient {
 public:
  explicit RedisClient(int port) {
    const timeval timeout{1, 0};
    context_ = redisConnectWithTimeout("127.0.0.1", port, timeout);
    if (context_ != nullptr && context_->err == 0) redisSetTimeout(context_, timeout);
  }
  ~RedisClient() {
    if (context_ != nullptr) redisFree(context_);
  }
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  bool ok() const { return context_ != nullptr && context_->err == 0; }
  std::string error() const {
    return context_ == nullptr ? "out of memory" : std::string(context_->errstr);
  }

  std::string Run(std::initializer_list<std::string_view> args) {
    if (!Send(args)) return "(not connected: " + error() + ")";
    void* reply = nullptr;
    if (redisGetReply(context_, &reply) != REDIS_OK || reply == nullptr) {
      return "(connection error: " + error() + ")";
    }
    std::string text = Render(static_cast<redisReply*>(reply));
    freeReplyObject(reply);
    return text;
  }

  // Writes a command without waiting for its reply (as while Redis holds it: CLIENT PAUSE).
  // Returns false if it could not be written.
  bool Send(std::initializer_list<std::string_view> args) {
    if (!ok()) return false;
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (std::string_view arg : args) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    if (redisAppendCommandArgv(context_, static_cast<int>(argv.size()), argv.data(),
                               lengths.data()) != REDIS_OK) {
      return false;
    }
    for (int done = 0; !done;) {
      if (redisBufferWrite(context_, &done) != REDIS_OK) return false;
    }
    return true;
  }

  // For a subscriber (after SUBSCRIBE): what came so far, each message rendered, without
  // waiting for more.
  std::vector<std::string> TakeArrived() {
    std::vector<std::string> arrived;
    if (!ok()) return arrived;
    pollfd readable{context_->fd, POLLIN, 0};
    while (poll(&readable, 1, 0) == 1 && redisBufferRead(context_) == REDIS_OK) {
    }
    void* reply = nullptr;
    while (redisGetReplyFromReader(context_, &reply) == REDIS_OK && reply != nullptr) {
      arrived.push_back(Render(static_cast<redisReply*>(reply)));
      freeReplyObject(reply);
      reply = nullptr;
    }
    return arrived;
  }

  // A reply as one line of text: strings as they are, "(error) ...", "(nil)", arrays as
  // "[a,b]". `reply` must not be null.
  static std::string Render(const redisReply* reply) {
    switch (reply->type) {
      case REDIS_REPLY_STRING:
      case REDIS_REPLY_STATUS:
        return std::string(reply->str, reply->len);
      case REDIS_REPLY_ERROR:
        return "(error) " + std::string(reply->str, reply->len);
      case REDIS_REPLY_INTEGER:
        return std::to_string(reply->integer);
      case REDIS_REPLY_NIL:
        return "(nil)";
      case REDIS_REPLY_ARRAY: {
        std::string text = "[";
        for (size_t i = 0; i < reply->elements; ++i) {
          if (i > 0) text += ",";
          text += Render(reply->element[i]);
        }
        return text + "]";
      }
    }
    return "(?)";
  }

 private:
  redisContext* context_ = nullptr;
};

// One redis-server child process.
class RedisServer {
 public:
  RedisServer() = default;
  ~RedisServer() { Kill(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Starts redis-server on `port` (0: a free one, retried a few times should another process
  // take it first) and waits until it answers PING. `extra_args` are appended to the command
  // line (e.g. {"--cluster-enabled", "yes"}). Returns false and sets `error` if it could not;
  // the server's own output is included.
  bool Start(int port, std::string* error, const std::vector<std::string>& extra_args = {}) {
    const int attempts = port == 0 ? 5 : 1;
    for (int attempt = 0; attempt < attempts; ++attempt) {
      const int chosen = port == 0 ? FreeLoopbackPort() : port;
      if (chosen == 0) {
        *error = std::string("no free port: ") + std::strerror(errno);
        return false;
      }
      if (StartOn(chosen, extra_args, error)) return true;
    }
    return false;
  }

  // Kills the server at once (SIGKILL, as a crash would) and reaps it.
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }

  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  // Sends `signal` (SIGSTOP, SIGCONT: a node frozen and thawed) to the running server.
  void Signal(int signal) {
    if (pid_ > 0) kill(pid_, signal);
  }

 private:
  bool StartOn(int port, const std::vector<std::string>& extra_args, std::string* error) {
    port_ = port;
    const std::string port_text = std::to_string(port);
    log_path_ =
        "/tmp/switchboard-test-redis-" + std::to_string(getpid()) + "-" + port_text + ".log";
    std::vector<std::string> args = {
        "redis-server", "--port",      port_text, "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no",          "--dir",   "/tmp",   "--logfile", "",       "--daemonize",
        "no",           "--databases", "16"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);

    // fork and exec rather than posix_spawn, for PR_SET_PDEATHSIG: should the test process die
    // (a crash, a sanitizer abort, a ctest timeout), the server dies with it instead of lingering.
    // Only async-signal-safe calls between fork and exec. An exec failure comes back as an errno
    // through a close-on-exec pipe.
    int exec_status[2];
    if (pipe2(exec_status, O_CLOEXEC) != 0) {
      *error = std::string("pipe2: ") + std::strerror(errno);
      return false;
    }
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) {
      *error = std::string("fork: ") + std::strerror(errno);
      close(exec_status[0]);
      close(exec_status[1]);
      return false;
    }
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);  // the parent is gone already
      const int in = open("/dev/null", O_RDONLY);
      const int out = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (in >= 0) dup2(in, STDIN_FILENO);
      if (out >= 0) {
        dup2(out, STDOUT_FILENO);
        dup2(out, STDERR_FILENO);
      }
      execvp(argv[0], argv.data());
      const int failure = errno;
      if (write(exec_status[1], &failure, sizeof(failure)) < 0) _exit(127);
      _exit(127);
    }
    close(exec_status[1]);
    int failure = 0;
    ssize_t got;
    while ((got = read(exec_status[0], &failure, sizeof(failure))) < 0 && errno == EINTR) {
    }
    close(exec_status[0]);
    if (got == static_cast<ssize_t>(sizeof(failure))) {
      waitpid(pid, nullptr, 0);
      std::remove(log_path_.c_str());
      *error = std::string("cannot start redis-server (install the redis-server package): ") +
               std::strerror(failure);
      return false;
    }
    pid_ = pid;

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        *error = "redis-server on port " + port_text + " exited: " + ReadLog();
        return false;
      }
      RedisClient client(port);
      if (client.ok() && client.Run({"PING"}) == "PONG") {
        std::remove(log_path_.c_str());
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    *error = "redis-server on port " + port_text + " did not answer PING: " + ReadLog();
    Kill();
    return false;
  }

  std::string ReadLog() const {
    std::ifstream in(log_path_);
    std::stringstream text;
    text << in.rdbuf();
    std::remove(log_path_.c_str());
    return text.str();
  }

  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_path_;
};

}  // namespace switchboard::routing
