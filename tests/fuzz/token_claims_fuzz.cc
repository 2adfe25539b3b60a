// server::CheckTokenClaims (server/token_claims.h): the input is a token's payload, checked at a
// fixed time against a policy naming an audience and an issuer, and against one that names
// neither.
//
// It must never throw or crash, and what it decides is compared with the reference reading of
// RFC 8259 (reference_json.h) and the rules of the header: what it accepts is a JSON object with
// one non-empty string "sub", one numeric "exp" later than now - leeway (rounded down), "nbf" no
// later than now + leeway, the audience and issuer asked for and "send_to" an array of non-empty
// strings; what meets all that (in the plain cases, below) is accepted. A refusal's reason is
// short, printable and quotes nothing of the token.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/token_claims.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/reference_json.h"

namespace {

using switchboard::fuzz::ParseReferenceJson;
using switchboard::fuzz::ReferenceJson;
using switchboard::fuzz::ReferenceMember;
using switchboard::fuzz::ReferenceType;
using switchboard::server::CheckTokenClaims;
using switchboard::server::TokenClaims;
using switchboard::server::TokenPolicy;

constexpr int64_t kNow = 1'700'000'000;
constexpr int64_t kLeeway = 60;
constexpr std::string_view kAudience = "switchboard";
constexpr std::string_view kIssuer = "https://auth.example";
constexpr std::string_view kUntouched = "(not set)";
constexpr size_t kMaxReasonLength = 120;

const ReferenceMember* Find(const ReferenceJson& json, std::string_view name) {
  for (const ReferenceMember& member : json.members) {
    if (member.name == name) return &member;
  }
  return nullptr;
}

size_t Count(const ReferenceJson& json, std::string_view name) {
  size_t count = 0;
  for (const ReferenceMember& member : json.members) count += member.name == name;
  return count;
}

double NumberOf(const ReferenceMember& member) {
  return std::strtod(std::string(member.raw).c_str(), nullptr);
}

// Whether `seconds` (from the claims) is `number` (from the text) rounded down; beyond 2^53 a
// double holds no more than about 16 digits, so there the two need only be close.
bool IsRoundedDown(int64_t seconds, double number) {
  if (std::fabs(number) < 9007199254740992.0) {
    return static_cast<double>(seconds) == std::floor(number);
  }
  return std::fabs(static_cast<double>(seconds) - number) <= std::fabs(number) * 1e-15;
}

// The items of an array (`raw`, already read as JSON), as raw text.
std::vector<std::string_view> ItemsOf(std::string_view raw) {
  std::vector<std::string_view> items;
  size_t depth = 0, start = 0;
  bool in_string = false;
  for (size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth == 1) start = i + 1;
    } else if (c == ']' || c == '}' || c == ',') {
      if (depth == 1) {
        std::string_view item = raw.substr(start, i - start);
        const size_t first = item.find_first_not_of(" \t\n\r");
        if (first != std::string_view::npos) {
          item.remove_prefix(first);
          item.remove_suffix(item.size() - 1 - item.find_last_not_of(" \t\n\r"));
          items.push_back(item);
        }
        start = i + 1;
      }
      if (c != ',') --depth;
    }
  }
  return items;
}

// The decoded string `raw` (a JSON string) stands for.
std::string Decoded(std::string_view raw) {
  const auto wrapped =
      ParseReferenceJson("{\"s\":" + std::string(raw) + "}", {.check_utf8 = false});
  FUZZ_CHECK(wrapped && wrapped->members.size() == 1);
  return wrapped->members[0].string;
}

// The decoded items of an array that holds strings only, or nullopt.
std::optional<std::vector<std::string>> StringItems(const ReferenceMember& member) {
  if (member.type != ReferenceType::kArray) return std::nullopt;
  std::vector<std::string> strings;
  for (std::string_view item : ItemsOf(member.raw)) {
    if (item.front() != '"') return std::nullopt;
    strings.push_back(Decoded(item));
  }
  return strings;
}

