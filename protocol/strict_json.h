// A second look at JSON that jsoncpp has already accepted.
//
// jsoncpp, even in strict mode, accepts numbers that RFC 8259 forbids (01, 1., +1, a lone -),
// raw control characters inside strings, comments, and (after a member with an empty name) a
// trailing comma. The relay forwards payloads and ids byte for
// byte, so such text would reach other peers as JSON their parsers reject. One linear pass, no
// allocation.
#pragma once

#include <string_view>

namespace switchboard::protocol {

// True when every number in `text` follows RFC 8259's grammar, no string holds a raw control
// character, and there is no comment and no comma before a closing bracket. `text` must already
// have parsed as JSON (every string is closed).
bool HasOnlyStrictJsonTokens(std::string_view text);

}  // namespace switchboard::protocol
