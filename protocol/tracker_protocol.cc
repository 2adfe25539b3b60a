#include "protocol/tracker_protocol.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "protocol/json_text.h"

namespace switchboard::protocol {

namespace {

constexpr char kRoutingKeyMark = '^';
constexpr std::string_view kHexDigits = "0123456789abcdef";

// The bytes of a JSON string's decoded text when each of its characters is U+0000 to U+00FF
// (one or two bytes of UTF-8) and there are exactly `length` of them; else nullopt.
std::optional<std::string> BytesOfBinaryString(std::string_view utf8, size_t length) {
  std::string bytes;
  bytes.reserve(length);
  for (size_t i = 0; i < utf8.size(); ++i) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (c < 0x80) {
      bytes.push_back(static_cast<char>(c));
    } else if ((c == 0xC2 || c == 0xC3) && i + 1 < utf8.size()) {
      const auto next = static_cast<unsigned char>(utf8[++i]);
      bytes.push_back(static_cast<char>(((c & 0x03) << 6) | (next & 0x3F)));
    } else {
      return std::nullopt;  // a character past U+00FF
    }
    if (bytes.size() > length) return std::nullopt;
  }
  if (bytes.size() != length) return std::nullopt;
  return bytes;
}

// The binary id in member `member`, when it is a string of kTrackerIdBytes characters.
std::optional<std::string> BinaryId(const JsonMember* member) {
  if (member == nullptr || member->type != JsonType::kString) return std::nullopt;
  return BytesOfBinaryString(member->string, kTrackerIdBytes);
}

bool IsAbsent(const JsonMember* member) {
  return member == nullptr || member->type == JsonType::kNull;
}

// The number a JSON number or a numeric string holds, as JavaScript's Number() would read it for
// the forms clients send ("0", 0, 1.5e3); nullopt otherwise.
std::optional<double> NumberOf(const JsonMember* member) {
  if (member == nullptr) return std::nullopt;
  std::string_view text;
  if (member->type == JsonType::kNumber) {
    text = member->raw;
  } else if (member->type == JsonType::kString) {
    text = member->string;
  } else {
    return std::nullopt;
  }
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::optional<TrackerEvent> EventOf(const JsonMember* member) {
  if (IsAbsent(member)) return TrackerEvent::kUpdate;
  if (member->type != JsonType::kString) return std::nullopt;
  const std::string_view name = member->string;
  if (name.empty() || name == "update" || name == "paused") return TrackerEvent::kUpdate;
  if (name == "started") return TrackerEvent::kStarted;
  if (name == "stopped") return TrackerEvent::kStopped;
  if (name == "completed") return TrackerEvent::kCompleted;
  return std::nullopt;
}

void AppendMember(Frame& frame, std::string_view name) {
  frame.Append(",\"");
  frame.Append(name);
  frame.Append("\":");
}

void AppendNumber(Frame& frame, uint64_t value) {
  char digits[24];
  const auto [end, error] = std::to_chars(digits, digits + sizeof digits, value);
  frame.Append(std::string_view(digits, static_cast<size_t>(end - digits)));
}

// {"action":"announce",<name>:<raw>,"offer_id":..,"peer_id":..,"info_hash":..}
Frame BuildRelayed(std::string_view name, std::string_view raw, std::string_view offer_id,
                   std::string_view info_hash, std::string_view peer_id) {
  Frame frame(raw.size() + offer_id.size() + 160);
  frame.Append("{\"action\":\"announce\"");
  AppendMember(frame, name);
  frame.Append(raw);
  AppendMember(frame, "offer_id");
  frame.Append(offer_id);
  AppendMember(frame, "peer_id");
  AppendTrackerBinaryString(frame, peer_id);
  AppendMember(frame, "info_hash");
  AppendTrackerBinaryString(frame, info_hash);
  frame.Append('}');
  return frame;
}

std::string_view ActionName(TrackerAction action) {
  return action == TrackerAction::kAnnounce ? "announce" : "scrape";
}

}  // namespace

std::string TrackerHex(std::string_view bytes) {
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    hex.push_back(kHexDigits[b >> 4]);
    hex.push_back(kHexDigits[b & 0x0F]);
  }
  return hex;
}

std::string TrackerRoutingKey(std::string_view peer_id) {
  return std::string(1, kRoutingKeyMark) + TrackerHex(peer_id);
}

