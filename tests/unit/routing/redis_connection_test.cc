// RedisConnection against a real redis-server: pipelining and its one write per pass of the loop,
// plain and sharded pub/sub, AUTH and SELECT, the ways a connection is lost (refused, timed out,
// killed, a reply of the wrong shape), Drop() and Quit(), reconnecting, and a large value.
//
// Each test runs its own libuv loop, pumped until a condition holds or a deadline passes; at the
// end every handle must be closed (the loop runs out and uv_loop_close succeeds).

#include "routing/redis_connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "redis_server_fixture.h"

namespace switchboard::routing {
namespace {

using std::chrono::milliseconds;
using Strings = std::vector<std::string>;
using SteadyClock = std::chrono::steady_clock;

constexpr milliseconds kDeadline = milliseconds(5000);

std::string Text(const redisReply* reply) {
  if (reply == nullptr) return "(lost)";
  if (reply->type == REDIS_REPLY_ARRAY) return "(array)";
  return RedisClient::Render(reply);
}

// What a connection reported, in order.
struct Recorder {
  int connected = 0;
  Strings lost;
  Strings log;  // "connected", "lost: <why>", and whatever the test's callbacks add

  RedisConnection::Events Events() {
    return {[this] {
              ++connected;
              log.push_back("connected");
            },
            [this](std::string_view why) {
              lost.emplace_back(why);
              log.push_back("lost: " + std::string(why));
            }};
  }
};

// A push, as "kind channel payload".
struct Pushes {
  Strings seen;
  RedisConnection::PushCallback Callback() {
    return [this](std::string_view kind, std::string_view channel, std::string_view payload) {
      seen.push_back(std::string(kind) + " " + std::string(channel) + " " + std::string(payload));
    };
  }
};

class RedisConnectionTest : public testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(uv_loop_init(&loop_), 0); }

  void TearDown() override {
    connections_.clear();
    const bool released = RunUntil([&] { return uv_loop_alive(&loop_) == 0; }, kDeadline);
    EXPECT_TRUE(released) << "the connections' handles close";
    if (released) {
      EXPECT_EQ(uv_loop_close(&loop_), 0);
    }
  }

  void StartRedis(const Strings& extra_args = {}) {
    std::string error;
    ASSERT_TRUE(redis_.Start(0, &error, extra_args)) << error;
  }

  // The fixture's readiness check is a PING without AUTH: the password is set once it answered.
  void StartRedisWithPassword(std::string_view password) {
    StartRedis();
    RedisClient client(redis_.port());
    ASSERT_EQ(client.Run({"CONFIG", "SET", "requirepass", password}), "OK");
  }

  RedisAddress Address(int port = -1) const {
    RedisAddress address;
    address.host = "127.0.0.1";
    address.port = port < 0 ? redis_.port() : port;
    return address;
  }

  // A connection owned by the test (destroyed before the loop is closed).
  RedisConnection& Make(RedisAddress address, Recorder* recorder) {
    connections_.push_back(
        std::make_unique<RedisConnection>(&loop_, std::move(address), "test", recorder->Events()));
    return *connections_.back();
  }

  // A connected connection to the test's redis-server.
  RedisConnection& Connected(Recorder* recorder, RedisAddress address) {
    RedisConnection& connection = Make(std::move(address), recorder);
    connection.Connect();
    EXPECT_TRUE(RunUntil([&] { return recorder->connected > 0 || !recorder->lost.empty(); }));
    EXPECT_TRUE(connection.connected()) << testing::PrintToString(recorder->log);
    return connection;
  }
  RedisConnection& Connected(Recorder* recorder) { return Connected(recorder, Address()); }

