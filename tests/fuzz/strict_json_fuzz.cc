// protocol::HasOnlyStrictJsonTokens (protocol/strict_json.h), on what it is given in the relay:
// text jsoncpp (strict mode, as protocol/json_document.cc configures it) read to its end. It must
// never refuse RFC 8259 JSON, and together with jsoncpp it must accept nothing else, since that
// pair decides the frames simdjson hands over (huge integers, escaped lone surrogates).
#include <json/json.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <string_view>

#include "protocol/strict_json.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/reference_json.h"

namespace {

using switchboard::fuzz::ParseReferenceJson;
using switchboard::protocol::HasOnlyStrictJsonTokens;

// The jsoncpp reader of protocol/json_document.cc.
std::unique_ptr<Json::CharReader> MakeReader() {
  Json::CharReaderBuilder builder;
  Json::CharReaderBuilder::strictMode(&builder.settings_);
  builder.settings_["strictRoot"] = false;
  builder.settings_["stackLimit"] = 64;
  return std::unique_ptr<Json::CharReader>(builder.newCharReader());
}

// Whether jsoncpp reads all of `text` (it stops at a NUL byte; only whitespace may follow).
bool JsoncppReadsAll(Json::CharReader& reader, std::string_view text) {
  Json::Value root;
  std::string errors;
  try {
    if (!reader.parse(text.data(), text.data() + text.size(), &root, &errors)) return false;
  } catch (const std::exception&) {
    return false;
  }
  for (size_t at = static_cast<size_t>(root.getOffsetLimit()); at < text.size(); ++at) {
    const char c = text[at];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static const std::unique_ptr<Json::CharReader> reader = MakeReader();
  // Any bytes at all must be safe to scan, even outside the precondition.
  const bool strict = HasOnlyStrictJsonTokens(text);
  if (!JsoncppReadsAll(*reader, text)) return 0;

  // UTF-8 is simdjson's to check, before jsoncpp is asked; the grammar is what matters here.
  const auto reference = ParseReferenceJson(text, {.check_utf8 = false});
  if (reference) FUZZ_CHECK(strict);              // never refuses JSON
  if (strict) FUZZ_CHECK(reference.has_value());  // jsoncpp + the check: JSON only
  return 0;
}
