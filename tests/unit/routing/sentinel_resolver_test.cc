#include "routing/sentinel_resolver.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::routing {
namespace {

using std::chrono::milliseconds;
using Action = SentinelResolver::Action;
using Cause = SentinelResolver::Cause;
using Step = SentinelResolver::Step;

const Clock::time_point kT0 = Clock::time_point() + std::chrono::hours(1);

// ---------------------------------------------------------------------------------------------
// Helpers

// RESP text builders, to write replies the way a server sends them.
std::string Int(long long value) { return ":" + std::to_string(value) + "\r\n"; }
std::string Bulk(std::string_view text) {
  return "$" + std::to_string(text.size()) + "\r\n" + std::string(text) + "\r\n";
}
std::string Nil() { return "$-1\r\n"; }
std::string Err(std::string_view text) { return "-" + std::string(text) + "\r\n"; }
std::string Status(std::string_view text) { return "+" + std::string(text) + "\r\n"; }
std::string Arr(const std::vector<std::string>& items) {
  std::string text = "*" + std::to_string(items.size()) + "\r\n";
  for (const std::string& item : items) text += item;
  return text;
}

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// The reply tree hiredis' own reader makes of `resp`; null if the text is not one whole reply.
Reply Parse(std::string_view resp) {
  redisReader* reader = redisReaderCreate();
  if (reader == nullptr) return nullptr;
  void* reply = nullptr;
  if (redisReaderFeed(reader, resp.data(), resp.size()) != REDIS_OK ||
      redisReaderGetReply(reader, &reply) != REDIS_OK) {
    reply = nullptr;
  }
  redisReaderFree(reader);
  return Reply(static_cast<redisReply*>(reply));
}

// The list as one line ("a:1 [::1]:2"), or "error: <why>".
std::string List(std::string_view text) {
  std::string error;
  const auto sentinels = ParseSentinelList(text, &error);
  if (!sentinels) return "error: " + error;
  std::string out;
  for (const NodeAddress& sentinel : *sentinels) {
    out += (out.empty() ? "" : " ") + ToString(sentinel);
  }
  return out;
}

// The error of a list that must be refused.
std::string ListError(std::string_view text) {
  std::string error;
  EXPECT_FALSE(ParseSentinelList(text, &error)) << "accepted: " << text;
  EXPECT_FALSE(error.empty());
  return error;
}

// An answer to SENTINEL get-master-addr-by-name, as one line.
std::string AddrOf(const MasterAddrAnswer& answer) {
  switch (answer.kind) {
    case MasterAddrAnswer::Kind::kAddress:
      return "address " + ToString(answer.address);
    case MasterAddrAnswer::Kind::kUnknownMaster:
      return "unknown";
    case MasterAddrAnswer::Kind::kError:
      return "error: " + answer.detail;
    case MasterAddrAnswer::Kind::kUnreachable:
      return "unreachable: " + answer.detail;
  }
  return "?";
}
std::string Addr(std::string_view resp) {
  Reply reply = Parse(resp);
  EXPECT_NE(reply, nullptr) << "the test's RESP text is not one reply";
  return AddrOf(ParseMasterAddrReply(reply.get()));
}

std::string RoleOf(const RoleAnswer& answer) {
  switch (answer.kind) {
    case RoleAnswer::Kind::kMaster:
      return "master";
    case RoleAnswer::Kind::kReplica:
      return "replica: " + answer.detail;
    case RoleAnswer::Kind::kOther:
      return "other: " + answer.detail;
    case RoleAnswer::Kind::kError:
      return "error: " + answer.detail;
    case RoleAnswer::Kind::kUnreachable:
      return "unreachable: " + answer.detail;
  }
  return "?";
}
std::string Role(std::string_view resp) {
  Reply reply = Parse(resp);
  EXPECT_NE(reply, nullptr) << "the test's RESP text is not one reply";
  return RoleOf(ParseRoleReply(reply.get()));
}

std::string Switch(std::string_view payload) {
  std::string error;
  const auto message = ParseSwitchMaster(payload, &error);
  if (!message) return "error: " + error;
  return message->master_name + " " + ToString(message->from) + " -> " + ToString(message->to);
}

std::string CauseName(Cause cause) {
  switch (cause) {
    case Cause::kNone:
      return "";
    case Cause::kNoSentinels:
      return " (no sentinels)";
    case Cause::kSentinelsUnreachable:
      return " (sentinels unreachable)";
    case Cause::kMasterUnknown:
      return " (master unknown)";
    case Cause::kNoAddress:
      return " (no address)";
    case Cause::kNotMaster:
      return " (not master)";
    case Cause::kMasterUnreachable:
      return " (master unreachable)";
    case Cause::kSwitched:
      return " (switched)";
  }
  return " (?)";
}

// A step as one line, its deadline relative to `now`: "ask s1:26379 +500ms", "role m:6379
// +1000ms", "wait +100ms (cause)", "use m:6379", "reconnect m:6379 (switched)", "idle".
std::string Describe(const Step& step, Clock::time_point now) {
  const auto in = [&] {
    return " +" +
           std::to_string(std::chrono::duration_cast<milliseconds>(step.deadline - now).count()) +
           "ms";
  };
  switch (step.action) {
    case Action::kIdle:
      return "idle";
    case Action::kAskSentinel:
      return "ask " + ToString(step.address) + in();
    case Action::kCheckRole:
      return "role " + ToString(step.address) + in();
    case Action::kWait:
      return "wait" + in() + CauseName(step.cause);
    case Action::kUse:
      return "use " + ToString(step.address);
    case Action::kReconnect:
      return "reconnect " + ToString(step.address) + CauseName(step.cause);
  }
  return "?";
}
std::string Describe(const std::optional<Step>& step, Clock::time_point now) {
  return step ? Describe(*step, now) : "ignored";
}

NodeAddress At(std::string host, int port) { return NodeAddress{std::move(host), port}; }

const NodeAddress kS1 = At("s1", 26379);
const NodeAddress kS2 = At("s2", 26379);
const NodeAddress kS3 = At("s3", 26379);
const NodeAddress kM = At("10.0.0.1", 6379);
const NodeAddress kR = At("10.0.0.2", 6379);

MasterAddrAnswer Address(NodeAddress address) {
  return {MasterAddrAnswer::Kind::kAddress, std::move(address), {}};
}
MasterAddrAnswer Unknown() { return {MasterAddrAnswer::Kind::kUnknownMaster, {}, {}}; }
MasterAddrAnswer Error(std::string text) {
  return {MasterAddrAnswer::Kind::kError, {}, std::move(text)};
}
MasterAddrAnswer Unreachable(std::string why) {
  return {MasterAddrAnswer::Kind::kUnreachable, {}, std::move(why)};
}
RoleAnswer Master() { return {RoleAnswer::Kind::kMaster, "master"}; }
RoleAnswer Replica() { return {RoleAnswer::Kind::kReplica, "a replica of 10.0.0.2:6379"}; }

std::string Order(const SentinelResolver& resolver) {
  std::string out;
  for (const NodeAddress& sentinel : resolver.sentinels()) {
    out += (out.empty() ? "" : " ") + sentinel.host;
  }
  return out;
}

// A resolver for master "mymaster" with sentinels s1, s2, s3 (in that order) and full jitter
// (random 1.0: each backoff delay is its whole base), so that every delay is exact.
SentinelResolver::Options Options(std::vector<NodeAddress> sentinels = {kS1, kS2, kS3}) {
  SentinelResolver::Options options;
  options.master_name = "mymaster";
  options.sentinels = std::move(sentinels);
  options.random_unit = [] { return 1.0; };
  return options;
}

// Drives a resolver through the test's steps, keeping the time.
class SentinelResolverTest : public ::testing::Test {
 protected:
  explicit SentinelResolverTest(SentinelResolver::Options options = Options())
      : resolver_(std::move(options)) {}