  // Runs the loop until `condition` holds (true) or `timeout` passes (false). Never blocks in
  // the loop: one non-blocking pass at a time.
  bool RunUntil(const std::function<bool()>& condition, milliseconds timeout = kDeadline) {
    const auto deadline = SteadyClock::now() + timeout;
    while (!condition()) {
      if (SteadyClock::now() >= deadline) return false;
      uv_run(&loop_, UV_RUN_NOWAIT);
      if (!condition()) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return true;
  }

  // Runs the loop for `duration`, whatever happens.
  void RunFor(milliseconds duration) {
    RunUntil([] { return false; }, duration);
  }

  uv_loop_t loop_{};
  RedisServer redis_;
  std::vector<std::unique_ptr<RedisConnection>> connections_;
};

// ---------------------------------------------------------------------------------------------
// Commands.

TEST_F(RedisConnectionTest, PipelinedCommandsAreAnsweredInOrder) {
  StartRedis();
  Recorder recorder;
  RedisConnection& connection = Connected(&recorder);
  constexpr int kCount = 10000;
  std::vector<long long> replies;
  replies.reserve(kCount);
  int wrong = 0;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(connection.Command({"INCR", "counter"}, [&](redisReply* reply) {
      if (reply == nullptr || reply->type != REDIS_REPLY_INTEGER) {
        ++wrong;
        return;
      }
      replies.push_back(reply->integer);
    }));
  }
  ASSERT_TRUE(RunUntil([&] { return replies.size() + wrong == kCount; }));
  EXPECT_EQ(wrong, 0);
  for (int i = 0; i < kCount; ++i) ASSERT_EQ(replies[i], i + 1) << "reply " << i;
  EXPECT_EQ(connection.writes(), 1u) << "issued in one pass: one write";
  EXPECT_TRUE(recorder.lost.empty());
  RedisClient client(redis_.port());
  EXPECT_EQ(client.Run({"GET", "counter"}), std::to_string(kCount));
}

// The commands issued during one pass of the loop (here: by two timers due together, then by
// one reply callback) leave in one write.
TEST_F(RedisConnectionTest, CommandsIssuedInOnePassLeaveInOneWrite) {
  StartRedis();
  Recorder recorder;
  RedisConnection& connection = Connected(&recorder);
  ASSERT_EQ(connection.writes(), 0u) << "no AUTH, no SELECT: nothing written yet";

  struct Context {
    RedisConnection* connection;
    Strings* answers;
  };
  Strings answers;
  Context context{&connection, &answers};
  uv_timer_t timers[2];
  for (uv_timer_t& timer : timers) {
    uv_timer_init(&loop_, &timer);
    timer.data = &context;
    uv_timer_start(
        &timer,
        [](uv_timer_t* fired) {
          auto* context = static_cast<Context*>(fired->data);
          for (int i = 0; i < 3; ++i) {
            context->connection->Command({"INCR", "a"}, [context](redisReply* reply) {
              context->answers->push_back(Text(reply));
            });
          }
        },
        0, 0);
  }
  ASSERT_TRUE(RunUntil([&] { return answers.size() == 6; }));
  EXPECT_EQ(answers, (Strings{"1", "2", "3", "4", "5", "6"}));
  EXPECT_EQ(connection.writes(), 1u) << "two timers in one pass: one write";

  // From inside a reply callback, during the poll phase.
  Strings more;
  connection.Command({"PING"}, [&](redisReply* reply) {
    more.push_back(Text(reply));
    for (int i = 0; i < 5; ++i) {
      connection.Command({"INCR", "b"}, [&](redisReply* inner) { more.push_back(Text(inner)); });
    }
  });
  ASSERT_TRUE(RunUntil([&] { return more.size() == 6; }));
  EXPECT_EQ(more, (Strings{"PONG", "1", "2", "3", "4", "5"}));
  EXPECT_EQ(connection.writes(), 3u) << "the PING, then the five INCRs of its callback";
  int closed = 0;
  for (uv_timer_t& timer : timers) {
    timer.data = &closed;
    uv_close(reinterpret_cast<uv_handle_t*>(&timer),
             [](uv_handle_t* handle) { ++*static_cast<int*>(handle->data); });
  }
  ASSERT_TRUE(RunUntil([&] { return closed == 2; }));
}

