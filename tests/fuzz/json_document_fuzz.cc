// protocol::JsonDocument (protocol/json_document.h) against the reference reading of RFC 8259
// (reference_json.h): what it accepts is strict JSON with no duplicate key and at most 64 levels,
// what it refuses is not (with two exceptions, below), and each top-level member's raw bytes, type
// and decoded string are the ones the reference finds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/json_document.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/reference_json.h"

namespace {

using switchboard::fuzz::ParseReferenceJson;
using switchboard::fuzz::ReferenceType;
using switchboard::protocol::JsonDocument;
using switchboard::protocol::JsonType;

constexpr size_t kMaxDepth = 64;  // json_document.h

bool SameType(JsonType type, ReferenceType reference) {
  return static_cast<int>(type) == static_cast<int>(reference);
}

bool Inside(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // Reused across inputs, as the server reuses its parsers: state left by one frame must not
  // change how the next is read. A fresh document must read it the same way.
  static JsonDocument document;
  const bool parsed = document.Parse(text);
  JsonDocument fresh;
  FUZZ_CHECK(fresh.Parse(text) == parsed);

  const auto reference = ParseReferenceJson(text);
  if (!parsed) {
    FUZZ_CHECK(document.root_type() == JsonType::kNull);
    FUZZ_CHECK(document.Member("type") == nullptr);
    // Refused: it must not be JSON that every peer would read, but for what jsoncpp 1.9.5 cannot
    // read the same way: names with escaped surrogates (it decodes them its own way, so its
    // duplicate check differs) and numbers beyond a double's range (it refuses them).
    FUZZ_CHECK(!reference || reference->has_duplicate_keys || reference->depth > kMaxDepth ||
               reference->has_surrogate_key || reference->has_infinite_number);
    return 0;
  }
  FUZZ_CHECK(reference.has_value());
  FUZZ_CHECK(!reference->has_duplicate_keys);
  FUZZ_CHECK(reference->depth <= kMaxDepth);
  FUZZ_CHECK(SameType(document.root_type(), reference->root_type));
  FUZZ_CHECK(SameType(fresh.root_type(), reference->root_type));
  if (reference->has_surrogate_key) return 0;  // names jsoncpp decodes its own way
  for (const auto& member : reference->members) {
    const auto* found = document.Member(member.name);
    FUZZ_CHECK(found != nullptr);
    FUZZ_CHECK(SameType(found->type, member.type));
    FUZZ_CHECK(Inside(found->raw, text));
    FUZZ_CHECK(found->raw == member.raw);
    FUZZ_CHECK(found->string == member.string || reference->has_surrogate_escape);
    const auto* again = fresh.Member(member.name);
    FUZZ_CHECK(again != nullptr && again->raw == found->raw && again->type == found->type);
  }
  return 0;
}