bool Names(const ReferenceMember* aud, std::string_view audience) {
  if (aud == nullptr) return false;
  if (aud->type == ReferenceType::kString) return aud->string == audience;
  if (aud->type != ReferenceType::kArray) return false;
  for (std::string_view item : ItemsOf(aud->raw)) {
    if (item.front() == '"' && Decoded(item) == audience) return true;
  }
  return false;
}

bool ReferenceAllows(const std::vector<std::string>& patterns, std::string_view peer) {
  for (std::string_view pattern : patterns) {
    if (!pattern.empty() && pattern.back() == '*') {
      if (peer.substr(0, pattern.size() - 1) == pattern.substr(0, pattern.size() - 1)) return true;
    } else if (peer == pattern) {
      return true;
    }
  }
  return false;
}

// A refusal's reason: set, short, printable, and no copy of the payload or of a claim's value.
// Reasons are plain words, so a value with a digit, '_' or '-' in it is surely not one of them.
void CheckReason(std::string_view text, const std::optional<ReferenceJson>& json,
                 const std::string& why) {
  FUZZ_CHECK(!why.empty() && why != kUntouched);
  FUZZ_CHECK(why.size() <= kMaxReasonLength);
  for (char c : why) FUZZ_CHECK(c >= 0x20 && c < 0x7f);
  if (text.size() > 16 && text.find('{') != std::string_view::npos) {
    FUZZ_CHECK(why.find(text) == std::string::npos);
  }
  if (!json) return;
  for (const ReferenceMember& member : json->members) {
    const std::string_view value = member.string;
    if (member.type != ReferenceType::kString || value.size() < 4 ||
        value.find_first_of("0123456789_-") == std::string_view::npos) {
      continue;
    }
    FUZZ_CHECK(why.find(value) == std::string::npos);
  }
}

// What an accepted payload must hold, against `policy`.
void CheckAccepted(const ReferenceJson& json, const TokenPolicy& policy,
                   const TokenClaims& claims) {
  // One of each claim: which of two "sub"s counts would be anyone's guess.
  for (std::string_view name : {"sub", "exp", "nbf", "aud", "iss", "send_to"}) {
    FUZZ_CHECK(Count(json, name) <= 1);
  }
  FUZZ_CHECK(!claims.subject.empty());
  const ReferenceMember* sub = Find(json, "sub");
  FUZZ_CHECK(sub != nullptr && sub->type == ReferenceType::kString);
  // jsoncpp decodes an escaped high surrogate with whatever \u escape follows it.
  FUZZ_CHECK(sub->string == claims.subject || json.has_surrogate_escape);

  FUZZ_CHECK(claims.expires_at > kNow - kLeeway);
  const ReferenceMember* exp = Find(json, "exp");
  FUZZ_CHECK(exp != nullptr && exp->type == ReferenceType::kNumber);
  FUZZ_CHECK(IsRoundedDown(claims.expires_at, NumberOf(*exp)));

  if (const ReferenceMember* nbf = Find(json, "nbf")) {
    FUZZ_CHECK(nbf->type == ReferenceType::kNumber);
    FUZZ_CHECK(std::floor(NumberOf(*nbf)) <= static_cast<double>(kNow + kLeeway));
  }
  if (!policy.audience.empty() && !json.has_surrogate_escape) {
    FUZZ_CHECK(Names(Find(json, "aud"), policy.audience));
  }
  if (!policy.issuer.empty() && !json.has_surrogate_escape) {
    const ReferenceMember* iss = Find(json, "iss");
    FUZZ_CHECK(iss != nullptr && iss->type == ReferenceType::kString &&
               iss->string == policy.issuer);
  }

  const ReferenceMember* send_to = Find(json, "send_to");
  if (send_to == nullptr) {
    FUZZ_CHECK(claims.may_send.Allows(claims.subject));
    FUZZ_CHECK(claims.may_send.Allows("anyone-at-all"));
    return;
  }
  const auto patterns = StringItems(*send_to);
  FUZZ_CHECK(patterns.has_value());
  if (json.has_surrogate_escape) return;
  std::vector<std::string> peers = {claims.subject, "anyone-at-all", ""};
  for (const std::string& pattern : *patterns) {
    FUZZ_CHECK(!pattern.empty());
    peers.push_back(pattern);
    peers.push_back(pattern + "x");
    peers.push_back(pattern.substr(0, pattern.size() - 1));
    if (pattern.back() == '*') peers.push_back(pattern.substr(0, pattern.size() - 1) + "1");
  }
  for (const std::string& peer : peers) {
    FUZZ_CHECK(claims.may_send.Allows(peer) == ReferenceAllows(*patterns, peer));
  }
}