// Two connections given commands in one pass write in the order they were first given them, so
// Redis runs them in that order (as the pods of one process expect).
TEST_F(RedisConnectionTest, ConnectionsFlushInTheOrderTheyWereGivenCommands) {
  StartRedis();
  Recorder recorder_a;
  Recorder recorder_b;
  RedisConnection& a = Connected(&recorder_a);
  RedisConnection& b = Connected(&recorder_b);
  int answered = 0;
  auto count = [&](redisReply*) { ++answered; };
  for (int round = 0; round < 20; ++round) {
    RedisConnection& first = round % 2 == 0 ? a : b;
    RedisConnection& second = round % 2 == 0 ? b : a;
    const std::string first_name = round % 2 == 0 ? "a" : "b";
    const std::string second_name = round % 2 == 0 ? "b" : "a";
    first.Command({"RPUSH", "order", first_name}, count);
    second.Command({"RPUSH", "order", second_name}, count);
    first.Command({"RPUSH", "order", first_name}, count);
    ASSERT_TRUE(RunUntil([&] { return answered == 3 * (round + 1); }));
  }
  RedisClient client(redis_.port());
  std::string expected = "[";
  for (int round = 0; round < 20; ++round) {
    expected += round == 0 ? "" : ",";
    expected += round % 2 == 0 ? "a,a,b" : "b,b,a";
  }
  EXPECT_EQ(client.Run({"LRANGE", "order", "0", "-1"}), expected + "]");
}

TEST_F(RedisConnectionTest, EncodesLikeHiredisAndArgumentsAreBinarySafe) {
  const std::vector<std::vector<std::string_view>> commands = {
      {"PING"},
      {"SET", "key", ""},
      {"SET", std::string_view("a\0b\r\nc", 6), "x"},
      {std::string_view("", 0)},
  };
  for (const auto& args : commands) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (std::string_view arg : args) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    char* formatted = nullptr;
    const int length = redisFormatCommandArgv(&formatted, static_cast<int>(argv.size()),
                                              argv.data(), lengths.data());
    ASSERT_GT(length, 0);
    std::string ours = "prefix";
    RedisConnection::AppendCommand(&ours, args);
    EXPECT_EQ(ours, "prefix" + std::string(formatted, length));
    std::free(formatted);
  }

  StartRedis();
  Recorder recorder;
  RedisConnection& connection = Connected(&recorder);
  const std::string key("k\0\r\n", 4);
  const std::string value("v\r\n\0*3\r\n$", 10);
  Strings answers;
  connection.Command({"SET", key, value},
                     [&](redisReply* reply) { answers.push_back(Text(reply)); });
  connection.Command({"GET", key}, [&](redisReply* reply) { answers.push_back(Text(reply)); });
  connection.Command({"SET", "empty", ""},
                     [&](redisReply* reply) { answers.push_back(Text(reply)); });
  connection.Command({"STRLEN", "empty"},
                     [&](redisReply* reply) { answers.push_back(Text(reply)); });
  ASSERT_TRUE(RunUntil([&] { return answers.size() == 4; }));
  EXPECT_EQ(answers, (Strings{"OK", value, "OK", "0"}));
}

// Errors and replies of any kind go to their callback as they are.
TEST_F(RedisConnectionTest, RepliesOfEveryKindReachTheirCallback) {
  StartRedis();
  Recorder recorder;
  RedisConnection& connection = Connected(&recorder);
  Strings answers;
  size_t elements = 0;
  auto record = [&](redisReply* reply) { answers.push_back(Text(reply)); };
  connection.Command({"HSET", "h", "f", "v"}, record);
  connection.Command({"GET", "h"}, record);  // WRONGTYPE
  connection.Command({"NOSUCHCOMMAND"}, record);
  connection.Command({"GET", "missing"}, record);
  connection.Command({"HGETALL", "h"}, [&](redisReply* reply) {
    record(reply);
    if (reply != nullptr && reply->type == REDIS_REPLY_ARRAY) elements = reply->elements;
  });
  connection.Command({"PING"}, nullptr);  // no callback: the reply is dropped
  connection.Command({"ECHO", "last"}, record);
  ASSERT_TRUE(RunUntil([&] { return answers.size() == 6; }));
  EXPECT_EQ(answers[0], "1");
  EXPECT_TRUE(answers[1].starts_with("(error) WRONGTYPE")) << answers[1];
  EXPECT_TRUE(answers[2].starts_with("(error) ERR unknown command")) << answers[2];
  EXPECT_EQ(answers[3], "(nil)");
  EXPECT_EQ(answers[4], "(array)");
  EXPECT_EQ(elements, 2u);
  EXPECT_EQ(answers[5], "last");
  EXPECT_TRUE(recorder.lost.empty());
}

