// Writing JSON text by hand, for the few frames the server composes itself.
#pragma once

#include <string_view>

#include "protocol/frame.h"

namespace switchboard::protocol {

// Appends `text` to `frame` as a JSON string literal, quotes included, escaping what JSON
// requires (quote, backslash, control characters). Well-formed UTF-8 is copied as it is; each
// byte that is not part of it becomes \ufffd (the replacement character), so that the result is
// always valid JSON text whatever bytes come in (a log line quoting a malformed message).
void AppendJsonString(Frame& frame, std::string_view text);

}  // namespace switchboard::protocol
