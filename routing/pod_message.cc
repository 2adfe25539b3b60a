#include "routing/pod_message.h"

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <string>

namespace switchboard::routing {

namespace {

// Splits off the text before the first space; false if there is no space or it is empty.
bool TakeWord(std::string_view* rest, std::string_view* word) {
  const size_t space = rest->find(' ');
  if (space == 0 || space == std::string_view::npos) return false;
  *word = rest->substr(0, space);
  rest->remove_prefix(space + 1);
  return true;
}

// Reads "<word> <word>" with nothing after: the target and one more word.
bool TakeTwoWords(std::string_view rest, std::string_view* first, std::string_view* second) {
  if (!TakeWord(&rest, first) || rest.empty() || rest.find(' ') != std::string_view::npos) {
    return false;
  }
  *second = rest;
  return true;
}

// A decimal number without sign, fitting in 64 bits.
bool ParseNumber(std::string_view text, uint64_t* value) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

// A bucket number: decimal, not absurdly large (the caller checks it against kBuckets).
bool ParseBucket(std::string_view text, int* bucket) {
  uint64_t number = 0;
  if (!ParseNumber(text, &number) || number > 1000000) return false;
  *bucket = static_cast<int>(number);
  return true;
}

std::string Join(char kind, std::initializer_list<std::string_view> words) {
  size_t size = 1;
  for (std::string_view word : words) size += word.size() + 1;
  std::string message;
  message.reserve(size);
  message.push_back(kind);
  for (std::string_view word : words) {
    if (message.size() > 1) message.push_back(' ');
    message.append(word);
  }
  return message;
}

// "<bucket>:<first>-<last>,...", as DecodeReceipts reads it.
std::string ReceiptList(const std::vector<Receipt>& receipts) {
  std::string list;
  for (const Receipt& receipt : receipts) {
    if (!list.empty()) list.push_back(',');
    list.append(std::to_string(receipt.bucket))
        .append(":")
        .append(std::to_string(receipt.first))
        .append("-")
        .append(std::to_string(receipt.last));
  }
  return list;
}

}  // namespace

std::optional<PodMessage> DecodePodMessage(std::string_view bytes) {
  if (bytes.empty()) return std::nullopt;
  PodMessage message;
  std::string_view rest = bytes.substr(1);
  switch (bytes[0]) {
    case 'd':
      message.queue_if_absent = false;
      [[fallthrough]];
    case 'D':
      message.kind = PodMessage::Kind::kDeliver;
      if (!TakeWord(&rest, &message.target) || !TakeWord(&rest, &message.sender_pod) ||
          !TakeWord(&rest, &message.sender) || rest.empty()) {
        return std::nullopt;
      }
      message.frame = rest;
      return message;
    case 's':
      message.queue_if_absent = false;
      [[fallthrough]];
    case 'S': {
      message.kind = PodMessage::Kind::kDeliver;
      std::string_view sequence;
      if (!TakeWord(&rest, &message.target) || !TakeWord(&rest, &message.sender_pod) ||
          !TakeWord(&rest, &message.sender) || !TakeWord(&rest, &sequence) || rest.empty() ||
          !ParseNumber(sequence, &message.sequence) || message.sequence == 0) {
        return std::nullopt;
      }
      message.frame = rest;
      return message;
    }
    case 'K':
      message.kind = PodMessage::Kind::kReceipts;
      if (!TakeTwoWords(rest, &message.pod, &message.receipts) ||
          !DecodeReceipts(message.receipts)) {
        return std::nullopt;
      }
      return message;
    case 'Q':
    case 'A': {
      message.kind = bytes[0] == 'Q' ? PodMessage::Kind::kAsk : PodMessage::Kind::kAnswer;
      std::string_view bucket;
      std::string_view top;
      if (!TakeWord(&rest, &message.pod) || !TakeWord(&rest, &bucket) ||
          !ParseBucket(bucket, &message.bucket)) {
        return std::nullopt;
      }
      if (message.kind == PodMessage::Kind::kAnswer && TakeWord(&rest, &top)) {
        message.receipts = rest;
        if (!DecodeReceipts(message.receipts)) return std::nullopt;
      } else {
        top = rest;
      }
      if (!ParseNumber(top, &message.sequence) || message.sequence == 0) return std::nullopt;
      return message;
    }
    case 'Z': {
      message.kind = PodMessage::Kind::kBacklogMarker;
      std::string_view bucket;
      if (!TakeTwoWords(rest, &bucket, &message.nonce) || !ParseBucket(bucket, &message.bucket)) {
        return std::nullopt;
      }
      return message;
    }
    case 'b':
    case 't':
      message.queue_if_absent = false;
      [[fallthrough]];
    case 'B':
    case 'T': {
      message.kind = PodMessage::Kind::kBounce;
      const bool numbered = bytes[0] == 'T' || bytes[0] == 't';
      std::string_view sequence;
      if (!TakeWord(&rest, &message.target) || !TakeWord(&rest, &message.pod) ||
          !TakeWord(&rest, &message.sender) || (numbered && !TakeWord(&rest, &sequence)) ||
          rest.empty()) {
        return std::nullopt;
      }
      if (numbered && (!ParseNumber(sequence, &message.sequence) || message.sequence == 0)) {
        return std::nullopt;
      }
      message.frame = rest;
      return message;
    }
    case 'F':
    case 'f':
      message.kind = bytes[0] == 'F' ? PodMessage::Kind::kFence : PodMessage::Kind::kFenceAnswer;
      if (!TakeTwoWords(rest, &message.target, &message.pod)) return std::nullopt;
      return message;
    case 'X':
    case 'C':
      message.kind = bytes[0] == 'X' ? PodMessage::Kind::kReleased : PodMessage::Kind::kClaimed;
      if (!TakeTwoWords(rest, &message.target, &message.nonce)) return std::nullopt;
      return message;
    case 'R':
      message.kind = PodMessage::Kind::kReplaced;
      if (rest.empty() || rest.find(' ') != std::string_view::npos) return std::nullopt;
      message.target = rest;
      return message;
    case 'E':
      message.kind = PodMessage::Kind::kExpired;
      if (!TakeTwoWords(rest, &message.sender, &message.target)) return std::nullopt;
      return message;
    default:
      return std::nullopt;
  }
}

std::string EncodeDeliver(std::string_view target, std::string_view sender_pod,
                          std::string_view sender, std::string_view frame, bool queue_if_absent,
                          uint64_t sequence) {
  if (sequence == 0) return Join(queue_if_absent ? 'D' : 'd', {target, sender_pod, sender, frame});
  return Join(queue_if_absent ? 'S' : 's',
              {target, sender_pod, sender, std::to_string(sequence), frame});
}

std::optional<std::vector<Receipt>> DecodeReceipts(std::string_view list) {
  std::vector<Receipt> receipts;
  for (size_t at = 0; at <= list.size();) {
    const size_t end = std::min(list.find(',', at), list.size());
    const std::string_view item = list.substr(at, end - at);
    const size_t colon = item.find(':');
    const size_t dash = item.find('-');
    Receipt receipt;
    uint64_t bucket = 0;
    if (colon == std::string_view::npos || dash == std::string_view::npos || dash < colon ||
        !ParseNumber(item.substr(0, colon), &bucket) || bucket > 1000000 ||
        !ParseNumber(item.substr(colon + 1, dash - colon - 1), &receipt.first) ||
        !ParseNumber(item.substr(dash + 1), &receipt.last) || receipt.first == 0 ||
        receipt.first > receipt.last) {
      return std::nullopt;
    }
    receipt.bucket = static_cast<int>(bucket);
    receipts.push_back(receipt);
    at = end + 1;
  }
  return receipts;
}

std::string EncodeReceipts(std::string_view receiving_pod, const std::vector<Receipt>& receipts) {
  return Join('K', {receiving_pod, ReceiptList(receipts)});
}

std::string EncodeAsk(std::string_view asking_pod, int bucket, uint64_t top) {
  return Join('Q', {asking_pod, std::to_string(bucket), std::to_string(top)});
}

std::string EncodeAnswer(std::string_view answering_pod, int bucket, uint64_t top,
                         const std::vector<Receipt>& handled) {
  std::string message = Join('A', {answering_pod, std::to_string(bucket), std::to_string(top)});
  if (!handled.empty()) message.append(" ").append(ReceiptList(handled));
  return message;
}

std::string EncodeBounce(std::string_view target, std::string_view bouncer_pod,
                         std::string_view sender, std::string_view frame, bool queue_if_absent,
                         uint64_t sequence) {
  if (sequence == 0) return Join(queue_if_absent ? 'B' : 'b', {target, bouncer_pod, sender, frame});
  return Join(queue_if_absent ? 'T' : 't',
              {target, bouncer_pod, sender, std::to_string(sequence), frame});
}

std::string EncodeBacklogMarker(int bucket, std::string_view nonce) {
  return Join('Z', {std::to_string(bucket), nonce});
}

std::string EncodeFence(std::string_view target, std::string_view answer_to_pod) {
  return Join('F', {target, answer_to_pod});
}

std::string EncodeFenceAnswer(std::string_view target, std::string_view answering_pod) {
  return Join('f', {target, answering_pod});
}

std::string EncodeExpired(std::string_view sender, std::string_view target) {
  return Join('E', {sender, target});
}

std::optional<QueuedEntry> DecodeQueuedEntry(std::string_view bytes) {
  QueuedEntry entry;
  std::string_view rest = bytes;
  std::string_view deadline;
  if (!TakeWord(&rest, &deadline) || !TakeWord(&rest, &entry.sender_pod) ||
      !TakeWord(&rest, &entry.sender) || rest.empty()) {
    return std::nullopt;
  }
  const auto [end, ec] =
      std::from_chars(deadline.data(), deadline.data() + deadline.size(), entry.deadline_ms);
  if (ec != std::errc() || end != deadline.data() + deadline.size()) return std::nullopt;
  entry.frame = rest;
  return entry;
}

}  // namespace switchboard::routing