TEST_F(RedisConnectionTest, TenMegabyteValueRoundTrips) {
  StartRedis();
  Recorder recorder;
  RedisConnection& connection = Connected(&recorder);
  std::string value(10 * 1024 * 1024, '\0');
  for (size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>('a' + (i * 7919) % 26);
  std::optional<std::string> set;
  std::optional<std::string> got;
  connection.Command({"SET", "big", value}, [&](redisReply* reply) { set = Text(reply); });
  connection.Command({"GET", "big"}, [&](redisReply* reply) { got = Text(reply); });
  ASSERT_TRUE(RunUntil([&] { return got.has_value(); }, milliseconds(20000)));
  EXPECT_EQ(set, "OK");
  ASSERT_EQ(got->size(), value.size());
  EXPECT_TRUE(*got == value);
  // Still usable after it.
  std::optional<std::string> pong;
  connection.Command({"PING"}, [&](redisReply* reply) { pong = Text(reply); });
  ASSERT_TRUE(RunUntil([&] { return pong.has_value(); }));
  EXPECT_EQ(pong, "PONG");
}

// ---------------------------------------------------------------------------------------------
// Pub/sub.

TEST_F(RedisConnectionTest, SubscribeReceivesMessagesOnSeveralChannels) {
  StartRedis();
  Recorder recorder;
  RedisConnection& connection = Connected(&recorder);
  Pushes pushes;
  ASSERT_TRUE(connection.Subscribe("SUBSCRIBE", {"one", "two", "three"}, pushes.Callback()));
  EXPECT_FALSE(connection.Command({"PING"}, [](redisReply*) { ADD_FAILURE() << "called"; }))
      << "a subscriber takes no commands";
  ASSERT_TRUE(RunUntil([&] { return pushes.seen.size() == 3; }));
  EXPECT_EQ(pushes.seen, (Strings{"subscribe one 1", "subscribe two 2", "subscribe three 3"}));

  RedisClient client(redis_.port());
  EXPECT_EQ(client.Run({"PUBLISH", "two", "hello"}), "1");
  EXPECT_EQ(client.Run({"PUBLISH", "one", std::string_view("bin\0\r\n", 6)}), "1");
  EXPECT_EQ(client.Run({"PUBLISH", "three", ""}), "1");
  EXPECT_EQ(client.Run({"PUBLISH", "four", "nobody"}), "0");
  ASSERT_TRUE(RunUntil([&] { return pushes.seen.size() == 6; }));
  EXPECT_EQ(pushes.seen[3], "message two hello");
  EXPECT_EQ(pushes.seen[4], "message one " + std::string("bin\0\r\n", 6));
  EXPECT_EQ(pushes.seen[5], "message three ");

  // Subscribing again adds channels; the new callback takes over.
  Pushes later;
  ASSERT_TRUE(connection.Subscribe("SUBSCRIBE", {"four"}, later.Callback()));
  ASSERT_TRUE(RunUntil([&] { return later.seen.size() == 1; }));
  EXPECT_EQ(later.seen[0], "subscribe four 4");
  EXPECT_EQ(client.Run({"PUBLISH", "four", "now"}), "1");
  EXPECT_EQ(client.Run({"PUBLISH", "one", "also"}), "1");
  ASSERT_TRUE(RunUntil([&] { return later.seen.size() == 3; }));
  EXPECT_EQ(later.seen[1], "message four now");
  EXPECT_EQ(later.seen[2], "message one also");
  EXPECT_EQ(pushes.seen.size(), 6u);
  EXPECT_TRUE(recorder.lost.empty());
}

TEST_F(RedisConnectionTest, SsubscribeReceivesShardedMessages) {
  StartRedis();
  Recorder recorder;
  RedisConnection& connection = Connected(&recorder);
  Pushes pushes;
  ASSERT_TRUE(connection.Subscribe("SSUBSCRIBE", {"{pod}.a", "{pod}.b"}, pushes.Callback()));
  ASSERT_TRUE(RunUntil([&] { return pushes.seen.size() == 2; }));
  EXPECT_EQ(pushes.seen, (Strings{"ssubscribe {pod}.a 1", "ssubscribe {pod}.b 2"}));
  // A standalone server takes channels of any slot in one SSUBSCRIBE.
  ASSERT_TRUE(connection.Subscribe("SSUBSCRIBE", {"x", "y"}, pushes.Callback()));
  ASSERT_TRUE(RunUntil([&] { return pushes.seen.size() == 4; }));
  EXPECT_EQ(pushes.seen[2], "ssubscribe x 3");
  EXPECT_EQ(pushes.seen[3], "ssubscribe y 4");

  RedisClient client(redis_.port());
  EXPECT_EQ(client.Run({"SPUBLISH", "{pod}.b", "to b"}), "1");
  EXPECT_EQ(client.Run({"SPUBLISH", "y", "to y"}), "1");
  EXPECT_EQ(client.Run({"SPUBLISH", "{pod}.a", "to a"}), "1");
  ASSERT_TRUE(RunUntil([&] { return pushes.seen.size() == 7; }));
  EXPECT_EQ(pushes.seen[4], "smessage {pod}.b to b");
  EXPECT_EQ(pushes.seen[5], "smessage y to y");
  EXPECT_EQ(pushes.seen[6], "smessage {pod}.a to a");
  EXPECT_TRUE(recorder.lost.empty());
}

// Commands sent before Subscribe get their replies first; then every reply is a push.
TEST_F(RedisConnectionTest, RepliesDueBeforeSubscribeGoToTheirCallbacks) {
  StartRedis();
  Recorder recorder;
  RedisConnection& connection = Connected(&recorder);
  Strings log;
  Pushes pushes;
  connection.Command({"ECHO", "before"}, [&](redisReply* reply) { log.push_back(Text(reply)); });
  ASSERT_TRUE(connection.Subscribe(
      "SUBSCRIBE", {"c"},
      [&](std::string_view kind, std::string_view channel, std::string_view payload) {
        log.push_back(std::string(kind) + " " + std::string(channel) + " " + std::string(payload));
      }));
  ASSERT_TRUE(RunUntil([&] { return log.size() == 2; }));
  EXPECT_EQ(log, (Strings{"before", "subscribe c 1"}));
}

// A reply that is no push (here an error, and a PING's two-element "pong") makes the connection
// lost, with the reason; never a crash.
TEST_F(RedisConnectionTest, AnUnexpectedReplyOnASubscriberIsALoss) {
  StartRedis();
  {
    Recorder recorder;
    RedisConnection& connection = Connected(&recorder);
    Pushes pushes;
    ASSERT_TRUE(connection.Subscribe("NOSUCHVERB", {"x"}, pushes.Callback()));
    ASSERT_TRUE(RunUntil([&] { return !recorder.lost.empty(); }));
    EXPECT_TRUE(recorder.lost[0].starts_with("unexpected reply on a subscriber connection: ERR"))
        << recorder.lost[0];
    EXPECT_FALSE(connection.connected());
  }
  {
    Recorder recorder;
    RedisConnection& connection = Connected(&recorder);
    Pushes pushes;
    ASSERT_TRUE(connection.Subscribe("SUBSCRIBE", {"x"}, pushes.Callback()));
    ASSERT_TRUE(connection.Subscribe("PING", {"hello"}, pushes.Callback()));  // ["pong","hello"]
    ASSERT_TRUE(RunUntil([&] { return !recorder.lost.empty(); }));
    EXPECT_EQ(recorder.lost[0], "unexpected reply on a subscriber connection");
    EXPECT_EQ(pushes.seen, (Strings{"subscribe x 1"}));
    EXPECT_EQ(recorder.lost.size(), 1u);
  }
}

// ---------------------------------------------------------------------------------------------
// AUTH and SELECT.

TEST_F(RedisConnectionTest, AuthenticatesAndSelects) {
  StartRedisWithPassword("s3cret");
  Recorder recorder;
  RedisAddress address = Address();
  address.password = "s3cret";
  address.db = 3;
  RedisConnection& connection = Connected(&recorder, address);
  std::optional<std::string> set;
  connection.Command({"SET", "where", "db3"}, [&](redisReply* reply) { set = Text(reply); });
  ASSERT_TRUE(RunUntil([&] { return set.has_value(); }));
  EXPECT_EQ(set, "OK");
  EXPECT_EQ(connection.writes(), 1u) << "AUTH, SELECT and the command together";

  RedisClient client(redis_.port());
  EXPECT_EQ(client.Run({"AUTH", "s3cret"}), "OK");
  EXPECT_EQ(client.Run({"GET", "where"}), "(nil)");
  EXPECT_EQ(client.Run({"SELECT", "3"}), "OK");
  EXPECT_EQ(client.Run({"GET", "where"}), "db3");

  // With a user name: AUTH default <password>.
  Recorder named;
  address.user = "default";
  address.db = 0;
  RedisConnection& with_user = Connected(&named, address);
  std::optional<std::string> who;
  with_user.Command({"ACL", "WHOAMI"}, [&](redisReply* reply) { who = Text(reply); });
  ASSERT_TRUE(RunUntil([&] { return who.has_value(); }));
  EXPECT_EQ(who, "default");
  EXPECT_TRUE(recorder.lost.empty());
  EXPECT_TRUE(named.lost.empty());
}

TEST_F(RedisConnectionTest, AWrongPasswordIsALossMentioningAuth) {
  StartRedisWithPassword("s3cret");
  Recorder recorder;
  RedisAddress address = Address();
  address.password = "wrong";
  RedisConnection& connection = Make(address, &recorder);
  connection.Connect();
  std::optional<std::string> answer;
  ASSERT_TRUE(RunUntil([&] { return recorder.connected > 0; }));
  connection.Command({"GET", "x"}, [&](redisReply* reply) { answer = Text(reply); });
  ASSERT_TRUE(RunUntil([&] { return !recorder.lost.empty(); }));
  EXPECT_TRUE(recorder.lost[0].starts_with("AUTH refused: WRONGPASS")) << recorder.lost[0];
  EXPECT_EQ(recorder.lost[0].find("wrong"), std::string::npos) << "no password in the reason";
  EXPECT_EQ(answer, "(lost)") << "the command after AUTH gets nullptr, not NOAUTH";
  EXPECT_FALSE(connection.connected());
  RunFor(milliseconds(50));
  EXPECT_EQ(recorder.lost.size(), 1u) << "lost once";
}

// ---------------------------------------------------------------------------------------------
// Losses.

TEST_F(RedisConnectionTest, AClosedPortIsLostAtOnce) {
  Recorder recorder;
  RedisConnection& connection = Make(Address(FreeLoopbackPort()), &recorder);
  const auto started = SteadyClock::now();
  connection.Connect();
  EXPECT_TRUE(recorder.log.empty()) << "nothing reported from inside Connect()";
  ASSERT_TRUE(RunUntil([&] { return !recorder.lost.empty(); },
                       milliseconds(RedisConnection::kConnectTimeoutMs + 500)));
  EXPECT_LT(SteadyClock::now() - started, milliseconds(RedisConnection::kConnectTimeoutMs));
  EXPECT_NE(recorder.lost[0].find("connection refused"), std::string::npos) << recorder.lost[0];
  EXPECT_EQ(recorder.connected, 0);
  EXPECT_FALSE(connection.Command({"PING"}, nullptr));
}

// A listener whose accept queue is full drops the SYN: the connect hangs until the timeout.
TEST_F(RedisConnectionTest, AConnectThatHangsTimesOut) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener, 0), 0);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    const int filler = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(filler, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    fillers.push_back(filler);
  }
  std::this_thread::sleep_for(milliseconds(50));

  Recorder recorder;
  RedisConnection& connection = Make(Address(ntohs(address.sin_port)), &recorder);
  const auto started = SteadyClock::now();
  connection.Connect();
  ASSERT_TRUE(RunUntil([&] { return !recorder.lost.empty(); },
                       milliseconds(RedisConnection::kConnectTimeoutMs + 2000)));
  const auto took = SteadyClock::now() - started;
  EXPECT_GE(took, milliseconds(RedisConnection::kConnectTimeoutMs - 50));
  EXPECT_NE(recorder.lost[0].find("timed out"), std::string::npos) << recorder.lost[0];
  EXPECT_EQ(recorder.connected, 0);
  EXPECT_EQ(recorder.lost.size(), 1u);
  for (int filler : fillers) close(filler);
  close(listener);
}

