// An independent, deliberately simple reading of RFC 8259, for the fuzz targets to check the
// relay's JSON code against.
//
// The relay's own parser (protocol/json_document.h) is built for speed: simdjson, a scan that
// jumps from quote to quote, and jsoncpp with a token check for what simdjson refuses. A second
// parser written straight from the RFC's grammar, sharing none of that code, is the oracle the
// targets compare it with: whatever the relay accepts must be JSON here, and what is JSON here
// must be accepted, so that frames relayed byte for byte are ones every peer's JSON.parse reads.
// Slow (recursive descent, allocating), and fine for inputs of a few kilobytes.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::fuzz {

enum class ReferenceType { kNull, kBool, kNumber, kString, kArray, kObject };

// One member of the root object, in text order.
struct ReferenceMember {
  std::string name;  // decoded
  ReferenceType type = ReferenceType::kNull;
  std::string_view raw;  // the value's bytes in the text
  std::string string;    // the decoded value when type is kString
};

struct ReferenceJson {
  ReferenceType root_type = ReferenceType::kNull;
  std::vector<ReferenceMember> members;  // when the root is an object
  size_t depth = 0;                      // deepest nesting of arrays and objects; 0 for a scalar
  bool has_duplicate_keys = false;       // two equal decoded names in one object, at any depth
  bool has_surrogate_escape = false;     // a \u escape of U+D800..U+DFFF, paired or not
  bool has_surrogate_key = false;        // such an escape in a member's name
  bool has_infinite_number = false;      // a number beyond a double's range (1e400)
};

struct ReferenceOptions {
  bool check_utf8 = true;  // raw bytes must be well-formed UTF-8 (RFC 8259 section 8.1)
};

// Reads `text` as one JSON value with optional whitespace around it (space, tab, LF, CR only).
// Escaped lone surrogates are allowed, as JSON.parse allows them; they decode to WTF-8 bytes.
// Duplicate keys are allowed and reported. Returns nullopt when the text is not JSON, or nests
// deeper than kMaxReferenceDepth (too deep to say).
constexpr size_t kMaxReferenceDepth = 512;
std::optional<ReferenceJson> ParseReferenceJson(std::string_view text,
                                                ReferenceOptions options = {});

// True when `text` is JSON (as above) whose root is an object, with no duplicate key at any
// depth: what every frame the relay composes must be.
bool IsStrictJsonObject(std::string_view text);

// True when `text` is well-formed UTF-8 (no overlong forms, no surrogates, nothing past
// U+10FFFF).
bool IsValidUtf8(std::string_view text);

}  // namespace switchboard::fuzz
