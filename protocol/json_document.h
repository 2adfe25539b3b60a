// Reading a client frame as strict JSON, keeping the exact bytes of every value.
//
// Both dialects forward payloads byte for byte, so what they accept must be JSON that every
// receiving parser accepts too: jsoncpp in strict mode, then HasOnlyStrictJsonTokens for what
// jsoncpp still lets through, and nothing after the root value. Values are looked up in jsoncpp's
// tree, and RawSlice hands back the bytes a value occupied, so a payload is never re-serialised.
#pragma once

#include <json/json.h>

#include <memory>
#include <string>
#include <string_view>

namespace switchboard::protocol {

class JsonDocument {
 public:
  JsonDocument();

  // Parses `text`. Returns false when it is not strict JSON or nests deeper than 64 levels.
  // Never throws. `text` must outlive every view taken from this document.
  bool Parse(std::string_view text);

  // The parsed value; null before the first successful Parse.
  const Json::Value& root() const { return root_; }

  // The bytes `value` (a value of root()) occupied in the text given to Parse.
  std::string_view RawSlice(const Json::Value& value) const;

  // The member `name` of `object`, or nullptr when it has none. `object` must be an object.
  static const Json::Value* Member(const Json::Value& object, std::string_view name);

  // The decoded text of a string value, or empty for any other value. Valid as long as the
  // document's tree.
  static std::string_view StringOf(const Json::Value& value);

 private:
  std::unique_ptr<Json::CharReader> reader_;
  Json::Value root_;
  std::string errors_;
  std::string_view text_;
};

}  // namespace switchboard::protocol