TEST_F(RedisConnectionTest, AnUnknownHostIsLostAfterConnectReturns) {
  Recorder recorder;
  RedisAddress address = Address(6379);
  address.host = "no-such-host.invalid";
  RedisConnection& connection = Make(address, &recorder);
  connection.Connect();
  EXPECT_TRUE(recorder.log.empty()) << "nothing reported from inside Connect()";
  ASSERT_TRUE(RunUntil([&] { return !recorder.lost.empty(); }, milliseconds(10000)));
  EXPECT_TRUE(recorder.lost[0].starts_with("cannot resolve no-such-host.invalid"))
      << recorder.lost[0];
}

// Every pending callback gets nullptr, in order, and then events.lost; a new Connect() works
// once Redis is back.
TEST_F(RedisConnectionTest, AKilledServerFailsEveryPendingCommandThenReconnects) {
  StartRedis();
  const int port = redis_.port();
  Recorder recorder;
  RedisConnection& connection = Connected(&recorder);
  // BLPOP holds the replies after it: they are all due when the server dies.
  for (int i = 0; i < 5; ++i) {
    const std::vector<std::string_view> blpop = {"BLPOP", "nothing", "0"};
    const std::vector<std::string_view> incr = {"INCR", "n"};
    connection.Command(i == 0 ? blpop : incr, [&recorder, i](redisReply* reply) {
      recorder.log.push_back("done " + std::to_string(i) + " " + Text(reply));
    });
  }
  ASSERT_TRUE(RunUntil([&] { return connection.writes() == 1; }));
  RunFor(milliseconds(50));
  ASSERT_EQ(recorder.log, (Strings{"connected"})) << "nothing answered yet";
  redis_.Kill();
  ASSERT_TRUE(RunUntil([&] { return !recorder.lost.empty(); }));
  // Lost first: the owner knows the connection is down before any caller hears of a failure.
  EXPECT_EQ(recorder.log,
            (Strings{"connected", "lost: " + recorder.lost[0], "done 0 (lost)", "done 1 (lost)",
                     "done 2 (lost)", "done 3 (lost)", "done 4 (lost)"}));
  EXPECT_FALSE(connection.connected());
  EXPECT_FALSE(connection.Command({"PING"}, nullptr));

  // Down: the same object reports the refused reconnect, then connects once Redis is back.
  connection.Connect();
  ASSERT_TRUE(RunUntil([&] { return recorder.lost.size() == 2; }));
  std::string error;
  ASSERT_TRUE(redis_.Start(port, &error)) << error;
  connection.Connect();
  ASSERT_TRUE(RunUntil([&] { return recorder.connected == 2; }));
  std::optional<std::string> answer;
  connection.Command({"INCR", "n"}, [&](redisReply* reply) { answer = Text(reply); });
  ASSERT_TRUE(RunUntil([&] { return answer.has_value(); }));
  EXPECT_EQ(answer, "1");
  EXPECT_EQ(recorder.lost.size(), 2u);
}