std::optional<std::string> TrackerPeerIdFromRoutingKey(std::string_view key) {
  if (key.size() != 1 + 2 * kTrackerIdBytes || key[0] != kRoutingKeyMark) return std::nullopt;
  std::string bytes;
  for (size_t i = 1; i < key.size(); i += 2) {
    const size_t high = kHexDigits.find(key[i]);
    const size_t low = kHexDigits.find(key[i + 1]);
    if (high == std::string_view::npos || low == std::string_view::npos) return std::nullopt;
    bytes.push_back(static_cast<char>((high << 4) | low));
  }
  return bytes;
}

std::optional<TrackerFailure> TrackerParser::Parse(std::string_view text, TrackerRequest* out) {
  if (!document_.Parse(text) || document_.root_type() != JsonType::kObject) {
    return TrackerFailure{"invalid JSON: a request is one JSON object", std::nullopt, {}};
  }
  const JsonMember* action = document_.Member("action");
  if (action != nullptr && action->type == JsonType::kString && action->string == "announce") {
    out->action = TrackerAction::kAnnounce;
    return ParseAnnounce(&out->announce);
  }
  if (action != nullptr && action->type == JsonType::kString && action->string == "scrape") {
    out->action = TrackerAction::kScrape;
    return ParseScrape(&out->scrape_hashes);
  }
  return TrackerFailure{"invalid action: announce or scrape", std::nullopt, {}};
}

std::optional<TrackerFailure> TrackerParser::ParseAnnounce(TrackerAnnounce* out) {
  TrackerFailure failure{{}, TrackerAction::kAnnounce, {}};
  auto fail = [&failure](std::string_view reason) {
    failure.reason = reason;
    return failure;
  };
  std::optional<std::string> info_hash = BinaryId(document_.Member("info_hash"));
  if (!info_hash) return fail("invalid info_hash");
  out->info_hash = *std::move(info_hash);
  failure.info_hash = out->info_hash;
  std::optional<std::string> peer_id = BinaryId(document_.Member("peer_id"));
  if (!peer_id) return fail("invalid peer_id");
  out->peer_id = *std::move(peer_id);

  const std::optional<TrackerEvent> event = EventOf(document_.Member("event"));
  if (!event) return fail("invalid event");
  out->event = *event;
  const std::optional<double> left = NumberOf(document_.Member("left"));
  out->complete = left.has_value() && *left == 0;
  const std::optional<double> numwant = NumberOf(document_.Member("numwant"));
  out->numwant.reset();
  if (numwant && *numwant >= 0) {
    constexpr double kMax = std::numeric_limits<uint32_t>::max();
    out->numwant = static_cast<uint32_t>(std::min(std::floor(*numwant), kMax));
  }

  out->to_peer_id.clear();
  out->answer = {};
  out->offer_id = {};
  const JsonMember* answer = document_.Member("answer");
  if (!IsAbsent(answer)) {
    if (answer->type != JsonType::kObject) return fail("invalid answer: an object");
    std::optional<std::string> to = BinaryId(document_.Member("to_peer_id"));
    if (!to) return fail("invalid `to_peer_id` (required with `answer`)");
    const JsonMember* offer_id = document_.Member("offer_id");
    if (offer_id == nullptr || offer_id->type != JsonType::kString) {
      return fail("invalid `offer_id` (required with `answer`)");
    }
    out->to_peer_id = *std::move(to);
    out->answer = answer->raw;
    out->offer_id = offer_id->raw;
  }

  out->offers.clear();
  const JsonMember* offers = document_.Member("offers");
  if (IsAbsent(offers)) return std::nullopt;
  return ParseOffers(*offers, out);
}

std::optional<TrackerFailure> TrackerParser::ParseOffers(const JsonMember& offers,
                                                         TrackerAnnounce* out) {
  TrackerFailure failure{"invalid offers: a list of {offer_id, offer}", TrackerAction::kAnnounce,
                         out->info_hash};
  if (offers.type != JsonType::kArray) return failure;
  SplitJsonArray(offers.raw, &elements_);
  if (elements_.size() > limits_.max_offers) {
    failure.reason = "too many offers";
    return failure;
  }
  for (std::string_view element : elements_) {
    if (!element_.Parse(element) || element_.root_type() != JsonType::kObject) return failure;
    const JsonMember* offer_id = element_.Member("offer_id");
    const JsonMember* offer = element_.Member("offer");
    if (offer_id == nullptr || offer_id->type != JsonType::kString || offer == nullptr ||
        offer->type != JsonType::kObject) {
      return failure;
    }
    // The views point into `element`, which points into the frame's text.
    out->offers.push_back(TrackerOffer{offer_id->raw, offer->raw});
  }
  return std::nullopt;
}

