// server::OriginAllowlist (server/origin_allowlist.h): the first line of the input is the
// --allowed-origins list, each further line an Origin header.
//
// Parse and Allows are compared with a reading written from the header's contract alone:
// comma-separated items, trimmed and lowercased, each "*", "null" or scheme://host[:port] with
// `*` only in the host, where it stands for one or more host characters (a memoised match here,
// not the allowlist's row-by-row one). Every plain origin listed is let in, whatever its case.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/origin_allowlist.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using switchboard::server::OriginAllowlist;

bool IsHostChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

std::string Lower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}

std::string Upper(std::string_view text) {
  std::string upper(text);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return upper;
}

// scheme://host[:port]: scheme of [a-z0-9+.-], host of host characters (and `*` in a pattern),
// port of 1 to 5 digits.
bool LooksLikeOrigin(std::string_view text, bool pattern) {
  const size_t separator = text.find("://");
  if (separator == std::string_view::npos || separator == 0) return false;
  for (char c : text.substr(0, separator)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return false;
    }
  }
  std::string_view rest = text.substr(separator + 3);
  std::string_view port;
  if (const size_t colon = rest.find(':'); colon != std::string_view::npos) {
    port = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    if (port.empty() || port.size() > 5) return false;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    }
  }
  if (rest.empty()) return false;
  for (char c : rest) {
    if (!IsHostChar(c) && !(pattern && c == '*')) return false;
  }
  return true;
}

// Whether pattern[i..] matches text[j..]; `memo` caches by (i, j): 0 unknown, 1 no, 2 yes.
bool Match(std::string_view pattern, std::string_view text, size_t i, size_t j,
           std::vector<uint8_t>& memo) {
  uint8_t& cached = memo[i * (text.size() + 1) + j];
  if (cached != 0) return cached == 2;
  bool result;
  if (i == pattern.size()) {
    result = j == text.size();
  } else if (pattern[i] == '*') {
    // One host character, then either the star goes on or the rest of the pattern follows.
    result = j < text.size() && IsHostChar(text[j]) &&
             (Match(pattern, text, i, j + 1, memo) || Match(pattern, text, i + 1, j + 1, memo));
  } else {
    result = j < text.size() && text[j] == pattern[i] && Match(pattern, text, i + 1, j + 1, memo);
  }
  cached = result ? 2 : 1;
  return result;
}

bool Matches(std::string_view pattern, std::string_view text) {
  std::vector<uint8_t> memo((pattern.size() + 1) * (text.size() + 1), 0);
  return Match(pattern, text, 0, 0, memo);
}

struct ReferenceList {
  bool any = false;
  std::vector<std::string> patterns;
};

bool ReadList(std::string_view list, ReferenceList* out) {
  size_t at = 0;
  while (true) {
    const size_t comma = list.find(',', at);
    std::string_view item =
        list.substr(at, comma == std::string_view::npos ? list.npos : comma - at);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    const std::string lower = Lower(item);
    if (lower == "*") {
      out->any = true;
    } else if (lower == "null" || LooksLikeOrigin(lower, /*pattern=*/true)) {
      out->patterns.push_back(lower);
    } else {
      return false;
    }
    if (comma == std::string_view::npos) return true;
    at = comma + 1;
  }
}

bool ReferenceAllows(const ReferenceList& list, std::string_view origin) {
  if (list.any) return true;
  const std::string lower = Lower(origin);
  if (lower != "null" && !LooksLikeOrigin(lower, /*pattern=*/false)) return false;
  for (const std::string& pattern : list.patterns) {
    if (Matches(pattern, lower)) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string_view list = input.substr(0, newline);
  std::string error;
  const auto allowlist = OriginAllowlist::Parse(list, &error);
  ReferenceList reference;
  const bool reference_parsed = ReadList(list, &reference);
  FUZZ_CHECK(allowlist.has_value() == reference_parsed);
  if (!allowlist) {
    FUZZ_CHECK(!error.empty());
    return 0;
  }
  FUZZ_CHECK(allowlist->allows_any() == reference.any);

  // What is listed is let in, in any case; a pattern's stars filled with a letter too.
  for (const std::string& pattern : reference.patterns) {
    std::string filled = pattern;
    for (char& c : filled) {
      if (c == '*') c = 'x';
    }
    FUZZ_CHECK(allowlist->Allows(filled));
    FUZZ_CHECK(allowlist->Allows(Upper(filled)));
  }

  if (newline == std::string_view::npos) return 0;
  std::string_view origins = input.substr(newline + 1);
  while (true) {
    const size_t end = origins.find('\n');
    const std::string_view origin = origins.substr(0, end);
    const bool allowed = allowlist->Allows(origin);
    FUZZ_CHECK(allowed == ReferenceAllows(reference, origin));
    FUZZ_CHECK(allowlist->Allows(Upper(origin)) == allowed);
    if (end == std::string_view::npos) break;
    origins.remove_prefix(end + 1);
  }
  return 0;
}