// ---------------------------------------------------------------------------------------------
// Drop and Quit.

TEST_F(RedisConnectionTest, DropDiscardsTheCommandsNotYetWritten) {
  StartRedis();
  Recorder recorder;
  RedisConnection& connection = Connected(&recorder);
  for (int i = 0; i < 5; ++i) {
    connection.Command({"INCR", "dropped"}, [&recorder, i](redisReply* reply) {
      recorder.log.push_back("done " + std::to_string(i) + " " + Text(reply));
    });
  }
  connection.Drop();
  EXPECT_EQ(recorder.log, (Strings{"connected", "done 0 (lost)", "done 1 (lost)", "done 2 (lost)",
                                   "done 3 (lost)", "done 4 (lost)"}))
      << "every callback at once, in order; no events.lost";
  EXPECT_FALSE(connection.connected());
  RunFor(milliseconds(200));
  EXPECT_EQ(connection.writes(), 0u);
  RedisClient client(redis_.port());
  EXPECT_EQ(client.Run({"GET", "dropped"}), "(nil)") << "nothing reached the server";
  EXPECT_TRUE(recorder.lost.empty());

  // After Drop, Connect() starts afresh.
  connection.Connect();
  ASSERT_TRUE(RunUntil([&] { return recorder.connected == 2; }));
  std::optional<std::string> answer;
  connection.Command({"INCR", "dropped"}, [&](redisReply* reply) { answer = Text(reply); });
  ASSERT_TRUE(RunUntil([&] { return answer.has_value(); }));
  EXPECT_EQ(answer, "1");
}

