#include "protocol/strict_json.h"

namespace switchboard::protocol {

namespace {

// RFC 8259: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsStrictNumber(std::string_view n) {
  size_t i = 0;
  const auto digits = [&] {
    const size_t start = i;
    while (i < n.size() && n[i] >= '0' && n[i] <= '9') ++i;
    return i > start;
  };
  if (i < n.size() && n[i] == '-') ++i;
  if (i < n.size() && n[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < n.size() && n[i] == '.' && (++i, !digits())) return false;
  if (i < n.size() && (n[i] == 'e' || n[i] == 'E')) {
    ++i;
    if (i < n.size() && (n[i] == '+' || n[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == n.size();
}
}  // namespace

bool HasOnlyStrictJsonTokens(std::string_view text) {
  constexpr std::string_view kNumberChars = "+-.0123456789eE";
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == '"') {
      for (++i; i < text.size() && text[i] != '"'; ++i) {
        if (static_cast<unsigned char>(text[i]) < 0x20) return false;
        if (text[i] == '\\') ++i;
      }
      ++i;
    } else if (c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9')) {
      size_t end = i;
      while (end < text.size() && kNumberChars.find(text[end]) != std::string_view::npos) ++end;
      if (!IsStrictNumber(text.substr(i, end - i))) return false;
      i = end;
    } else if (c == '/') {  // a comment: jsoncpp skips them even in strict mode
      return false;
    } else if (c == ',') {
      // A comma before a closing bracket: jsoncpp's strict mode lets one through after a member
      // whose name is empty ({"":1,}), taking the empty name for an empty object's.
      size_t next = i + 1;
      while (next < text.size() && (text[next] == ' ' || text[next] == '\t' || text[next] == '\n' ||
                                    text[next] == '\r')) {
        ++next;
      }
      if (next < text.size() && (text[next] == '}' || text[next] == ']')) return false;
      i = next;
    } else {
      ++i;
    }
  }
  return true;
}

}  // namespace switchboard::protocol