  std::string Begin() { return Describe(resolver_.Begin(now_), now_); }
  std::string Answer(const MasterAddrAnswer& answer) {
    return Describe(resolver_.OnSentinelAnswer(resolver_.step().attempt, now_, answer), now_);
  }
  std::string RoleIs(const RoleAnswer& answer) {
    return Describe(resolver_.OnRole(resolver_.step().attempt, now_, answer), now_);
  }
  std::string Deadline() {
    return Describe(resolver_.OnDeadline(resolver_.step().attempt, now_), now_);
  }
  std::string Switched(std::string_view payload) {
    std::string error;
    const std::optional<SwitchMaster> message = ParseSwitchMaster(payload, &error);
    EXPECT_TRUE(message) << error;
    return Describe(resolver_.OnSwitchMaster(now_, *message), now_);
  }
  // Moves the clock to the current step's deadline.
  void ToDeadline() { now_ = resolver_.step().deadline; }
  // Resolves to master kM through s1: Begin, address, ROLE master.
  void ResolveToM() {
    ASSERT_EQ(Begin(), "ask s1:26379 +500ms");
    ASSERT_EQ(Answer(Address(kM)), "role 10.0.0.1:6379 +1000ms");
    ASSERT_EQ(RoleIs(Master()), "use 10.0.0.1:6379");
  }