TEST_F(RedisConnectionTest, DropWhileConnectingOrResolvingReportsNothing) {
  StartRedis();
  Recorder recorder;
  RedisConnection& connection = Make(Address(), &recorder);
  connection.Connect();
  connection.Drop();  // resolving
  RunFor(milliseconds(100));
  EXPECT_TRUE(recorder.log.empty());
  connection.Connect();
  ASSERT_TRUE(RunUntil([&] { return recorder.connected == 1; }));
  EXPECT_TRUE(recorder.lost.empty());
}

TEST_F(RedisConnectionTest, QuitSendsWhatWasIssuedAndCloses) {
  StartRedis();
  Recorder recorder;
  RedisConnection& connection = Connected(&recorder);
  Strings answers;
  connection.Command({"SET", "k", "v"}, [&](redisReply* reply) { answers.push_back(Text(reply)); });
  connection.Command({"INCR", "n"}, [&](redisReply* reply) { answers.push_back(Text(reply)); });
  connection.Quit();
  EXPECT_FALSE(connection.connected());
  EXPECT_FALSE(connection.Command({"PING"}, nullptr));
  ASSERT_TRUE(RunUntil([&] { return uv_loop_alive(&loop_) == 0; }))
      << "the connection closes by itself";
  EXPECT_EQ(answers, (Strings{"OK", "1"}));
  EXPECT_TRUE(recorder.lost.empty());
  RedisClient client(redis_.port());
  EXPECT_EQ(client.Run({"GET", "k"}), "v");

  // A subscriber quits too.
  Recorder subscriber_events;
  RedisConnection& subscriber = Connected(&subscriber_events);
  Pushes pushes;
  ASSERT_TRUE(subscriber.Subscribe("SUBSCRIBE", {"q"}, pushes.Callback()));
  subscriber.Quit();
  ASSERT_TRUE(RunUntil([&] { return uv_loop_alive(&loop_) == 0; }));
  EXPECT_EQ(pushes.seen, (Strings{"subscribe q 1"}));
  EXPECT_TRUE(subscriber_events.lost.empty());
}

