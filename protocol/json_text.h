// Writing JSON text by hand, for the few frames the server composes itself.
#pragma once

#include <string_view>

#include "protocol/frame.h"

namespace switchboard::protocol {

// Appends `text` to `frame` as a JSON string literal, quotes included, escaping what JSON
// requires (quote, backslash, control characters). Bytes >= 0x80 are copied as they are: the
// input is expected to be UTF-8.
void AppendJsonString(Frame& frame, std::string_view text);

}  // namespace switchboard::protocol