  Clock::time_point now_ = kT0;
  SentinelResolver resolver_;
};

// ---------------------------------------------------------------------------------------------
// ParseSentinelList

TEST(SentinelListTest, HostsPortsAndDefaults) {
  EXPECT_EQ(List("10.0.0.1:26379"), "10.0.0.1:26379");
  EXPECT_EQ(List("a:1,b:2,c:65535"), "a:1 b:2 c:65535");
  EXPECT_EQ(List("sentinel-0.sentinel.svc"), "sentinel-0.sentinel.svc:26379");
  EXPECT_EQ(List("a,b:5000"), "a:26379 b:5000");
  EXPECT_EQ(List("a:00080"), "a:80") << "leading zeros are still a port";
}

TEST(SentinelListTest, IPv6InBrackets) {
  EXPECT_EQ(List("[::1]:26380"), "[::1]:26380");
  EXPECT_EQ(List("[::1]"), "[::1]:26379");
  EXPECT_EQ(List("[fe80::1%eth0]:5,[2001:db8::7]"), "[fe80::1%eth0]:5 [2001:db8::7]:26379");
}

TEST(SentinelListTest, SpacesAroundEntriesAreIgnored) {
  EXPECT_EQ(List(" a:1 , b:2\t,\tc "), "a:1 b:2 c:26379");
}

TEST(SentinelListTest, OrderIsKept) { EXPECT_EQ(List("c:1,a:1,b:1"), "c:1 a:1 b:1"); }

TEST(SentinelListTest, EmptyListsAndEntries) {
  EXPECT_EQ(ListError(""), "the sentinel list is empty");
  EXPECT_EQ(ListError("  \t "), "the sentinel list is empty");
  EXPECT_EQ(ListError("a:1,"), "sentinel entry 2 is empty (two commas in a row, or one at an end)");
  EXPECT_EQ(ListError(",a:1"), "sentinel entry 1 is empty (two commas in a row, or one at an end)");
  EXPECT_EQ(ListError("a:1,,b:2"),
            "sentinel entry 2 is empty (two commas in a row, or one at an end)");
  EXPECT_EQ(ListError("a:1, ,b:2"),
            "sentinel entry 2 is empty (two commas in a row, or one at an end)");
  EXPECT_EQ(ListError(","), "sentinel entry 1 is empty (two commas in a row, or one at an end)");
}

TEST(SentinelListTest, MissingHosts) {
  EXPECT_EQ(ListError(":26379"), "sentinel entry 1 (\":26379\"): the host is missing");
  EXPECT_EQ(ListError("a:1,[]:5"), "sentinel entry 2 (\"[]:5\"): the host is missing");
}

TEST(SentinelListTest, BareIPv6IsRefused) {
  EXPECT_EQ(ListError("::1"),
            "sentinel entry 1 (\"::1\"): an IPv6 address must be in brackets, as [address]:port");
  EXPECT_EQ(ListError("a:1,2001:db8::7:26379"),
            "sentinel entry 2 (\"2001:db8::7:26379\"): an IPv6 address must be in brackets, as "
            "[address]:port");
  EXPECT_EQ(ListError("a:1:2"),
            "sentinel entry 1 (\"a:1:2\"): an IPv6 address must be in brackets, as "
            "[address]:port");
}

TEST(SentinelListTest, Brackets) {
  EXPECT_EQ(ListError("[::1"), "sentinel entry 1 (\"[::1\"): the [ is not closed");
  EXPECT_EQ(ListError("[::1]26379"),
            "sentinel entry 1 (\"[::1]26379\"): expected :port after the ]");
  EXPECT_EQ(ListError("[::1]]:1"), "sentinel entry 1 (\"[::1]]:1\"): expected :port after the ]");
  EXPECT_EQ(ListError("[localhost]:1"),
            "sentinel entry 1 (\"[localhost]:1\"): only an IPv6 address goes in brackets");
  EXPECT_EQ(ListError("host]:1"), "sentinel entry 1 (\"host]:1\"): a stray bracket in the host");
  EXPECT_EQ(ListError("ho[st:1"), "sentinel entry 1 (\"ho[st:1\"): a stray bracket in the host");
  EXPECT_EQ(ListError("[::[1]:1"), "sentinel entry 1 (\"[::[1]:1\"): a stray bracket in the host");
}

TEST(SentinelListTest, HostsMustBePrintable) {
  EXPECT_EQ(ListError("a b:1"),
            "sentinel entry 1 (\"a b:1\"): the host must be printable ASCII without spaces");
  EXPECT_EQ(ListError(std::string_view("a\x01:1", 4)),
            "sentinel entry 1 (\"a?:1\"): the host must be printable ASCII without spaces");
  EXPECT_EQ(ListError("h\xc3\xa9:1"),
            "sentinel entry 1 (\"h??:1\"): the host must be printable ASCII without spaces");
  EXPECT_EQ(ListError("[::1 ]:1"),
            "sentinel entry 1 (\"[::1 ]:1\"): the host must be printable ASCII without spaces");
}

TEST(SentinelListTest, Ports) {
  EXPECT_EQ(ListError("a:"), "sentinel entry 1 (\"a:\"): the port is missing after the ':'");
  EXPECT_EQ(ListError("[::1]:"),
            "sentinel entry 1 (\"[::1]:\"): the port is missing after the ':'");
  for (const char* bad : {"a:0", "a:65536", "a:99999", "a:123456", "a:x", "a:+1", "a:-1", "a:1 2",
                          "a: 1", "a:0x10", "[::1]:0"}) {
    EXPECT_EQ(ListError(bad), "sentinel entry 1 (\"" + std::string(bad) +
                                  "\"): the port must be a number from 1 to 65535");
  }
}

TEST(SentinelListTest, Duplicates) {
  EXPECT_EQ(ListError("a:1,b:1,a:1"), "sentinel entry 3: a:1 is listed twice (entries 1 and 3)");
  EXPECT_EQ(ListError("Sentinel-0:1,sentinel-0:1"),
            "sentinel entry 2: sentinel-0:1 is listed twice (entries 1 and 2)")
      << "host names are compared without regard to case";
  EXPECT_EQ(ListError("a,a:26379"), "sentinel entry 2: a:26379 is listed twice (entries 1 and 2)")
      << "the default port counts";
  EXPECT_EQ(ListError("[::1],[::1]:26379"),
            "sentinel entry 2: [::1]:26379 is listed twice (entries 1 and 2)");
  EXPECT_EQ(List("a:1,a:2"), "a:1 a:2") << "same host, other port: another sentinel";
}

TEST(SentinelListTest, LongHostsAndEntries) {
  EXPECT_EQ(List(std::string(255, 'h') + ":1"), std::string(255, 'h') + ":1");
  EXPECT_EQ(
      ListError(std::string(256, 'h') + ":1"),
      "sentinel entry 1 (\"" + std::string(120, 'h') + "...\"): the host is longer than 255 bytes")
      << "the entry is clipped in the error";
  EXPECT_EQ(ListError(std::string(200, 'h') + ":0"),
            "sentinel entry 1 (\"" + std::string(120, 'h') +
                "...\"): the port must be a number from 1 to 65535");
}

TEST(SentinelListTest, ErrorMayBeNull) {
  EXPECT_FALSE(ParseSentinelList("", nullptr));
  EXPECT_FALSE(ParseSentinelList("a:0", nullptr));
  EXPECT_TRUE(ParseSentinelList("a:1", nullptr));
}

// ---------------------------------------------------------------------------------------------
// IsValidSentinelMasterName

TEST(SentinelMasterNameTest, Names) {
  std::string error;
  EXPECT_TRUE(IsValidSentinelMasterName("mymaster", &error));
  EXPECT_TRUE(IsValidSentinelMasterName(std::string(255, 'm'), &error));
  EXPECT_TRUE(IsValidSentinelMasterName("a.b-c_d:1", nullptr));

  EXPECT_FALSE(IsValidSentinelMasterName("", &error));
  EXPECT_EQ(error, "the sentinel master name is empty");
  EXPECT_FALSE(IsValidSentinelMasterName(std::string(256, 'm'), &error));
  EXPECT_EQ(error, "the sentinel master name is longer than 255 bytes");
  for (std::string_view bad : {"my master", "tab\there", "del\x7f", "caf\xc3\xa9"}) {
    EXPECT_FALSE(IsValidSentinelMasterName(bad, &error)) << bad;
    EXPECT_EQ(error, "the sentinel master name must be printable ASCII without spaces");
  }
  EXPECT_FALSE(IsValidSentinelMasterName(std::string_view("a\0b", 3), nullptr));
}

// ---------------------------------------------------------------------------------------------
// ParseMasterAddrReply

TEST(SentinelMasterAddrReplyTest, Address) {
  EXPECT_EQ(Addr(Arr({Bulk("10.0.0.1"), Bulk("6379")})), "address 10.0.0.1:6379");
  EXPECT_EQ(Addr(Arr({Bulk("::1"), Bulk("6380")})), "address [::1]:6380");
  EXPECT_EQ(Addr(Arr({Bulk("redis-1.redis.svc"), Bulk("1")})), "address redis-1.redis.svc:1");
}

TEST(SentinelMasterAddrReplyTest, NilIsAnUnknownMaster) { EXPECT_EQ(Addr(Nil()), "unknown"); }

TEST(SentinelMasterAddrReplyTest, NoReplyIsUnreachable) {
  EXPECT_EQ(AddrOf(ParseMasterAddrReply(nullptr)),
            "unreachable: the connection was lost before a reply");
}

TEST(SentinelMasterAddrReplyTest, ErrorsAreErrors) {
  EXPECT_EQ(Addr(Err("IDONTKNOW I have not enough information to reply")),
            "error: IDONTKNOW I have not enough information to reply");
  EXPECT_EQ(Addr(Err("NOAUTH Authentication required.")), "error: NOAUTH Authentication required.");
  const std::string long_error = Addr(Err(std::string(500, 'E')));
  EXPECT_EQ(long_error, "error: " + std::string(120, 'E') + "...");
}

TEST(SentinelMasterAddrReplyTest, WrongShapesAreErrors) {
  EXPECT_EQ(Addr(Int(6379)), "error: the reply is an integer, not [host, port]");
  EXPECT_EQ(Addr(Bulk("10.0.0.1:6379")), "error: the reply is a string, not [host, port]");
  EXPECT_EQ(Addr(Status("OK")), "error: the reply is a status, not [host, port]");
  EXPECT_EQ(Addr(Arr({})), "error: the reply has 0 elements, not [host, port]");
  EXPECT_EQ(Addr(Arr({Bulk("10.0.0.1")})), "error: the reply has 1 elements, not [host, port]");
  EXPECT_EQ(Addr(Arr({Bulk("10.0.0.1"), Bulk("6379"), Bulk("x")})),
            "error: the reply has 3 elements, not [host, port]");
  EXPECT_EQ(Addr(Arr({Bulk("10.0.0.1"), Int(6379)})),
            "error: the reply is not [host, port] as two strings");
  EXPECT_EQ(Addr(Arr({Nil(), Bulk("6379")})),
            "error: the reply is not [host, port] as two strings");
  EXPECT_EQ(Addr(Arr({Arr({}), Bulk("6379")})),
            "error: the reply is not [host, port] as two strings");
}

TEST(SentinelMasterAddrReplyTest, BadHostsAndPorts) {
  EXPECT_EQ(Addr(Arr({Bulk(""), Bulk("6379")})),
            "error: the host in the reply is not a host name or address");
  EXPECT_EQ(Addr(Arr({Bulk("a b"), Bulk("6379")})),
            "error: the host in the reply is not a host name or address");
  EXPECT_EQ(Addr(Arr({Bulk(std::string("a\0b", 3)), Bulk("6379")})),
            "error: the host in the reply is not a host name or address");
  EXPECT_EQ(Addr(Arr({Bulk("h"), Bulk("0")})),
            "error: the port in the reply (\"0\") is not a number from 1 to 65535");
  EXPECT_EQ(Addr(Arr({Bulk("h"), Bulk("65536")})),
            "error: the port in the reply (\"65536\") is not a number from 1 to 65535");
  EXPECT_EQ(Addr(Arr({Bulk("h"), Bulk("")})),
            "error: the port in the reply (\"\") is not a number from 1 to 65535");
  EXPECT_EQ(Addr(Arr({Bulk("h"), Bulk("63\r\n79")})),
            "error: the port in the reply (\"63??79\") is not a number from 1 to 65535");
}

// ---------------------------------------------------------------------------------------------
// ParseRoleReply

TEST(SentinelRoleReplyTest, Master) {
  EXPECT_EQ(Role(Arr({Bulk("master"), Int(3129659),
                      Arr({Arr({Bulk("10.0.0.2"), Bulk("6379"), Bulk("3129242")})})})),
            "master");
  EXPECT_EQ(Role(Arr({Bulk("master")})), "master") << "only the role is read";
}

TEST(SentinelRoleReplyTest, Replica) {
  EXPECT_EQ(
      Role(Arr({Bulk("slave"), Bulk("10.0.0.1"), Int(6379), Bulk("connected"), Int(3167038)})),
      "replica: a replica of 10.0.0.1:6379");
  EXPECT_EQ(Role(Arr({Bulk("replica"), Bulk("::1"), Int(6379)})),
            "replica: a replica of [::1]:6379");
  EXPECT_EQ(Role(Arr({Bulk("slave")})), "replica: a replica");
  EXPECT_EQ(Role(Arr({Bulk("slave"), Int(1), Int(6379)})), "replica: a replica");
}

TEST(SentinelRoleReplyTest, OtherRoles) {
  EXPECT_EQ(Role(Arr({Bulk("sentinel"), Arr({Bulk("mymaster")})})),
            "other: a sentinel, not a master");
  EXPECT_EQ(Role(Arr({Bulk("primary")})), "other: of role \"primary\", not a master");
  EXPECT_EQ(Role(Arr({Bulk("")})), "other: of role \"\", not a master");
}

TEST(SentinelRoleReplyTest, ErrorsAndWrongShapes) {
  EXPECT_EQ(RoleOf(ParseRoleReply(nullptr)), "unreachable: the connection was lost before a reply");
  EXPECT_EQ(Role(Err("NOAUTH Authentication required.")), "error: NOAUTH Authentication required.");
  EXPECT_EQ(Role(Err("LOADING Redis is loading the dataset in memory")),
            "error: LOADING Redis is loading the dataset in memory");
  EXPECT_EQ(Role(Int(1)), "error: the ROLE reply is an integer, not an array");
  EXPECT_EQ(Role(Bulk("master")), "error: the ROLE reply is a string, not an array");
  EXPECT_EQ(Role(Nil()), "error: the ROLE reply is nil, not an array");
  EXPECT_EQ(Role(Status("master")), "error: the ROLE reply is a status, not an array");
  EXPECT_EQ(Role(Arr({})), "error: the ROLE reply does not start with the role");
  EXPECT_EQ(Role(Arr({Int(1)})), "error: the ROLE reply does not start with the role");
  EXPECT_EQ(Role(Arr({Arr({Bulk("master")})})),
            "error: the ROLE reply does not start with the role");
}

// ---------------------------------------------------------------------------------------------
// ParseSwitchMaster

TEST(SentinelSwitchMasterTest, Parses) {
  EXPECT_EQ(Switch("mymaster 10.0.0.1 6379 10.0.0.2 6380"),
            "mymaster 10.0.0.1:6379 -> 10.0.0.2:6380");
  EXPECT_EQ(Switch("m ::1 6379 ::2 6379"), "m [::1]:6379 -> [::2]:6379");
  EXPECT_EQ(Switch("m redis-0.redis 1 redis-1.redis 65535"),
            "m redis-0.redis:1 -> redis-1.redis:65535");
}

TEST(SentinelSwitchMasterTest, WrongFieldCounts) {
  const std::string shape =
      "error: +switch-master: expected \"<master-name> <old-ip> <old-port> <new-ip> "
      "<new-port>\", got ";
  EXPECT_EQ(Switch(""), shape + "1 fields");
  EXPECT_EQ(Switch("mymaster 10.0.0.1 6379 10.0.0.2"), shape + "4 fields");
  EXPECT_EQ(Switch("mymaster 10.0.0.1 6379 10.0.0.2 6380 extra"), shape + "6 fields");
  EXPECT_EQ(Switch("mymaster  10.0.0.1 6379 10.0.0.2"), shape + "an empty field");
  EXPECT_EQ(Switch(" mymaster 10.0.0.1 6379 10.0.0.2"), shape + "an empty field");
  EXPECT_EQ(Switch("mymaster 10.0.0.1 6379 10.0.0.2 "), shape + "an empty field");
}

TEST(SentinelSwitchMasterTest, BadFields) {
  EXPECT_EQ(Switch("my\x01master 10.0.0.1 6379 10.0.0.2 6380"),
            "error: +switch-master: the master name is not printable ASCII");
  EXPECT_EQ(Switch("m 10.0.0.\x7f 6379 10.0.0.2 6380"),
            "error: +switch-master: the old host is not printable ASCII");
  EXPECT_EQ(Switch("m 10.0.0.1 6379 10.0.0.\xff 6380"),
            "error: +switch-master: the new host is not printable ASCII");
  EXPECT_EQ(Switch("m 10.0.0.1 0 10.0.0.2 6380"),
            "error: +switch-master: the old port is not a number from 1 to 65535");
  EXPECT_EQ(Switch("m 10.0.0.1 6379 10.0.0.2 65536"),
            "error: +switch-master: the new port is not a number from 1 to 65535");
  EXPECT_EQ(Switch("m 10.0.0.1 6379 10.0.0.2 x"),
            "error: +switch-master: the new port is not a number from 1 to 65535");
  EXPECT_FALSE(ParseSwitchMaster("m a 1 b", nullptr));
}

// ---------------------------------------------------------------------------------------------
// SentinelResolver: the way to a master

TEST_F(SentinelResolverTest, IdleUntilBegun) {
  EXPECT_EQ(Describe(resolver_.step(), now_), "idle");
  EXPECT_FALSE(resolver_.master());
  EXPECT_EQ(resolver_.master_name(), "mymaster");
  EXPECT_EQ(Order(resolver_), "s1 s2 s3");
  EXPECT_EQ(Deadline(), "ignored");
  EXPECT_EQ(Answer(Address(kM)), "ignored");
  EXPECT_EQ(RoleIs(Master()), "ignored");
  EXPECT_EQ(Switched("mymaster 10.0.0.1 6379 10.0.0.2 6379"), "ignored");
}

TEST_F(SentinelResolverTest, FirstSentinelAnswersAndRoleSaysMaster) {
  EXPECT_EQ(Begin(), "ask s1:26379 +500ms");
  now_ += milliseconds(3);
  EXPECT_EQ(Answer(Address(kM)), "role 10.0.0.1:6379 +1000ms");
  now_ += milliseconds(2);
  EXPECT_EQ(RoleIs(Master()), "use 10.0.0.1:6379");
  EXPECT_EQ(resolver_.master(), kM);
  EXPECT_EQ(Order(resolver_), "s1 s2 s3");
  // In use, there is nothing to report but +switch-master.
  EXPECT_EQ(Deadline(), "ignored");
  EXPECT_EQ(Answer(Address(kR)), "ignored");
  EXPECT_EQ(RoleIs(Replica()), "ignored");
}

TEST_F(SentinelResolverTest, EachStepHasANewAttempt) {
  const uint64_t ask = resolver_.Begin(now_).attempt;
  const uint64_t role = resolver_.OnSentinelAnswer(ask, now_, Address(kM))->attempt;
  const uint64_t use = resolver_.OnRole(role, now_, Master())->attempt;
  EXPECT_LT(ask, role);
  EXPECT_LT(role, use);
  EXPECT_EQ(resolver_.step().attempt, use);
}

TEST_F(SentinelResolverTest, EveryOtherAnswerMovesToTheNextSentinel) {
  EXPECT_EQ(Begin(), "ask s1:26379 +500ms");
  now_ += milliseconds(10);
  EXPECT_EQ(Answer(Unknown()), "ask s2:26379 +500ms") << "nil: the next one";
  now_ += milliseconds(10);
  EXPECT_EQ(Answer(Error("IDONTKNOW I have not enough information to reply")),
            "ask s3:26379 +500ms");
  now_ += milliseconds(10);
  EXPECT_EQ(Answer(Address(kM)), "role 10.0.0.1:6379 +1000ms");
  EXPECT_EQ(RoleIs(Master()), "use 10.0.0.1:6379");
  EXPECT_EQ(Order(resolver_), "s3 s1 s2") << "the sentinel that answered goes to the front";
}

TEST_F(SentinelResolverTest, UnreachableSentinelsAreSkipped) {
  EXPECT_EQ(Begin(), "ask s1:26379 +500ms");
  EXPECT_EQ(Answer(Unreachable("connection refused")), "ask s2:26379 +500ms");
  EXPECT_EQ(Answer(Address(kM)), "role 10.0.0.1:6379 +1000ms");
  EXPECT_EQ(RoleIs(Master()), "use 10.0.0.1:6379");
  EXPECT_EQ(Order(resolver_), "s2 s1 s3");
}

TEST_F(SentinelResolverTest, ASentinelThatTimesOutIsSkipped) {
  EXPECT_EQ(Begin(), "ask s1:26379 +500ms");
  ToDeadline();
  EXPECT_EQ(Deadline(), "ask s2:26379 +500ms");
  // The reply of s1 comes after all: too late, it is ignored.
  const uint64_t s1_attempt = resolver_.step().attempt - 1;
  EXPECT_EQ(Describe(resolver_.OnSentinelAnswer(s1_attempt, now_, Address(kR)), now_), "ignored");
  EXPECT_EQ(Describe(resolver_.step(), now_), "ask s2:26379 +500ms");
  EXPECT_EQ(Answer(Address(kM)), "role 10.0.0.1:6379 +1000ms");
}

TEST_F(SentinelResolverTest, ATimerThatFiresEarlyStillCounts) {
  EXPECT_EQ(Begin(), "ask s1:26379 +500ms");
  now_ += milliseconds(499);
  EXPECT_EQ(Deadline(), "ask s2:26379 +500ms");
}

TEST_F(SentinelResolverTest, NoSentinelAnswers) {
  EXPECT_EQ(Begin(), "ask s1:26379 +500ms");
  EXPECT_EQ(Answer(Unreachable("connect: connection refused")), "ask s2:26379 +500ms");
  ToDeadline();
  EXPECT_EQ(Deadline(), "ask s3:26379 +500ms");
  EXPECT_EQ(Answer(Unreachable("")), "wait +100ms (sentinels unreachable)");
  EXPECT_EQ(resolver_.step().reason,
            "no sentinel answered: s1:26379: connect: connection refused; s2:26379: did not "
            "answer within 500 ms; s3:26379: unreachable");
  EXPECT_EQ(Order(resolver_), "s1 s2 s3") << "nobody answered: the order stays";
}

TEST_F(SentinelResolverTest, NoSentinelKnowsTheMaster) {
  Begin();
  Answer(Unknown());
  Answer(Unknown());
  EXPECT_EQ(Answer(Unknown()), "wait +100ms (master unknown)");
  EXPECT_EQ(resolver_.step().reason,
            "no sentinel knows master 'mymaster' (asked s1:26379, s2:26379, s3:26379)");
}

TEST_F(SentinelResolverTest, AMixOfFailures) {
  Begin();
  Answer(Unknown());
  Answer(Error("NOAUTH Authentication required."));
  ToDeadline();
  EXPECT_EQ(Deadline(), "wait +100ms (no address)");
  EXPECT_EQ(resolver_.step().reason,
            "no sentinel gave the address of master 'mymaster': s1:26379: does not know master "
            "'mymaster'; s2:26379: answered with an error: NOAUTH Authentication required.; "
            "s3:26379: did not answer within 500 ms");
}

TEST_F(SentinelResolverTest, SomeUnknownSomeUnreachableIsNoAddress) {
  Begin();
  Answer(Unknown());
  Answer(Unreachable("connection refused"));
  EXPECT_EQ(Answer(Unknown()), "wait +100ms (no address)");
}

TEST_F(SentinelResolverTest, AfterTheWaitANewRoundFromTheFront) {
  Begin();
  Answer(Unknown());
  Answer(Unknown());
  EXPECT_EQ(Answer(Unknown()), "wait +100ms (master unknown)");
  const uint64_t waiting = resolver_.step().attempt;
  ToDeadline();
  EXPECT_EQ(Deadline(), "ask s1:26379 +500ms");
  // The wait's timer firing again changes nothing.
  EXPECT_EQ(Describe(resolver_.OnDeadline(waiting, now_), now_), "ignored");
  Answer(Unknown());
  Answer(Unknown());
  EXPECT_EQ(Answer(Unknown()), "wait +200ms (master unknown)") << "the backoff doubles";
  ToDeadline();
  EXPECT_EQ(Deadline(), "ask s1:26379 +500ms");
  EXPECT_EQ(Answer(Address(kM)), "role 10.0.0.1:6379 +1000ms");
}

TEST_F(SentinelResolverTest, TheBackoffGrowsToItsCapAndResetsOnceResolved) {
  Begin();
  std::vector<std::string> waits;
  for (int round = 0; round < 8; ++round) {
    Answer(Unknown());
    Answer(Unknown());
    waits.push_back(Answer(Unknown()));
    ToDeadline();
    ASSERT_EQ(Deadline(), "ask s1:26379 +500ms");
  }
  EXPECT_EQ(waits, (std::vector<std::string>{
                       "wait +100ms (master unknown)", "wait +200ms (master unknown)",
                       "wait +400ms (master unknown)", "wait +800ms (master unknown)",
                       "wait +1600ms (master unknown)", "wait +3200ms (master unknown)",
                       "wait +5000ms (master unknown)", "wait +5000ms (master unknown)"}));
  EXPECT_EQ(Answer(Address(kM)), "role 10.0.0.1:6379 +1000ms");
  EXPECT_EQ(RoleIs(Master()), "use 10.0.0.1:6379");
  EXPECT_EQ(Begin(), "ask s1:26379 +500ms");
  Answer(Unknown());
  Answer(Unknown());
  EXPECT_EQ(Answer(Unknown()), "wait +100ms (master unknown)") << "reset by the success";
}

TEST(SentinelResolverJitterTest, TheJitterComesFromTheCaller) {
  SentinelResolver::Options options = Options({kS1});
  options.random_unit = [] { return 0.0; };
  SentinelResolver resolver(options);
  const Step ask = resolver.Begin(kT0);
  const Step wait = *resolver.OnSentinelAnswer(ask.attempt, kT0, Unknown());
  EXPECT_EQ(Describe(wait, kT0), "wait +50ms (master unknown)") << "half of the base";

  options.random_unit = nullptr;  // none given: 0.5
  SentinelResolver halfway(options);
  const Step ask2 = halfway.Begin(kT0);
  EXPECT_EQ(Describe(halfway.OnSentinelAnswer(ask2.attempt, kT0, Unknown()), kT0),
            "wait +75ms (master unknown)");
}

TEST(SentinelResolverOptionsTest, TimeoutsAndDelaysAreOptions) {
  SentinelResolver::Options options = Options({kS1});
  options.sentinel_timeout = milliseconds(200);
  options.role_timeout = milliseconds(700);
  options.not_master_delay = milliseconds(1000);
  options.backoff_initial = milliseconds(10);
  options.backoff_max = milliseconds(20);
  SentinelResolver resolver(options);
  const Step ask = resolver.Begin(kT0);
  EXPECT_EQ(Describe(ask, kT0), "ask s1:26379 +200ms");
  const Step role = *resolver.OnSentinelAnswer(ask.attempt, kT0, Address(kR));
  EXPECT_EQ(Describe(role, kT0), "role 10.0.0.2:6379 +700ms");
  const Step wait = *resolver.OnRole(role.attempt, kT0, Replica());
  EXPECT_EQ(Describe(wait, kT0), "wait +1000ms (not master)");
  const Step again = *resolver.OnDeadline(wait.attempt, kT0);
  const Step timeout = *resolver.OnDeadline(again.attempt, kT0);
  EXPECT_EQ(Describe(timeout, kT0), "wait +20ms (sentinels unreachable)") << "backoff capped";
  EXPECT_EQ(timeout.reason, "no sentinel answered: s1:26379: did not answer within 200 ms");
}

// ---------------------------------------------------------------------------------------------
// SentinelResolver: the ROLE check

TEST_F(SentinelResolverTest, AReplicaIsRetriedAfterAShortDelay) {
  EXPECT_EQ(Begin(), "ask s1:26379 +500ms");
  EXPECT_EQ(Answer(Address(kR)), "role 10.0.0.2:6379 +1000ms");
  EXPECT_EQ(RoleIs(Replica()), "wait +300ms (not master)");
  EXPECT_EQ(resolver_.step().reason,
            "sentinel s1:26379 named 10.0.0.2:6379 as master 'mymaster', but 10.0.0.2:6379 is a "
            "replica of 10.0.0.2:6379");
  EXPECT_FALSE(resolver_.master()) << "not confirmed";
  EXPECT_EQ(Order(resolver_), "s2 s3 s1") << "a sentinel with a stale answer goes to the back";
  ToDeadline();
  EXPECT_EQ(Deadline(), "ask s2:26379 +500ms") << "so the next round asks the others first";
  EXPECT_EQ(Answer(Address(kM)), "role 10.0.0.1:6379 +1000ms");
  EXPECT_EQ(RoleIs(Master()), "use 10.0.0.1:6379");
  EXPECT_EQ(Order(resolver_), "s2 s3 s1");
}

TEST_F(SentinelResolverTest, RepeatedReplicasWaitAtLeastTheShortDelayThenTheBackoff) {
  Begin();
  std::vector<std::string> waits;
  for (int round = 0; round < 6; ++round) {
    Answer(Address(kR));
    waits.push_back(RoleIs(Replica()));
    ToDeadline();
    Deadline();
  }
  EXPECT_EQ(waits,
            (std::vector<std::string>{"wait +300ms (not master)", "wait +300ms (not master)",
                                      "wait +400ms (not master)", "wait +800ms (not master)",
                                      "wait +1600ms (not master)", "wait +3200ms (not master)"}));
}

TEST_F(SentinelResolverTest, AStaleSentinelIsNotAskedFirstForever) {
  // s1 keeps naming the old master, which is a replica now; s2 knows better.
  Begin();
  Answer(Address(kR));
  RoleIs(Replica());
  ToDeadline();
  EXPECT_EQ(Deadline(), "ask s2:26379 +500ms");
  Answer(Address(kM));
  EXPECT_EQ(RoleIs(Master()), "use 10.0.0.1:6379");
  EXPECT_EQ(Begin(), "ask s2:26379 +500ms") << "the next resolution asks s2 first";
}

TEST_F(SentinelResolverTest, AnotherRoleIsNotAMaster) {
  Begin();
  Answer(Address(kS2));
  EXPECT_EQ(RoleIs({RoleAnswer::Kind::kOther, "a sentinel, not a master"}),
            "wait +300ms (not master)");
  EXPECT_EQ(resolver_.step().reason,
            "sentinel s1:26379 named s2:26379 as master 'mymaster', but s2:26379 is a sentinel, "
            "not a master");
}

TEST_F(SentinelResolverTest, AMasterThatCannotBeReached) {
  Begin();
  Answer(Address(kM));
  EXPECT_EQ(RoleIs({RoleAnswer::Kind::kUnreachable, "connect: connection refused"}),
            "wait +100ms (master unreachable)");
  EXPECT_EQ(resolver_.step().reason,
            "sentinel s1:26379 named 10.0.0.1:6379 as master 'mymaster', but 10.0.0.1:6379 "
            "failed: connect: connection refused");
  EXPECT_EQ(Order(resolver_), "s2 s3 s1");
  ToDeadline();
  EXPECT_EQ(Deadline(), "ask s2:26379 +500ms");
}

TEST_F(SentinelResolverTest, AMasterThatDoesNotAnswerRoleInTime) {
  Begin();
  EXPECT_EQ(Answer(Address(kM)), "role 10.0.0.1:6379 +1000ms");
  const uint64_t checking = resolver_.step().attempt;
  ToDeadline();
  EXPECT_EQ(Deadline(), "wait +100ms (master unreachable)");
  EXPECT_EQ(resolver_.step().reason,
            "sentinel s1:26379 named 10.0.0.1:6379 as master 'mymaster', but 10.0.0.1:6379 "
            "failed: no ROLE reply within 1000 ms");
  // ROLE's answer after all: too late.
  EXPECT_EQ(Describe(resolver_.OnRole(checking, now_, Master()), now_), "ignored");
  EXPECT_FALSE(resolver_.master());
}

TEST_F(SentinelResolverTest, ARoleErrorIsAFailure) {
  Begin();
  Answer(Address(kM));
  EXPECT_EQ(RoleIs({RoleAnswer::Kind::kError, "NOAUTH Authentication required."}),
            "wait +100ms (master unreachable)");
  EXPECT_EQ(resolver_.step().reason,
            "sentinel s1:26379 named 10.0.0.1:6379 as master 'mymaster', but 10.0.0.1:6379 "
            "failed: ROLE failed: NOAUTH Authentication required.");
  Answer(Address(kM));  // ignored: waiting
  ToDeadline();
  Deadline();
  Answer(Address(kM));
  EXPECT_EQ(RoleIs({RoleAnswer::Kind::kUnreachable, ""}), "wait +200ms (master unreachable)");
  EXPECT_EQ(resolver_.step().reason,
            "sentinel s2:26379 named 10.0.0.1:6379 as master 'mymaster', but 10.0.0.1:6379 "
            "failed: unreachable");
}

TEST_F(SentinelResolverTest, ReportsOfTheWrongKindAreIgnored) {
  EXPECT_EQ(Begin(), "ask s1:26379 +500ms");
  EXPECT_EQ(RoleIs(Master()), "ignored") << "no ROLE is being checked";
  EXPECT_EQ(Describe(resolver_.step(), now_), "ask s1:26379 +500ms");
  Answer(Address(kM));
  EXPECT_EQ(Answer(Address(kR)), "ignored") << "no sentinel is being asked";
  EXPECT_EQ(Describe(resolver_.step(), now_), "role 10.0.0.1:6379 +1000ms");
  RoleIs(Replica());
  EXPECT_EQ(Answer(Address(kR)), "ignored");
  EXPECT_EQ(RoleIs(Master()), "ignored");
  EXPECT_EQ(Describe(resolver_.step(), now_), "wait +300ms (not master)");
}

TEST_F(SentinelResolverTest, ReportsQuotingAnOldAttemptAreIgnored) {
  const uint64_t first = resolver_.Begin(now_).attempt;
  Answer(Unknown());
  EXPECT_EQ(Describe(resolver_.OnSentinelAnswer(first, now_, Address(kM)), now_), "ignored");
  EXPECT_EQ(Describe(resolver_.OnDeadline(first, now_), now_), "ignored");
  EXPECT_EQ(Describe(resolver_.OnRole(first, now_, Master()), now_), "ignored");
  EXPECT_EQ(Describe(resolver_.step(), now_), "ask s2:26379 +500ms");
  EXPECT_EQ(Describe(resolver_.OnDeadline(resolver_.step().attempt + 1, now_), now_), "ignored")
      << "nor one from the future";
}

// ---------------------------------------------------------------------------------------------
// SentinelResolver: reconnecting, stopping

TEST_F(SentinelResolverTest, EveryBeginResolvesAfresh) {
  ResolveToM();
  // The link was lost and reconnects: nothing is cached, s1 is asked again.
  EXPECT_EQ(Begin(), "ask s1:26379 +500ms");
  EXPECT_EQ(Answer(Address(kR)), "role 10.0.0.2:6379 +1000ms");
  EXPECT_EQ(RoleIs(Master()), "use 10.0.0.2:6379");
  EXPECT_EQ(resolver_.master(), kR);
}

TEST_F(SentinelResolverTest, BeginSupersedesWhatIsUnderWay) {
  Begin();
  const uint64_t asking = resolver_.step().attempt;
  Answer(Unknown());
  EXPECT_EQ(Begin(), "ask s1:26379 +500ms") << "from the first sentinel again";
  EXPECT_EQ(Describe(resolver_.OnSentinelAnswer(asking + 1, now_, Address(kM)), now_), "ignored");
  Answer(Unknown());
  Answer(Unknown());
  EXPECT_EQ(Answer(Unknown()), "wait +100ms (master unknown)")
      << "the round that was cut short does not count";
}

TEST_F(SentinelResolverTest, StopMakesItIdle) {
  ResolveToM();
  resolver_.Stop();
  EXPECT_EQ(Describe(resolver_.step(), now_), "idle");
  EXPECT_EQ(resolver_.master(), kM) << "the last master is kept, for the logs";
  Begin();
  Answer(Address(kR));
  const uint64_t checking = resolver_.step().attempt;
  resolver_.Stop();
  EXPECT_EQ(Describe(resolver_.OnRole(checking, now_, Master()), now_), "ignored");
  EXPECT_EQ(Describe(resolver_.OnDeadline(checking, now_), now_), "ignored");
  EXPECT_EQ(Deadline(), "ignored");
  EXPECT_EQ(resolver_.master(), kM);
}

TEST_F(SentinelResolverTest, StopKeepsTheOrderAndTheBackoff) {
  Begin();
  Answer(Unknown());
  Answer(Unknown());
  Answer(Unknown());  // wait 100 ms
  resolver_.Stop();
  Begin();
  Answer(Unknown());
  Answer(Unknown());
  EXPECT_EQ(Answer(Unknown()), "wait +200ms (master unknown)");
  ToDeadline();
  Deadline();
  Answer(Unreachable("refused"));
  Answer(Address(kM));
  RoleIs(Master());
  resolver_.Stop();
  EXPECT_EQ(Order(resolver_), "s2 s1 s3");
  EXPECT_EQ(Begin(), "ask s2:26379 +500ms");
}

TEST(SentinelResolverEmptyTest, NoSentinelsMeansWaitingForever) {
  SentinelResolver resolver(Options({}));
  const Step wait = resolver.Begin(kT0);
  EXPECT_EQ(Describe(wait, kT0), "wait +100ms (no sentinels)");
  EXPECT_EQ(wait.reason, "no sentinels are configured for master 'mymaster'");
  const Step again = *resolver.OnDeadline(wait.attempt, kT0);
  EXPECT_EQ(Describe(again, kT0), "wait +200ms (no sentinels)");
}

TEST(SentinelResolverSingleTest, OneSentinel) {
  SentinelResolver resolver(Options({kS1}));
  const Step ask = resolver.Begin(kT0);
  EXPECT_EQ(Describe(ask, kT0), "ask s1:26379 +500ms");
  const Step wait = *resolver.OnSentinelAnswer(ask.attempt, kT0, Unreachable("refused"));
  EXPECT_EQ(Describe(wait, kT0), "wait +100ms (sentinels unreachable)");
  const Step ask2 = *resolver.OnDeadline(wait.attempt, kT0);
  const Step role = *resolver.OnSentinelAnswer(ask2.attempt, kT0, Address(kR));
  EXPECT_EQ(Describe(*resolver.OnRole(role.attempt, kT0, Replica()), kT0),
            "wait +300ms (not master)");
  EXPECT_EQ(Order(resolver), "s1") << "alone at the back is alone at the front";
}

// ---------------------------------------------------------------------------------------------
// SentinelResolver: +switch-master

TEST_F(SentinelResolverTest, SwitchMasterAboutAnotherMasterIsIgnored) {
  ResolveToM();
  EXPECT_EQ(Switched("othermaster 10.0.0.1 6379 10.0.0.2 6379"), "ignored");
  EXPECT_EQ(Switched("MyMaster 10.0.0.1 6379 10.0.0.2 6379"), "ignored")
      << "master names are case-sensitive";
  EXPECT_EQ(Describe(resolver_.step(), now_), "use 10.0.0.1:6379");
}

TEST_F(SentinelResolverTest, SwitchMasterAwayFromTheMasterInUse) {
  ResolveToM();
  EXPECT_EQ(Switched("mymaster 10.0.0.1 6379 10.0.0.2 6379"), "reconnect 10.0.0.1:6379 (switched)");
  EXPECT_EQ(resolver_.step().reason,
            "a sentinel announced that master 'mymaster' moved from 10.0.0.1:6379 to "
            "10.0.0.2:6379");
  // The link drops and reconnects; until then, nothing more.
  EXPECT_EQ(Switched("mymaster 10.0.0.2 6379 10.0.0.3 6379"), "ignored");
  EXPECT_EQ(Deadline(), "ignored");
  EXPECT_EQ(Begin(), "ask s1:26379 +500ms") << "and the new master is resolved, not trusted";
  EXPECT_EQ(Answer(Address(kR)), "role 10.0.0.2:6379 +1000ms");
  EXPECT_EQ(RoleIs(Master()), "use 10.0.0.2:6379");
}

TEST_F(SentinelResolverTest, SwitchMasterToTheMasterInUseIsIgnored) {
  ResolveToM();
  EXPECT_EQ(Switched("mymaster 10.0.0.9 6379 10.0.0.1 6379"), "ignored");
  EXPECT_EQ(Switched("mymaster 10.0.0.1 6379 10.0.0.1 6380"), "reconnect 10.0.0.1:6379 (switched)")
      << "another port is another server";
}

TEST_F(SentinelResolverTest, SwitchMasterCutsAWaitShort) {
  Begin();
  Answer(Unknown());
  Answer(Unknown());
  Answer(Unknown());  // wait 100 ms
  ToDeadline();
  Deadline();
  Answer(Unknown());
  Answer(Unknown());
  EXPECT_EQ(Answer(Unknown()), "wait +200ms (master unknown)");
  const uint64_t waiting = resolver_.step().attempt;
  now_ += milliseconds(20);
  EXPECT_EQ(Switched("mymaster 10.0.0.1 6379 10.0.0.2 6379"), "ask s1:26379 +500ms");
  EXPECT_EQ(Describe(resolver_.OnDeadline(waiting, now_), now_), "ignored")
      << "the wait's timer is over";
  Answer(Unknown());
  Answer(Unknown());
  EXPECT_EQ(Answer(Unknown()), "wait +100ms (master unknown)") << "the backoff starts over";
}

TEST_F(SentinelResolverTest, SwitchMasterRestartsARound) {
  Begin();
  Answer(Unreachable("refused"));
  EXPECT_EQ(Describe(resolver_.step(), now_), "ask s2:26379 +500ms");
  const uint64_t asking = resolver_.step().attempt;
  EXPECT_EQ(Switched("mymaster 10.0.0.1 6379 10.0.0.2 6379"), "ask s1:26379 +500ms");
  EXPECT_EQ(Describe(resolver_.OnSentinelAnswer(asking, now_, Address(kM)), now_), "ignored")
      << "s2's answer may be about the old master";
}

TEST_F(SentinelResolverTest, SwitchMasterWhileCheckingTheOldMaster) {
  Begin();
  EXPECT_EQ(Answer(Address(kM)), "role 10.0.0.1:6379 +1000ms");
  const uint64_t checking = resolver_.step().attempt;
  EXPECT_EQ(Switched("mymaster 10.0.0.1 6379 10.0.0.2 6379"), "ask s1:26379 +500ms");
  EXPECT_EQ(Describe(resolver_.OnRole(checking, now_, Master()), now_), "ignored");
  EXPECT_EQ(Order(resolver_), "s1 s2 s3") << "the check was abandoned, not failed";
}

TEST_F(SentinelResolverTest, SwitchMasterToTheMasterBeingChecked) {
  Begin();
  EXPECT_EQ(Answer(Address(kR)), "role 10.0.0.2:6379 +1000ms");
  EXPECT_EQ(Switched("mymaster 10.0.0.1 6379 10.0.0.2 6379"), "ignored");
  EXPECT_EQ(RoleIs(Master()), "use 10.0.0.2:6379");
}

}  // namespace
}  // namespace switchboard::routing