// The destructor is safe in every state; the handles finish closing on the loop.
TEST_F(RedisConnectionTest, DestroyingInAnyStateIsSafe) {
  StartRedis();
  {
    Recorder recorder;
    RedisConnection resolving(&loop_, Address(), "resolving", recorder.Events());
    resolving.Connect();
  }
  {
    Recorder recorder;
    auto connecting =
        std::make_unique<RedisConnection>(&loop_, Address(), "connecting", recorder.Events());
    connecting->Connect();
    RunUntil([&] { return false; }, milliseconds(0));
    connecting.reset();
    EXPECT_TRUE(recorder.log.empty());
  }
  {
    Recorder recorder;
    auto connected =
        std::make_unique<RedisConnection>(&loop_, Address(), "connected", recorder.Events());
    connected->Connect();
    ASSERT_TRUE(RunUntil([&] { return recorder.connected == 1; }));
    Strings answers;
    connected->Command({"INCR", "x"}, [&](redisReply* reply) { answers.push_back(Text(reply)); });
    ASSERT_TRUE(RunUntil([&] { return connected->writes() == 1; }));
    connected->Command({"INCR", "x"}, [&](redisReply* reply) { answers.push_back(Text(reply)); });
    connected.reset();
    EXPECT_EQ(answers.size(), 2u);
    EXPECT_TRUE(recorder.lost.empty());
  }
  {
    Recorder recorder;
    auto quitting =
        std::make_unique<RedisConnection>(&loop_, Address(), "quitting", recorder.Events());
    quitting->Connect();
    ASSERT_TRUE(RunUntil([&] { return recorder.connected == 1; }));
    quitting->Quit();
    quitting.reset();
  }
  ASSERT_TRUE(RunUntil([&] { return uv_loop_alive(&loop_) == 0; }));
}

}  // namespace
}  // namespace switchboard::routing
