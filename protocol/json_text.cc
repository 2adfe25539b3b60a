#include "protocol/json_text.h"

namespace switchboard::protocol {
namespace {

bool IsContinuation(unsigned char byte) { return (byte & 0xc0) == 0x80; }

// The length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms, no surrogates,
// nothing above U+10FFFF) that starts `text` at `at`, or 0 if there is none.
size_t Utf8SequenceLength(std::string_view text, size_t at) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[at + i]); };
  const unsigned char lead = byte(0);
  size_t length = 0;
  unsigned char low = 0x80;  // the range of the second byte
  unsigned char high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;   // overlong
    if (lead == 0xed) high = 0x9f;  // surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;   // overlong
    if (lead == 0xf4) high = 0x8f;  // above U+10FFFF
  } else {
    return 0;
  }
  if (text.size() - at < length || byte(1) < low || byte(1) > high) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (!IsContinuation(byte(i))) return 0;
  }
  return length;
}

}  // namespace

void AppendJsonString(Frame& frame, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  frame.Append('"');
  for (size_t at = 0; at < text.size();) {
    const char c = text[at];
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x80) {
      const size_t length = Utf8SequenceLength(text, at);
      if (length == 0) {
        frame.Append(R"(\ufffd)");  // not UTF-8: the replacement character, one per byte
        ++at;
      } else {
        frame.Append(text.substr(at, length));
        at += length;
      }
      continue;
    }
    if (c == '"' || c == '\\') {
      frame.Append('\\');
      frame.Append(c);
    } else if (byte < 0x20) {
      const char escaped[] = {'\\', 'u', '0', '0', kHex[byte >> 4], kHex[byte & 0xf]};
      frame.Append(std::string_view(escaped, sizeof(escaped)));
    } else {
      frame.Append(c);
    }
    ++at;
  }
  frame.Append('"');
}

}  // namespace switchboard::protocol
