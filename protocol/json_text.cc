#include "protocol/json_text.h"

namespace switchboard::protocol {

void AppendJsonString(Frame& frame, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  frame.Append('"');
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      frame.Append('\\');
      frame.Append(c);
    } else if (byte < 0x20) {
      const char escaped[] = {'\\', 'u', '0', '0', kHex[byte >> 4], kHex[byte & 0xf]};
      frame.Append(std::string_view(escaped, sizeof(escaped)));
    } else {
      frame.Append(c);
    }
  }
  frame.Append('"');
}

}  // namespace switchboard::protocol
