#include "routing/subscription_probe.h"

#include <charconv>
#include <utility>

namespace switchboard::routing {
namespace {

constexpr size_t kHexDigits = 16;  // of the incarnation

std::string Hex(uint64_t value) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text(kHexDigits, '0');
  for (size_t i = kHexDigits; i-- > 0; value >>= 4) text[i] = kDigits[value & 0xF];
  return text;
}

}  // namespace

SubscriptionProbe::SubscriptionProbe(Options options, uint64_t incarnation)
    : options_(options), incarnation_(incarnation) {
  if (options_.channels == 0) options_.channels = 1;
}

std::string SubscriptionProbe::MessageFor(uint64_t incarnation, uint64_t number) {
  return std::string(1, kPrefix) + Hex(incarnation) + " " + std::to_string(number);
}

void SubscriptionProbe::Resume(Clock::time_point now) {
  state_ = State::kIdle;
  next_send_ = now;
}

void SubscriptionProbe::Pause() { state_ = State::kPaused; }

SubscriptionProbe::Decision SubscriptionProbe::GiveUp(std::string reason) {
  state_ = State::kPaused;
  ++lost_;
  Decision decision;
  decision.action = Action::kReconnect;
  decision.reason = std::move(reason);
  return decision;
}

SubscriptionProbe::Decision SubscriptionProbe::Tick(Clock::time_point now) {
  switch (state_) {
    case State::kPaused:
      return {};
    case State::kInFlight:
      if (now - sent_at_ < options_.deadline) return {};
      return GiveUp("probe " + std::to_string(number_) + " on the pod's channel #" +
                    std::to_string(channel_) + " did not come back within " +
                    std::to_string(options_.deadline.count()) + " ms");
    case State::kIdle:
      break;
  }
  if (now < next_send_) return {};
  ++number_;
  ++sent_;
  channel_ = static_cast<size_t>((number_ - 1) % options_.channels);
  sent_at_ = now;
  next_send_ = now + options_.period;
  state_ = State::kInFlight;
  Decision decision;
  decision.action = Action::kSend;
  decision.message = MessageFor(incarnation_, number_);
  decision.channel = channel_;
  return decision;
}

Clock::time_point SubscriptionProbe::next_check() const {
  switch (state_) {
    case State::kPaused:
      break;
    case State::kInFlight:
      return sent_at_ + options_.deadline;
    case State::kIdle:
      return next_send_;
  }
  return Clock::time_point::max();
}

std::optional<uint64_t> SubscriptionProbe::NumberOf(std::string_view message) const {
  // kPrefix, 16 lowercase hex digits, a space, a decimal number without leading zeros.
  if (message.size() < 1 + kHexDigits + 2 || message.front() != kPrefix ||
      message[1 + kHexDigits] != ' ') {
    return std::nullopt;
  }
  const std::string_view incarnation = message.substr(1, kHexDigits);
  if (incarnation != Hex(incarnation_)) return std::nullopt;
  const std::string_view digits = message.substr(2 + kHexDigits);
  if (digits.front() == '0') return std::nullopt;
  for (const char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  uint64_t number = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return number;
}

SubscriptionProbe::Seen SubscriptionProbe::OnMessage(std::string_view message,
                                                     Clock::time_point now) {
  const std::optional<uint64_t> number = NumberOf(message);
  if (!number || *number > number_) return Seen::kForeign;
  if (state_ == State::kInFlight && *number == number_) {
    state_ = State::kIdle;
    last_answered_ = *number;
    ++answered_;
    last_round_trip_ = now - sent_at_;
    return Seen::kAnswered;
  }
  return *number == last_answered_ ? Seen::kDuplicate : Seen::kLate;
}

SubscriptionProbe::Decision SubscriptionProbe::OnPublished(std::string_view message,
                                                           long long receivers) {
  if (receivers > 0 || state_ != State::kInFlight) return {};
  const std::optional<uint64_t> number = NumberOf(message);
  if (!number || *number != number_) return {};
  return GiveUp("the PUBLISH of probe " + std::to_string(number_) + " on the pod's channel #" +
                std::to_string(channel_) + " reached no subscriber");
}

}  // namespace switchboard::routing