std::optional<TrackerFailure> TrackerParser::ParseScrape(std::vector<std::string>* out) {
  TrackerFailure failure{"invalid info_hash", TrackerAction::kScrape, {}};
  out->clear();
  const JsonMember* info_hash = document_.Member("info_hash");
  if (IsAbsent(info_hash)) {
    failure.reason = "scrape needs info_hash (one or a list): every swarm is not listed";
    return failure;
  }
  if (info_hash->type == JsonType::kString) {
    std::optional<std::string> one = BinaryId(info_hash);
    if (!one) return failure;
    out->push_back(*std::move(one));
    return std::nullopt;
  }
  if (info_hash->type != JsonType::kArray) return failure;
  SplitJsonArray(info_hash->raw, &elements_);
  if (elements_.size() > limits_.max_scrape) {
    failure.reason = "too many info_hash in one scrape";
    return failure;
  }
  for (std::string_view element : elements_) {
    // Each element is a JSON string: decode it through a one-member document.
    std::string wrapped = "{\"h\":";
    wrapped.append(element);
    wrapped.push_back('}');
    if (!element_.Parse(wrapped)) return failure;
    std::optional<std::string> one = BinaryId(element_.Member("h"));
    if (!one) return failure;
    out->push_back(*std::move(one));
  }
  return std::nullopt;
}

void AppendTrackerBinaryString(Frame& frame, std::string_view bytes) {
  frame.Append('"');
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x80) {
      frame.Append(static_cast<char>(0xC0 | (b >> 6)));
      frame.Append(static_cast<char>(0x80 | (b & 0x3F)));
    } else if (b == '"' || b == '\\') {
      frame.Append('\\');
      frame.Append(c);
    } else if (b < 0x20) {
      frame.Append("\\u00");
      frame.Append(kHexDigits[b >> 4]);
      frame.Append(kHexDigits[b & 0x0F]);
    } else {
      frame.Append(c);
    }
  }
  frame.Append('"');
}

Frame BuildTrackerAnnounceReply(std::string_view info_hash, uint64_t complete, uint64_t incomplete,
                                uint32_t interval_seconds) {
  Frame frame(128);
  frame.Append("{\"action\":\"announce\"");
  AppendMember(frame, "interval");
  AppendNumber(frame, interval_seconds);
  AppendMember(frame, "info_hash");
  AppendTrackerBinaryString(frame, info_hash);
  AppendMember(frame, "complete");
  AppendNumber(frame, complete);
  AppendMember(frame, "incomplete");
  AppendNumber(frame, incomplete);
  frame.Append('}');
  return frame;
}

Frame BuildTrackerOfferFrame(std::string_view info_hash, std::string_view peer_id,
                             const TrackerOffer& offer) {
  return BuildRelayed("offer", offer.offer, offer.offer_id, info_hash, peer_id);
}

Frame BuildTrackerAnswerFrame(std::string_view info_hash, std::string_view peer_id,
                              std::string_view offer_id, std::string_view answer) {
  return BuildRelayed("answer", answer, offer_id, info_hash, peer_id);
}

Frame BuildTrackerScrapeReply(const std::vector<TrackerSwarmCounts>& swarms,
                              uint32_t min_request_interval_seconds) {
  Frame frame(64 + swarms.size() * 96);
  frame.Append("{\"action\":\"scrape\",\"files\":{");
  for (size_t i = 0; i < swarms.size(); ++i) {
    if (i > 0) frame.Append(',');
    AppendTrackerBinaryString(frame, swarms[i].info_hash);
    frame.Append(":{\"complete\":");
    AppendNumber(frame, swarms[i].complete);
    AppendMember(frame, "incomplete");
    AppendNumber(frame, swarms[i].incomplete);
    AppendMember(frame, "downloaded");
    AppendNumber(frame, swarms[i].downloaded);
    frame.Append('}');
  }
  frame.Append("},\"flags\":{\"min_request_interval\":");
  AppendNumber(frame, min_request_interval_seconds);
  frame.Append("}}");
  return frame;
}

Frame BuildTrackerFailure(const TrackerFailure& failure) {
  Frame frame(failure.reason.size() + 96);
  frame.Append("{\"failure reason\":");
  AppendJsonString(frame, failure.reason);
  if (failure.action) {
    AppendMember(frame, "action");
    frame.Append('"');
    frame.Append(ActionName(*failure.action));
    frame.Append('"');
  }
  if (!failure.info_hash.empty()) {
    AppendMember(frame, "info_hash");
    AppendTrackerBinaryString(frame, failure.info_hash);
  }
  frame.Append('}');
  return frame;
}

}  // namespace switchboard::protocol
