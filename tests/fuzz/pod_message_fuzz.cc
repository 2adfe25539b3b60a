// routing::DecodePodMessage, DecodeReceipts and DecodeQueuedEntry (routing/pod_message.h): what
// arrives from Redis, written by other pods or by the Lua steps.
//
// A message that decodes has the words its kind needs, none holding a space (they are
// space-separated), and its views lie in the input. Where pods encode that kind themselves, the
// encoder's output decodes to the same message: a round trip on the decoded fields, since the
// decoder also takes spellings the encoder never writes (a sequence of "007").
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "routing/pod_message.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace switchboard::routing;
using Kind = PodMessage::Kind;

bool Inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

// A word of a message: not empty, no space.
bool IsWord(std::string_view word) {
  return !word.empty() && word.find(' ') == std::string_view::npos;
}

bool SameMessage(const PodMessage& a, const PodMessage& b) {
  return a.kind == b.kind && a.target == b.target && a.sender_pod == b.sender_pod &&
         a.pod == b.pod && a.sender == b.sender && a.frame == b.frame && a.nonce == b.nonce &&
         a.queue_if_absent == b.queue_if_absent && a.sequence == b.sequence &&
         DecodeReceipts(a.receipts) == DecodeReceipts(b.receipts) && a.bucket == b.bucket;
}

// The same message, encoded by the pods' own encoder; empty for kinds only Lua writes.
std::string Reencode(const PodMessage& m) {
  const auto receipts = [&] { return DecodeReceipts(m.receipts).value_or(std::vector<Receipt>{}); };
  switch (m.kind) {
    case Kind::kDeliver:
      return EncodeDeliver(m.target, m.sender_pod, m.sender, m.frame, m.queue_if_absent,
                           m.sequence);
    case Kind::kBounce:
      return EncodeBounce(m.target, m.pod, m.sender, m.frame, m.queue_if_absent, m.sequence);
    case Kind::kFence:
      return EncodeFence(m.target, m.pod);
    case Kind::kFenceAnswer:
      return EncodeFenceAnswer(m.target, m.pod);
    case Kind::kExpired:
      return EncodeExpired(m.sender, m.target);
    case Kind::kReceipts:
      return EncodeReceipts(m.pod, receipts());
    case Kind::kAsk:
      return EncodeAsk(m.pod, m.bucket, m.sequence);
    case Kind::kAnswer:
      return EncodeAnswer(m.pod, m.bucket, m.sequence, receipts());
    case Kind::kBacklogMarker:
      return EncodeBacklogMarker(m.bucket, m.nonce);
    case Kind::kReleased:
    case Kind::kClaimed:
    case Kind::kReplaced:
      return {};
  }
  return {};
}

void CheckPodMessage(std::string_view bytes) {
  const auto message = DecodePodMessage(bytes);
  if (!message) return;
  const PodMessage& m = *message;
  for (std::string_view view :
       {m.target, m.sender_pod, m.pod, m.sender, m.frame, m.nonce, m.receipts}) {
    FUZZ_CHECK(Inside(view, bytes));
  }
  switch (m.kind) {
    case Kind::kDeliver:
    case Kind::kBounce:
      FUZZ_CHECK(IsWord(m.target) && IsWord(m.sender) && !m.frame.empty());
      FUZZ_CHECK(IsWord(m.kind == Kind::kDeliver ? m.sender_pod : m.pod));
      break;
    case Kind::kFence:
    case Kind::kFenceAnswer:
      FUZZ_CHECK(IsWord(m.target) && IsWord(m.pod));
      break;
    case Kind::kReleased:
    case Kind::kClaimed:
      FUZZ_CHECK(IsWord(m.target) && IsWord(m.nonce));
      break;
    case Kind::kReplaced:
      FUZZ_CHECK(IsWord(m.target));
      break;
    case Kind::kExpired:
      FUZZ_CHECK(IsWord(m.sender) && IsWord(m.target));
      break;
    case Kind::kReceipts:
      FUZZ_CHECK(IsWord(m.pod) && DecodeReceipts(m.receipts).has_value());
      break;
    case Kind::kAsk:
    case Kind::kAnswer:
      FUZZ_CHECK(IsWord(m.pod) && m.sequence > 0 && m.bucket >= 0);
      FUZZ_CHECK(m.receipts.empty() || DecodeReceipts(m.receipts).has_value());
      break;
    case Kind::kBacklogMarker:
      FUZZ_CHECK(IsWord(m.nonce) && m.bucket >= 0);
      break;
  }
  const std::string encoded = Reencode(m);
  if (encoded.empty()) return;
  const auto decoded = DecodePodMessage(encoded);
  FUZZ_CHECK(decoded.has_value());
  FUZZ_CHECK(SameMessage(*decoded, m));
  FUZZ_CHECK(Reencode(*decoded) == encoded);  // the encoder's spelling is a fixed point
}

void CheckReceipts(std::string_view list) {
  const auto receipts = DecodeReceipts(list);
  if (!receipts) return;
  FUZZ_CHECK(!receipts->empty());
  for (const Receipt& receipt : *receipts) {
    FUZZ_CHECK(receipt.bucket >= 0 && receipt.first > 0 && receipt.first <= receipt.last);
  }
  const std::string encoded = EncodeReceipts("pod-a", *receipts);
  const auto message = DecodePodMessage(encoded);
  FUZZ_CHECK(message.has_value() && message->kind == Kind::kReceipts && message->pod == "pod-a");
  FUZZ_CHECK(DecodeReceipts(message->receipts) == receipts);
}

void CheckQueuedEntry(std::string_view bytes) {
  const auto entry = DecodeQueuedEntry(bytes);
  if (!entry) return;
  FUZZ_CHECK(IsWord(entry->sender_pod) && IsWord(entry->sender) && !entry->frame.empty());
  FUZZ_CHECK(Inside(entry->sender_pod, bytes) && Inside(entry->sender, bytes) &&
             Inside(entry->frame, bytes));
  // The frame is all that follows the third space.
  FUZZ_CHECK(entry->frame.data() + entry->frame.size() == bytes.data() + bytes.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  CheckPodMessage(bytes);
  CheckReceipts(bytes);
  CheckQueuedEntry(bytes);
  return 0;
}
