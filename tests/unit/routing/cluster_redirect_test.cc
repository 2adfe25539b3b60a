#include "routing/cluster_redirect.h"

#include <gtest/gtest.h>

#include <chrono>
#include <climits>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace switchboard::routing {
namespace {

using std::chrono::milliseconds;
using namespace std::string_view_literals;

// The parse of `text` as one line: "moved 3999 host:port", "ask ...", "tryagain",
// "clusterdown", "none", or "refused".
std::string Parsed(std::string_view text) {
  const std::optional<ClusterRedirect> redirect = ParseClusterRedirect(text);
  if (!redirect) return "refused";
  switch (redirect->kind) {
    case RedirectKind::kNone:
      return "none";
    case RedirectKind::kTryAgain:
      return "tryagain";
    case RedirectKind::kClusterDown:
      return "clusterdown";
    case RedirectKind::kMoved:
    case RedirectKind::kAsk:
      return std::string(redirect->kind == RedirectKind::kMoved ? "moved " : "ask ") +
             std::to_string(redirect->slot) + " host=" + redirect->target.host +
             " port=" + std::to_string(redirect->target.port);
  }
  return "?";
}

TEST(ClusterRedirectTest, Moved) {
  EXPECT_EQ(Parsed("MOVED 3999 127.0.0.1:6381"), "moved 3999 host=127.0.0.1 port=6381");
  EXPECT_EQ(Parsed("MOVED 0 10.1.2.3:1"), "moved 0 host=10.1.2.3 port=1");
  EXPECT_EQ(Parsed("MOVED 16383 10.1.2.3:65535"), "moved 16383 host=10.1.2.3 port=65535");
  EXPECT_EQ(Parsed("MOVED 00042 h:007000"), "refused") << "at most 5 digits";
  EXPECT_EQ(Parsed("MOVED 00042 h:07000"), "moved 42 host=h port=7000");
}

TEST(ClusterRedirectTest, Ask) {
  EXPECT_EQ(Parsed("ASK 3999 127.0.0.1:6381"), "ask 3999 host=127.0.0.1 port=6381");
  EXPECT_EQ(Parsed("ASK 16383 redis-2.redis:6379"), "ask 16383 host=redis-2.redis port=6379");
}

TEST(ClusterRedirectTest, HostnamesAndIPv6) {
  EXPECT_EQ(Parsed("MOVED 1 redis-0.redis.default.svc.cluster.local:6379"),
            "moved 1 host=redis-0.redis.default.svc.cluster.local port=6379");
  EXPECT_EQ(Parsed("MOVED 1 ::1:7000"), "moved 1 host=::1 port=7000");
  EXPECT_EQ(Parsed("MOVED 1 fe80::a:b:c:7000"), "moved 1 host=fe80::a:b:c port=7000");
  EXPECT_EQ(Parsed("ASK 2 [::1]:7000"), "ask 2 host=::1 port=7000");
  EXPECT_EQ(Parsed("ASK 2 [2001:db8::5]:7001"), "ask 2 host=2001:db8::5 port=7001");
}

TEST(ClusterRedirectTest, EmptyHostIsKeptEmpty) {
  // Redis 7 with cluster-preferred-endpoint-type unknown-endpoint: same host, this port.
  EXPECT_EQ(Parsed("MOVED 3999 :6380"), "moved 3999 host= port=6380");
  EXPECT_EQ(Parsed("ASK 3999 :6380"), "ask 3999 host= port=6380");
}

TEST(ClusterRedirectTest, TryAgainAndClusterDown) {
  EXPECT_EQ(Parsed("TRYAGAIN Multiple keys request during rehashing of slot"), "tryagain");
  EXPECT_EQ(Parsed("TRYAGAIN"), "tryagain");
  EXPECT_EQ(Parsed("CLUSTERDOWN The cluster is down"), "clusterdown");
  EXPECT_EQ(Parsed("CLUSTERDOWN Hash slot not served"), "clusterdown");
  EXPECT_EQ(Parsed("CLUSTERDOWN"), "clusterdown");
}

TEST(ClusterRedirectTest, OtherErrorsAreNotRedirects) {
  for (std::string_view text :
       {""sv, "ERR unknown command"sv, "WRONGTYPE Operation against a key"sv, "NOSCRIPT x"sv,
        "MOVEDX 1 h:1"sv, "ASKING"sv, "moved 1 h:1"sv, "Moved 1 h:1"sv, " MOVED 1 h:1"sv,
        "TRYAGAINX"sv, "CLUSTERDOWNX"sv, "tryagain"sv, "LOADING Redis is loading"sv,
        "ERR MOVED 1 h:1"sv, "MOVED\t1 h:1"sv, "MASTERDOWN Link with MASTER is down"sv}) {
    EXPECT_EQ(Parsed(text), "none") << '"' << text << '"';
  }
}

TEST(ClusterRedirectTest, RefusesMalformedRedirects) {
  for (std::string_view text : {
           "MOVED"sv,
           "MOVED "sv,
           "MOVED 1"sv,
           "MOVED 1 "sv,
           "MOVED  1 h:1"sv,
           "MOVED 1  h:1"sv,
           "MOVED 1 h:1 "sv,
           "MOVED 1 h:1 extra"sv,
           "MOVED 16384 h:1"sv,
           "MOVED 99999 h:1"sv,
           "MOVED 99999999999999999999 h:1"sv,
           "MOVED -1 h:1"sv,
           "MOVED +1 h:1"sv,
           "MOVED 0x10 h:1"sv,
           "MOVED a h:1"sv,
           "MOVED 1 h"sv,
           "MOVED 1 h:"sv,
           "MOVED 1 :"sv,
           "MOVED 1 h:0"sv,
           "MOVED 1 h:65536"sv,
           "MOVED 1 h:99999"sv,
           "MOVED 1 h:123456"sv,
           "MOVED 1 h:-1"sv,
           "MOVED 1 h:+1"sv,
           "MOVED 1 h:1a"sv,
           "MOVED 1 h: 1"sv,
           "MOVED 1 []:1"sv,
           "MOVED 1 [::1:1"sv,
           "MOVED 1 ::1]:1"sv,
           "MOVED 1 [a]b]:1"sv,
           "MOVED 1 h\x01:1"sv,
           "MOVED 1 h\x7f:1"sv,
           "MOVED 1 h\xff:1"sv,
           "MOVED 1 h:1\r\n"sv,
           "ASK"sv,
           "ASK 1"sv,
           "ASK 1 h"sv,
           "ASK 16384 h:1"sv,
           "ASK 1 h:0"sv,
       }) {
    EXPECT_EQ(Parsed(text), "refused") << '"' << text << '"';
  }
  EXPECT_EQ(Parsed(std::string_view("MOVED 1 h\0x:1", 13)), "refused");
  EXPECT_EQ(Parsed(std::string_view("MOVED 1 h:1\0", 12)), "refused");
  EXPECT_EQ(Parsed("MOVED 1 " + std::string(256, 'h') + ":1"), "refused");
  EXPECT_EQ(Parsed("MOVED 1 " + std::string(255, 'h') + ":1"),
            "moved 1 host=" + std::string(255, 'h') + " port=1");
}

TEST(ClusterRedirectTest, RoundTripsEveryShape) {
  std::mt19937 random(8);
  const std::string hosts[] = {"127.0.0.1", "::1", "fe80::1:2", "redis-1.svc", "h", ""};
  for (int i = 0; i < 5000; ++i) {
    const int slot = std::uniform_int_distribution<int>(0, 16383)(random);
    const int port = std::uniform_int_distribution<int>(1, 65535)(random);
    const std::string& host = hosts[i % 6];
    const bool ask = i % 2 == 0;
    const std::string text = std::string(ask ? "ASK " : "MOVED ") + std::to_string(slot) + " " +
                             host + ":" + std::to_string(port);
    const std::optional<ClusterRedirect> redirect = ParseClusterRedirect(text);
    ASSERT_TRUE(redirect) << text;
    EXPECT_EQ(redirect->kind, ask ? RedirectKind::kAsk : RedirectKind::kMoved);
    EXPECT_EQ(redirect->slot, slot);
    EXPECT_EQ(redirect->target.host, host);
    EXPECT_EQ(redirect->target.port, port);
  }
}

// A text near the shape of a redirect (random slot, host and port, some of them out of range),
// then a few random byte edits; or plain random bytes after a cluster word.
std::string RandomErrorText(std::mt19937& random) {
  static constexpr std::string_view kWords[] = {"MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN", "ERR"};
  static constexpr std::string_view kHosts[] = {"127.0.0.1", "::1", "[::1]", "", "h", "[", "a]"};
  auto number = [&random](int max) { return std::uniform_int_distribution<int>(0, max)(random); };
  std::string text(kWords[number(4)]);
  if (number(1) == 0) {
    text += " " + std::to_string(number(20000)) + " " + std::string(kHosts[number(6)]) + ":" +
            std::to_string(number(70000));
    for (int edits = number(2); edits > 0 && !text.empty(); --edits) {
      const size_t at = static_cast<size_t>(number(static_cast<int>(text.size()) - 1));
      const char byte = static_cast<char>(number(255));
      switch (number(2)) {
        case 0:
          text[at] = byte;
          break;
        case 1:
          text.insert(at, 1, byte);
          break;
        default:
          text.erase(at, 1);
      }
    }
  } else {
    text += " ";
    for (int length = number(24); length > 0; --length) text += static_cast<char>(number(255));
  }
  return text;
}

// Any bytes in: never a crash, and what is accepted is in range.
TEST(ClusterRedirectTest, RandomBytesAreTotal) {
  std::mt19937 random(4242);
  int redirects = 0;
  for (int i = 0; i < 100000; ++i) {
    const std::string text = RandomErrorText(random);
    const std::optional<ClusterRedirect> redirect = ParseClusterRedirect(text);
    if (redirect &&
        (redirect->kind == RedirectKind::kMoved || redirect->kind == RedirectKind::kAsk)) {
      ++redirects;
      ASSERT_LT(redirect->slot, 16384);
      ASSERT_GE(redirect->target.port, 1);
      ASSERT_LE(redirect->target.port, 65535);
      ASSERT_TRUE(redirect->target.host.empty() || IsPlausibleNodeHost(redirect->target.host));
    }
    const RedirectDecision decision = DecideRedirect(text, "10.0.0.1", i % 7);
    if (decision.action == RedirectAction::kFollowMoved ||
        decision.action == RedirectAction::kFollowAsk) {
      ASSERT_FALSE(decision.target.host.empty());
    }
    if (decision.action == RedirectAction::kFail) {
      ASSERT_FALSE(decision.reason.empty());
    }
  }
  EXPECT_GT(redirects, 100) << "the generator should reach the accepting paths";
}

TEST(ClusterRedirectTest, DecideFollowsMovedAndRefreshesTheMap) {
  const RedirectDecision decision = DecideRedirect("MOVED 3999 127.0.0.1:6381", "10.0.0.1", 0);
  EXPECT_EQ(decision.action, RedirectAction::kFollowMoved);
  EXPECT_EQ(decision.slot, 3999);
  EXPECT_EQ(decision.target, (NodeAddress{"127.0.0.1", 6381}));
  EXPECT_TRUE(decision.refresh_slot_map);
  EXPECT_FALSE(decision.send_asking);
}

TEST(ClusterRedirectTest, DecideFollowsAskWithAskingAndLeavesTheMap) {
  const RedirectDecision decision = DecideRedirect("ASK 3999 127.0.0.1:6381", "10.0.0.1", 2);
  EXPECT_EQ(decision.action, RedirectAction::kFollowAsk);
  EXPECT_EQ(decision.slot, 3999);
  EXPECT_EQ(decision.target, (NodeAddress{"127.0.0.1", 6381}));
  EXPECT_TRUE(decision.send_asking);
  EXPECT_FALSE(decision.refresh_slot_map);
}

TEST(ClusterRedirectTest, DecideFillsAnEmptyHostWithTheOneAsked) {
  EXPECT_EQ(DecideRedirect("MOVED 7 :6380", "redis.internal", 0).target,
            (NodeAddress{"redis.internal", 6380}));
  EXPECT_EQ(DecideRedirect("ASK 7 :6380", "::1", 0).target, (NodeAddress{"::1", 6380}));
}

TEST(ClusterRedirectTest, DecideRetriesTryAgainAndClusterDownWithGrowingDelays) {
  const RedirectPolicy policy{.max_follow_ups = 10,
                              .first_retry_delay = milliseconds(50),
                              .max_retry_delay = milliseconds(1000)};
  const int expected[] = {50, 100, 200, 400, 800, 1000, 1000, 1000, 1000, 1000};
  for (int follow_ups = 0; follow_ups < 10; ++follow_ups) {
    const RedirectDecision again = DecideRedirect("TRYAGAIN x", "h", follow_ups, policy);
    EXPECT_EQ(again.action, RedirectAction::kRetry);
    EXPECT_EQ(again.delay, milliseconds(expected[follow_ups])) << follow_ups;
    EXPECT_FALSE(again.refresh_slot_map) << "TRYAGAIN: the map is right, the slot is busy";
    const RedirectDecision down =
        DecideRedirect("CLUSTERDOWN The cluster is down", "h", follow_ups, policy);
    EXPECT_EQ(down.action, RedirectAction::kRetry);
    EXPECT_EQ(down.delay, milliseconds(expected[follow_ups])) << follow_ups;
    EXPECT_TRUE(down.refresh_slot_map) << "after CLUSTERDOWN the owners have likely changed";
  }
}

TEST(ClusterRedirectTest, DecideFailsOnceTheBoundIsReached) {
  const RedirectPolicy policy;  // the defaults: 5 follow-ups
  EXPECT_EQ(policy.max_follow_ups, 5);
  for (std::string_view text : {"MOVED 1 h:1"sv, "ASK 1 h:1"sv, "TRYAGAIN"sv, "CLUSTERDOWN"sv}) {
    EXPECT_NE(DecideRedirect(text, "h", 4, policy).action, RedirectAction::kFail) << text;
    const RedirectDecision decision = DecideRedirect(text, "h", 5, policy);
    EXPECT_EQ(decision.action, RedirectAction::kFail) << text;
    EXPECT_EQ(decision.reason, "gave up after 5 cluster redirects and retries; last reply \"" +
                                   std::string(text) + "\"");
    EXPECT_EQ(DecideRedirect(text, "h", INT_MAX, policy).action, RedirectAction::kFail);
  }
  const RedirectPolicy none{.max_follow_ups = 0};
  EXPECT_EQ(DecideRedirect("MOVED 1 h:1", "h", 0, none).action, RedirectAction::kFail);
}

TEST(ClusterRedirectTest, DecideFailsOnAMalformedRedirect) {
  const RedirectDecision decision = DecideRedirect("MOVED 99999 h:1", "h", 0);
  EXPECT_EQ(decision.action, RedirectAction::kFail);
  EXPECT_EQ(decision.reason, "malformed cluster redirect \"MOVED 99999 h:1\"");
  // Unprintable bytes and length are tamed in the reason.
  const RedirectDecision binary = DecideRedirect(std::string_view("ASK \x01\0", 6), "h", 0);
  EXPECT_EQ(binary.reason, "malformed cluster redirect \"ASK ??\"");
  const RedirectDecision longer = DecideRedirect("MOVED " + std::string(500, '1'), "h", 0);
  EXPECT_EQ(longer.reason, "malformed cluster redirect \"MOVED " + std::string(114, '1') + "...\"");
}

TEST(ClusterRedirectTest, DecideDeliversOtherErrorsWhateverTheCount) {
  for (int follow_ups : {0, 4, 5, 100, INT_MAX, -1}) {
    const RedirectDecision decision =
        DecideRedirect("ERR wrong number of arguments", "h", follow_ups);
    EXPECT_EQ(decision.action, RedirectAction::kDeliver);
    EXPECT_TRUE(decision.reason.empty());
  }
}

TEST(ClusterRedirectTest, DecideIsSaneWithOddPolicies) {
  // A negative count is treated as none; odd delays neither overflow nor go negative.
  EXPECT_EQ(DecideRedirect("TRYAGAIN", "h", -3).delay, milliseconds(50));
  const RedirectPolicy huge{.max_follow_ups = INT_MAX,
                            .first_retry_delay = milliseconds(1),
                            .max_retry_delay = milliseconds::max()};
  const RedirectDecision far = DecideRedirect("TRYAGAIN", "h", 1000000, huge);
  EXPECT_EQ(far.action, RedirectAction::kRetry);
  EXPECT_EQ(far.delay, milliseconds::max());
  const RedirectPolicy negative{.max_follow_ups = 3,
                                .first_retry_delay = milliseconds(-5),
                                .max_retry_delay = milliseconds(-1)};
  EXPECT_EQ(DecideRedirect("CLUSTERDOWN", "h", 2, negative).delay, milliseconds(0));
  const RedirectPolicy zero{.max_follow_ups = 3,
                            .first_retry_delay = milliseconds(0),
                            .max_retry_delay = milliseconds(100)};
  EXPECT_EQ(DecideRedirect("CLUSTERDOWN", "h", 2, zero).delay, milliseconds(0));
}

}  // namespace
}  // namespace switchboard::routing