// A NumericDate of a plain size, rounded down, or nullopt.
std::optional<int64_t> PlainDate(const ReferenceMember* member) {
  if (member == nullptr || member->type != ReferenceType::kNumber) return std::nullopt;
  const double number = NumberOf(*member);
  if (!(std::fabs(number) <= 1e15)) return std::nullopt;
  return static_cast<int64_t>(std::floor(number));
}

// Whether the header's rules say `json` is to be accepted under `policy`, in the plain cases: no
// duplicate name and no escaped surrogate (which jsoncpp refuses or reads its own way), no
// number beyond a double's range (jsoncpp refuses it), little nesting, dates of at most 16
// digits and at most 16 "send_to" items.
bool MustAccept(const ReferenceJson& json, const TokenPolicy& policy) {
  if (json.root_type != ReferenceType::kObject || json.has_duplicate_keys ||
      json.has_surrogate_escape || json.has_infinite_number || json.depth > 16) {
    return false;
  }
  const ReferenceMember* sub = Find(json, "sub");
  if (sub == nullptr || sub->type != ReferenceType::kString || sub->string.empty()) return false;
  const auto exp = PlainDate(Find(json, "exp"));
  if (!exp || *exp <= kNow - kLeeway) return false;
  if (const ReferenceMember* nbf = Find(json, "nbf")) {
    const auto not_before = PlainDate(nbf);
    if (!not_before || *not_before > kNow + kLeeway) return false;
  }
  if (!policy.audience.empty() && !Names(Find(json, "aud"), policy.audience)) return false;
  if (!policy.issuer.empty()) {
    const ReferenceMember* iss = Find(json, "iss");
    if (iss == nullptr || iss->type != ReferenceType::kString || iss->string != policy.issuer) {
      return false;
    }
  }
  if (const ReferenceMember* send_to = Find(json, "send_to")) {
    const auto patterns = StringItems(*send_to);
    if (!patterns || patterns->size() > 16) return false;
    for (const std::string& pattern : *patterns) {
      if (pattern.empty()) return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const TokenPolicy named{std::string(kAudience), std::string(kIssuer), kLeeway};
  const TokenPolicy open{"", "", kLeeway};
  std::string named_why(kUntouched), open_why(kUntouched);
  const std::optional<TokenClaims> named_claims = CheckTokenClaims(text, named, kNow, &named_why);
  const std::optional<TokenClaims> open_claims = CheckTokenClaims(text, open, kNow, &open_why);

  // JSON whatever the encoding: jsoncpp leaves UTF-8 alone, and so may the claims.
  const auto json = ParseReferenceJson(text, {.check_utf8 = false});
  const bool object = json && json->root_type == ReferenceType::kObject;

  // Asking less never refuses more.
  if (named_claims) {
    FUZZ_CHECK(open_claims.has_value());
    FUZZ_CHECK(open_claims->subject == named_claims->subject);
    FUZZ_CHECK(open_claims->expires_at == named_claims->expires_at);
  }
  const struct {
    const TokenPolicy& policy;
    const std::optional<TokenClaims>& claims;
    const std::string& why;
  } outcomes[] = {{named, named_claims, named_why}, {open, open_claims, open_why}};
  for (const auto& [policy, claims, why] : outcomes) {
    if (!claims) {
      CheckReason(text, json, why);
      if (object) FUZZ_CHECK(!MustAccept(*json, policy));
      continue;
    }
    FUZZ_CHECK(why == kUntouched || why.empty());
    // What is not a JSON object is refused, whatever jsoncpp's strict mode lets through (01, 1.,
    // raw control characters, comments, a NUL and more after it).
    FUZZ_CHECK(object);
    CheckAccepted(*json, policy, *claims);
  }
  return 0;
}
