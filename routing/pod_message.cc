#include "routing/pod_message.h"

#include <charconv>

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
    case 'R':
      message.kind = PodMessage::Kind::kReplaced;
      if (rest.empty() || rest.find(' ') != std::string_view::npos) return std::nullopt;
      message.target = rest;
      return message;
    case 'E':
      message.kind = PodMessage::Kind::kExpired;
      if (!TakeWord(&rest, &message.sender) || rest.empty() ||
          rest.find(' ') != std::string_view::npos) {
        return std::nullopt;
      }
      message.target = rest;
      return message;
    default:
      return std::nullopt;
  }
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
