#include "routing/cluster_redirect.h"

#include <algorithm>

#include "routing/cluster_slot.h"

namespace switchboard::routing {
namespace {

// Parses 1 to 5 decimal digits (no sign, no spaces) into `value`.
bool ParseSmallNumber(std::string_view text, int* value) {
  if (text.empty() || text.size() > 5) return false;
  int result = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
    result = result * 10 + (c - '0');
  }
  *value = result;
  return true;
}

// True when `text` is `word`, alone or followed by a space.
bool StartsWithWord(std::string_view text, std::string_view word) {
  return text.substr(0, word.size()) == word &&
         (text.size() == word.size() || text[word.size()] == ' ');
}

// Parses "<slot> <host>:<port>", the part after "MOVED " or "ASK ".
std::optional<ClusterRedirect> ParseTarget(RedirectKind kind, std::string_view rest) {
  const size_t space = rest.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const std::string_view slot_text = rest.substr(0, space);
  const std::string_view endpoint = rest.substr(space + 1);
  int slot = 0;
  if (!ParseSmallNumber(slot_text, &slot) || slot >= kClusterSlotCount) return std::nullopt;

  const size_t colon = endpoint.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  int port = 0;
  if (!ParseSmallNumber(endpoint.substr(colon + 1), &port) || port < 1 || port > 65535) {
    return std::nullopt;
  }
  std::string_view host = endpoint.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    if (host.empty()) return std::nullopt;  // "[]:7000"
  }
  if (!host.empty() &&
      (!IsPlausibleNodeHost(host) || host.find_first_of("[]") != std::string_view::npos)) {
    return std::nullopt;
  }

  ClusterRedirect redirect;
  redirect.kind = kind;
  redirect.slot = static_cast<uint16_t>(slot);
  redirect.target.host = std::string(host);
  redirect.target.port = port;
  return redirect;
}

RedirectDecision Failure(std::string reason) {
  RedirectDecision decision;
  decision.action = RedirectAction::kFail;
  decision.reason = std::move(reason);
  return decision;
}

// The error text as it may appear in a reason: cut short and with unprintable bytes replaced.
std::string Quoted(std::string_view text) {
  constexpr size_t kMax = 120;
  std::string quoted = "\"";
  for (size_t i = 0; i < text.size() && i < kMax; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    quoted += byte >= ' ' && byte <= '~' ? static_cast<char>(byte) : '?';
  }
  if (text.size() > kMax) quoted += "...";
  return quoted + "\"";
}

}  // namespace

std::optional<ClusterRedirect> ParseClusterRedirect(std::string_view error_text) {
  if (StartsWithWord(error_text, "MOVED")) {
    return ParseTarget(RedirectKind::kMoved,
                       error_text.substr(std::min<size_t>(6, error_text.size())));
  }
  if (StartsWithWord(error_text, "ASK")) {
    return ParseTarget(RedirectKind::kAsk,
                       error_text.substr(std::min<size_t>(4, error_text.size())));
  }
  ClusterRedirect redirect;
  if (StartsWithWord(error_text, "TRYAGAIN")) {
    redirect.kind = RedirectKind::kTryAgain;
  } else if (StartsWithWord(error_text, "CLUSTERDOWN")) {
    redirect.kind = RedirectKind::kClusterDown;
  }
  return redirect;
}

RedirectDecision DecideRedirect(std::string_view error_text, std::string_view asked_host,
                                int follow_ups, const RedirectPolicy& policy) {
  const std::optional<ClusterRedirect> redirect = ParseClusterRedirect(error_text);
  if (!redirect) return Failure("malformed cluster redirect " + Quoted(error_text));
  if (redirect->kind == RedirectKind::kNone) return RedirectDecision{};
  if (follow_ups < 0) follow_ups = 0;
  if (follow_ups >= policy.max_follow_ups) {
    return Failure("gave up after " + std::to_string(follow_ups) +
                   " cluster redirects and retries; last reply " + Quoted(error_text));
  }

  RedirectDecision decision;
  switch (redirect->kind) {
    case RedirectKind::kMoved:
    case RedirectKind::kAsk: {
      const bool moved = redirect->kind == RedirectKind::kMoved;
      decision.action = moved ? RedirectAction::kFollowMoved : RedirectAction::kFollowAsk;
      decision.slot = redirect->slot;
      decision.target = redirect->target;
      if (decision.target.host.empty()) decision.target.host = std::string(asked_host);
      decision.refresh_slot_map = moved;
      decision.send_asking = !moved;
      return decision;
    }
    case RedirectKind::kTryAgain:
    case RedirectKind::kClusterDown: {
      decision.action = RedirectAction::kRetry;
      decision.refresh_slot_map = redirect->kind == RedirectKind::kClusterDown;
      // Doubling stops at the cap, or before it could overflow when the cap is huge.
      using std::chrono::milliseconds;
      const milliseconds cap = std::max(policy.max_retry_delay, milliseconds(0));
      milliseconds delay = std::clamp(policy.first_retry_delay, milliseconds(0), cap);
      for (int i = 0; i < follow_ups && delay < cap; ++i) delay = delay > cap / 2 ? cap : delay * 2;
      decision.delay = delay;
      return decision;
    }
    case RedirectKind::kNone:
      break;
  }
  return RedirectDecision{};
}

}  // namespace switchboard::routing
