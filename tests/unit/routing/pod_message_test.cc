#include "routing/pod_message.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

namespace switchboard::routing {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;

std::string Describe(const std::optional<PodMessage>& message) {
  if (!message) return "malformed";
  switch (message->kind) {
    case PodMessage::Kind::kDeliver:
      return "deliver target=" + std::string(message->target) +
             " sender_pod=" + std::string(message->sender_pod) +
             " sender=" + std::string(message->sender) +
             (message->sequence > 0 ? " sequence=" + std::to_string(message->sequence) : "") +
             " frame=[" + std::string(message->frame) + "]";
    case PodMessage::Kind::kBacklogMarker:
      return "backlog-marker bucket=" + std::to_string(message->bucket) +
             " nonce=" + std::string(message->nonce);
    case PodMessage::Kind::kReceipts:
      return "receipts pod=" + std::string(message->pod) +
             " list=" + std::string(message->receipts);
    case PodMessage::Kind::kAsk:
      return "ask pod=" + std::string(message->pod) + " bucket=" + std::to_string(message->bucket) +
             " top=" + std::to_string(message->sequence);
    case PodMessage::Kind::kAnswer:
      return "answer pod=" + std::string(message->pod) +
             " bucket=" + std::to_string(message->bucket) +
             " top=" + std::to_string(message->sequence) +
             " list=" + std::string(message->receipts);
    case PodMessage::Kind::kBounce:
      return std::string(message->queue_if_absent ? "bounce" : "bounce-unqueued") +
             " target=" + std::string(message->target) + " pod=" + std::string(message->pod) +
             " sender=" + std::string(message->sender) +
             (message->sequence > 0 ? " seq=" + std::to_string(message->sequence) : "") +
             " frame=[" + std::string(message->frame) + "]";
    case PodMessage::Kind::kFence:
      return "fence target=" + std::string(message->target) + " pod=" + std::string(message->pod);
    case PodMessage::Kind::kFenceAnswer:
      return "fence-answer target=" + std::string(message->target) +
             " pod=" + std::string(message->pod);
    case PodMessage::Kind::kReleased:
      return "released target=" + std::string(message->target) +
             " nonce=" + std::string(message->nonce);
    case PodMessage::Kind::kClaimed:
      return "claimed peer=" + std::string(message->target) +
             " nonce=" + std::string(message->nonce);
    case PodMessage::Kind::kReplaced:
      return "replaced peer=" + std::string(message->target);
    case PodMessage::Kind::kExpired:
      return "expired sender=" + std::string(message->sender) +
             " target=" + std::string(message->target);
  }
  return "?";
}

std::string Describe(const std::optional<QueuedEntry>& entry) {
  if (!entry) return "malformed";
  return "deadline=" + std::to_string(entry->deadline_ms) +
         " sender_pod=" + std::string(entry->sender_pod) + " sender=" + std::string(entry->sender) +
         " frame=[" + std::string(entry->frame) + "]";
}

TEST(DecodePodMessageTest, Deliver) {
  EXPECT_EQ(Describe(DecodePodMessage(R"(Dbob pod-1 alice {"type":"offer"})")),
            R"(deliver target=bob sender_pod=pod-1 sender=alice frame=[{"type":"offer"}])");
}

// 'd' is a deliver whose frame is dropped, not queued, when the target has left meanwhile.
TEST(DecodePodMessageTest, DeliverWithoutQueueing) {
  const std::optional<PodMessage> queued = DecodePodMessage("Dbob pod-1 alice frame");
  ASSERT_TRUE(queued.has_value());
  EXPECT_TRUE(queued->queue_if_absent);
  const std::optional<PodMessage> dropped =
      DecodePodMessage(R"(dbob pod-1 alice {"type":"LEAVE"})");
  ASSERT_TRUE(dropped.has_value());
  EXPECT_EQ(Describe(dropped),
            R"(deliver target=bob sender_pod=pod-1 sender=alice frame=[{"type":"LEAVE"}])");
  EXPECT_FALSE(dropped->queue_if_absent);
  EXPECT_FALSE(DecodePodMessage("dbob pod-1 alice").has_value());
}

TEST(DecodePodMessageTest, DeliverKeepsSpacesAndAnyBytesInTheFrame) {
  EXPECT_EQ(
      Describe(DecodePodMessage(R"(Dbob pod-1 alice {"sdp": "v=0 o=- 1 2 IN IP4"}  )")),
      R"(deliver target=bob sender_pod=pod-1 sender=alice frame=[{"sdp": "v=0 o=- 1 2 IN IP4"}  ])");
  EXPECT_EQ(Describe(DecodePodMessage("Dbob pod-1 alice  leading space")),
            "deliver target=bob sender_pod=pod-1 sender=alice frame=[ leading space]");
  EXPECT_EQ(Describe(DecodePodMessage("Dbob pod-1 alice x")),
            "deliver target=bob sender_pod=pod-1 sender=alice frame=[x]");
  const std::string_view binary = "Dbob pod-1 alice a\0b\nc\xff"sv;
  const std::optional<PodMessage> message = DecodePodMessage(binary);
  ASSERT_TRUE(message.has_value());
  EXPECT_EQ(message->frame, "a\0b\nc\xff"sv);
}

TEST(DecodePodMessageTest, ViewsPointIntoTheBytes) {
  const std::string bytes = "Dbob pod-1 alice frame";
  const std::optional<PodMessage> message = DecodePodMessage(bytes);
  ASSERT_TRUE(message.has_value());
  EXPECT_EQ(message->target.data(), bytes.data() + 1);
  EXPECT_EQ(message->frame.data() + message->frame.size(), bytes.data() + bytes.size());
}

TEST(DecodePodMessageTest, Replaced) {
  EXPECT_EQ(Describe(DecodePodMessage("Rbob")), "replaced peer=bob");
}

TEST(DecodePodMessageTest, Expired) {
  EXPECT_EQ(Describe(DecodePodMessage("Ealice bob")), "expired sender=alice target=bob");
}

TEST(DecodePodMessageTest, Bounce) {
  EXPECT_EQ(Describe(DecodePodMessage("Bbob pod-2 alice a frame")),
            "bounce target=bob pod=pod-2 sender=alice frame=[a frame]");
  EXPECT_EQ(Describe(DecodePodMessage("bbob pod-2 alice x")),
            "bounce-unqueued target=bob pod=pod-2 sender=alice frame=[x]");
}

// 'T' hands back a numbered frame instead of its receipt: it carries the frame's number.
TEST(DecodePodMessageTest, BounceWithASequence) {
  EXPECT_EQ(Describe(DecodePodMessage("Tbob pod-2 alice 17 a frame")),
            "bounce target=bob pod=pod-2 sender=alice seq=17 frame=[a frame]");
  EXPECT_EQ(Describe(DecodePodMessage("tbob pod-2 alice 9 x")),
            "bounce-unqueued target=bob pod=pod-2 sender=alice seq=9 frame=[x]");
}

TEST(DecodePodMessageTest, FenceAndAnswer) {
  EXPECT_EQ(Describe(DecodePodMessage("Fbob pod-1")), "fence target=bob pod=pod-1");
  EXPECT_EQ(Describe(DecodePodMessage("fbob pod-2")), "fence-answer target=bob pod=pod-2");
}

TEST(DecodePodMessageTest, Released) {
  EXPECT_EQ(Describe(DecodePodMessage("Xbob pod-2-17")), "released target=bob nonce=pod-2-17");
}

TEST(DecodePodMessageTest, Claimed) {
  EXPECT_EQ(Describe(DecodePodMessage("Cbob pod-2-a1b2-9")), "claimed peer=bob nonce=pod-2-a1b2-9");
}

// What pods build themselves reads back as what was meant, whatever the frame holds.
TEST(EncodePodMessageTest, RoundTrips) {
  const std::string frame = "{\"sdp\": \"v=0 a b\"}\n\0x"s;
  EXPECT_EQ(Describe(DecodePodMessage(EncodeDeliver("bob", "pod-1", "alice", frame, true))),
            "deliver target=bob sender_pod=pod-1 sender=alice frame=[" + frame + "]");
  const std::optional<PodMessage> unqueued =
      DecodePodMessage(EncodeDeliver("bob", "pod-1", "alice", "f", false));
  ASSERT_TRUE(unqueued.has_value());
  EXPECT_FALSE(unqueued->queue_if_absent);
  EXPECT_EQ(Describe(DecodePodMessage(EncodeBounce("bob", "pod-2", "alice", frame, true))),
            "bounce target=bob pod=pod-2 sender=alice frame=[" + frame + "]");
  EXPECT_EQ(Describe(DecodePodMessage(EncodeBounce("bob", "pod-2", "alice", "f", false))),
            "bounce-unqueued target=bob pod=pod-2 sender=alice frame=[f]");
  EXPECT_EQ(Describe(DecodePodMessage(EncodeBounce("bob", "pod-2", "alice", frame, true, 42))),
            "bounce target=bob pod=pod-2 sender=alice seq=42 frame=[" + frame + "]");
  EXPECT_EQ(Describe(DecodePodMessage(EncodeFence("bob", "pod-1"))), "fence target=bob pod=pod-1");
  EXPECT_EQ(Describe(DecodePodMessage(EncodeFenceAnswer("bob", "pod-2"))),
            "fence-answer target=bob pod=pod-2");
  EXPECT_EQ(Describe(DecodePodMessage(EncodeExpired("alice", "bob"))),
            "expired sender=alice target=bob");
}

// 'S' is a deliver that wants a receipt: it carries its number in the sender pod's stream.
TEST(DecodePodMessageTest, DeliverWithASequence) {
  EXPECT_EQ(Describe(DecodePodMessage("Sbob pod-1 alice 1733100000000001 a frame")),
            "deliver target=bob sender_pod=pod-1 sender=alice sequence=1733100000000001 "
            "frame=[a frame]");
  const std::optional<PodMessage> dropped = DecodePodMessage("sbob pod-1 alice 7 f");
  ASSERT_TRUE(dropped.has_value());
  EXPECT_FALSE(dropped->queue_if_absent);
  EXPECT_EQ(dropped->sequence, 7u);
  EXPECT_EQ(DecodePodMessage("Dbob pod-1 alice 7 f")->sequence, 0u) << "D wants no receipt";
  EXPECT_EQ(Describe(DecodePodMessage(EncodeDeliver("bob", "pod-1", "alice", "x y", true, 42))),
            "deliver target=bob sender_pod=pod-1 sender=alice sequence=42 frame=[x y]");
  EXPECT_EQ(EncodeDeliver("bob", "pod-1", "alice", "f", false, 0), "dbob pod-1 alice f");
}

TEST(DecodePodMessageTest, Receipts) {
  EXPECT_EQ(Describe(DecodePodMessage("Kpod-2 3:10-17,40:1-1")),
            "receipts pod=pod-2 list=3:10-17,40:1-1");
  EXPECT_EQ(DecodeReceipts("3:10-17,40:1-1"), (std::vector<Receipt>{{3, 10, 17}, {40, 1, 1}}));
  EXPECT_EQ(EncodeReceipts("pod-2", {{3, 10, 17}, {40, 1, 1}}), "Kpod-2 3:10-17,40:1-1");
  EXPECT_EQ(DecodeReceipts("0:1-18446744073709551615"),
            (std::vector<Receipt>{{0, 1, 18446744073709551615u}}));
  for (std::string_view list : {""sv,
                                ","sv,
                                "3"sv,
                                "3:"sv,
                                ":3"sv,
                                "3:5"sv,
                                "3:0-1"sv,
                                "3:2-1"sv,
                                "3:1-"sv,
                                "3:-1"sv,
                                "3:1-1,"sv,
                                ",3:1-1"sv,
                                "a:1-1"sv,
                                "1:b-1"sv,
                                "1:1-b"sv,
                                "-1:2-2"sv,
                                "1-2:3"sv,
                                "1:2:3-4"sv,
                                "1:1-18446744073709551616"sv,
                                "99999999:1-1"sv}) {
    EXPECT_FALSE(DecodeReceipts(list).has_value()) << "[" << list << "]";
    EXPECT_EQ(Describe(DecodePodMessage("Kpod-2 " + std::string(list))), "malformed") << list;
  }
}

// A sending pod asks how far its stream was handled; the answer lists ranges, maybe none.
TEST(DecodePodMessageTest, AskAndAnswer) {
  EXPECT_EQ(Describe(DecodePodMessage("Qpod-1 7 1733100000000009")),
            "ask pod=pod-1 bucket=7 top=1733100000000009");
  EXPECT_EQ(Describe(DecodePodMessage(EncodeAsk("pod-1", 63, 42))),
            "ask pod=pod-1 bucket=63 top=42");
  EXPECT_EQ(Describe(DecodePodMessage("Apod-2 7 20 7:1-10,7:15-20")),
            "answer pod=pod-2 bucket=7 top=20 list=7:1-10,7:15-20");
  EXPECT_EQ(EncodeAnswer("pod-2", 7, 20, {{7, 1, 10}, {7, 15, 20}}), "Apod-2 7 20 7:1-10,7:15-20");
  EXPECT_EQ(Describe(DecodePodMessage(EncodeAnswer("pod-2", 7, 20, {}))),
            "answer pod=pod-2 bucket=7 top=20 list=");
  for (std::string_view bytes :
       {"Q"sv, "Qpod-1"sv, "Qpod-1 7"sv, "Qpod-1 7 "sv, "Qpod-1 7 0"sv, "Qpod-1 x 5"sv,
        "Qpod-1 7 5 6"sv, "Q pod-1 7 5"sv, "Qpod-1 99999999 5"sv, "A"sv, "Apod-2 7"sv,
        "Apod-2 7 0"sv, "Apod-2 7 20 "sv, "Apod-2 7 20 7:1"sv, "Apod-2 7 x 7:1-2"sv,
        "Apod-2 7 20 7:1-2 8:1-2"sv}) {
    EXPECT_EQ(Describe(DecodePodMessage(bytes)), "malformed") << "[" << bytes << "]";
  }
}

TEST(DecodePodMessageTest, BacklogMarker) {
  EXPECT_EQ(Describe(DecodePodMessage("Z63 pod-1-7")), "backlog-marker bucket=63 nonce=pod-1-7");
  EXPECT_EQ(Describe(DecodePodMessage(EncodeBacklogMarker(0, "n"))),
            "backlog-marker bucket=0 nonce=n");
  for (std::string_view bytes :
       {"Z"sv, "Z1"sv, "Z1 "sv, "Zx n"sv, "Z-1 n"sv, "Z1 n m"sv, "Z99999999 n"sv}) {
    EXPECT_EQ(Describe(DecodePodMessage(bytes)), "malformed") << "[" << bytes << "]";
  }
}

TEST(DecodePodMessageTest, MalformedMessagesAreRefused) {
  for (std::string_view bytes :
       {""sv,
        // Unknown kinds, and kinds in the wrong case ("d" is a kind of its own).
        "X"sv, "Xbob pod-1 alice f"sv, "rbob"sv, "ealice bob"sv, "cbob n"sv, "r"sv, " Rbob"sv,
        // Deliver: missing parts, empty words, no frame.
        "D"sv, "Dbob"sv, "Dbob "sv, "Dbob pod-1"sv, "Dbob pod-1 "sv, "Dbob pod-1 alice"sv,
        "Dbob pod-1 alice "sv, "D bob pod-1 alice f"sv, "Dbob  pod-1 alice f"sv,
        "Dbob pod-1  alice f"sv,
        // Deliver with a sequence: not a number, 0, or no frame after it.
        "Sbob pod-1 alice f"sv, "Sbob pod-1 alice 0 f"sv, "Sbob pod-1 alice 12"sv,
        "Sbob pod-1 alice 12 "sv, "Sbob pod-1 alice -1 f"sv, "sbob pod-1 alice x f"sv,
        // Receipts: no pod, no list, or more.
        "K"sv, "Kpod-2"sv, "Kpod-2 "sv, "K pod-2 1:1"sv, "Kpod-2 1:1 2:2"sv,
        // Replaced: no peer, or more than one word.
        "R"sv, "R "sv, "Rbob "sv, "R bob"sv, "Rbob carol"sv,
        // Bounce: as deliver.
        "B"sv, "Bbob"sv, "Bbob pod-2"sv, "Bbob pod-2 alice"sv, "Bbob pod-2 alice "sv,
        "bbob pod-2 alice"sv, "B bob pod-2 alice f"sv,
        // Bounce with a sequence: as deliver with one.
        "Tbob pod-2 alice f"sv, "Tbob pod-2 alice 0 f"sv, "Tbob pod-2 alice 12"sv,
        "tbob pod-2 alice 12 "sv, "Tbob pod-2 alice -1 f"sv,
        // Fence, answer, release marker: exactly two words.
        "F"sv, "Fbob"sv, "Fbob "sv, "F bob pod-1"sv, "Fbob pod-1 x"sv, "fbob"sv, "fbob pod-1 "sv,
        "Xbob"sv, "Xbob "sv, "X bob n"sv, "Xbob n m"sv, "C"sv, "Cbob"sv, "Cbob "sv, "C bob n"sv,
        "Cbob n m"sv,
        // Expired: not exactly two words.
        "E"sv, "Ealice"sv, "Ealice "sv, "E alice bob"sv, "Ealice  bob"sv, "Ealice bob carol"sv,
        "Ealice bob "sv}) {
    EXPECT_EQ(Describe(DecodePodMessage(bytes)), "malformed") << "[" << bytes << "]";
  }
}

TEST(DecodeQueuedEntryTest, Entry) {
  EXPECT_EQ(Describe(DecodeQueuedEntry(R"(1732262400123 pod-2 carol {"type":"answer"})")),
            R"(deadline=1732262400123 sender_pod=pod-2 sender=carol frame=[{"type":"answer"}])");
}

TEST(DecodeQueuedEntryTest, FrameKeepsSpaces) {
  EXPECT_EQ(Describe(DecodeQueuedEntry("17 pod-2 carol a b  c ")),
            "deadline=17 sender_pod=pod-2 sender=carol frame=[a b  c ]");
  EXPECT_EQ(Describe(DecodeQueuedEntry("0 p s  x")), "deadline=0 sender_pod=p sender=s frame=[ x]");
}

TEST(DecodeQueuedEntryTest, ViewsPointIntoTheBytes) {
  const std::string bytes = "17 pod-2 carol frame";
  const std::optional<QueuedEntry> entry = DecodeQueuedEntry(bytes);
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->sender_pod.data(), bytes.data() + 3);
  EXPECT_EQ(entry->frame.data(), bytes.data() + 15);
}

TEST(DecodeQueuedEntryTest, MalformedEntriesAreRefused) {
  for (std::string_view bytes :
       {""sv, "17"sv, "17 "sv, "17 pod-2"sv, "17 pod-2 "sv, "17 pod-2 carol"sv, "17 pod-2 carol "sv,
        " 17 pod-2 carol f"sv, "17  pod-2 carol f"sv, "17 pod-2  carol f"sv,
        // The deadline must be a whole number.
        "x pod-2 carol f"sv, "17x pod-2 carol f"sv, "1.5 pod-2 carol f"sv, "+17 pod-2 carol f"sv,
        "99999999999999999999 pod-2 carol f"sv}) {
    EXPECT_EQ(Describe(DecodeQueuedEntry(bytes)), "malformed") << "[" << bytes << "]";
  }
}

}  // namespace
}  // namespace switchboard::routing
