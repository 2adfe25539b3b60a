#include "server/origin_allowlist.h"

#include <algorithm>
#include <cctype>
#include <utility>

namespace switchboard::server {
namespace {

std::string Lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
}

bool IsHostChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

// "<scheme>://<host>[:<port>]", lower case; `wildcards`: the host may hold `*`.
bool IsOrigin(std::string_view origin, bool wildcards) {
  const size_t separator = origin.find("://");
  if (separator == std::string_view::npos || separator == 0) return false;
  for (char c : origin.substr(0, separator)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return false;
    }
  }
  std::string_view rest = origin.substr(separator + 3);
  const size_t colon = rest.find(':');
  std::string_view host = rest.substr(0, colon);
  if (host.empty()) return false;
  for (char c : host) {
    if (!IsHostChar(c) && !(wildcards && c == '*')) return false;
  }
  if (colon == std::string_view::npos) return true;
  const std::string_view port = rest.substr(colon + 1);
  return !port.empty() && port.size() <= 5 && std::all_of(port.begin(), port.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
}

// `*` matches one or more host characters; everything else matches itself. Row by row over the
// pattern (matched[j]: the pattern so far matches the first j characters of `text`), so that
// several stars cost O(pattern x text), never a backtracking blow-up on a hostile Origin.
bool Matches(std::string_view pattern, std::string_view text) {
  std::vector<bool> matched(text.size() + 1, false);
  matched[0] = true;
  for (char p : pattern) {
    std::vector<bool> next(text.size() + 1, false);
    for (size_t j = 1; j <= text.size(); ++j) {
      const char c = text[j - 1];
      next[j] =
          p == '*' ? (matched[j - 1] || next[j - 1]) && IsHostChar(c) : matched[j - 1] && c == p;
    }
    matched = std::move(next);
  }
  return matched[text.size()];
}

}  // namespace

std::optional<OriginAllowlist> OriginAllowlist::Parse(std::string_view list, std::string* error) {
  OriginAllowlist allowlist;
  for (size_t at = 0; at <= list.size();) {
    const size_t end = std::min(list.find(',', at), list.size());
    const std::string item = Lower(Trim(list.substr(at, end - at)));
    at = end + 1;
    if (item == "*") {
      allowlist.any_ = true;
    } else if (item == "null" || IsOrigin(item, /*wildcards=*/true)) {
      allowlist.patterns_.push_back(item);
    } else {
      *error = item.empty() ? "an empty item"
                            : "\"" + item +
                                  "\" is not an origin (scheme://host[:port], * in the "
                                  "host only)";
      return std::nullopt;
    }
  }
  return allowlist;
}

bool OriginAllowlist::Allows(std::string_view origin) const {
  if (any_) return true;
  const std::string lower = Lower(origin);
  if (lower != "null" && !IsOrigin(lower, /*wildcards=*/false)) return false;
  return std::any_of(patterns_.begin(), patterns_.end(),
                     [&](const std::string& pattern) { return Matches(pattern, lower); });
}

}  // namespace switchboard::server
