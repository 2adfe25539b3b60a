// Reading a client frame as strict JSON, keeping the exact bytes of the top-level members.
//
// Both dialects forward payloads byte for byte, so what they accept must be JSON that every
// receiving parser accepts too: RFC 8259 strictly (no comments, no lax numbers, no raw control
// characters, valid UTF-8), no duplicate keys at any depth, at most 64 levels of nesting.
//
// This is the relay's hot path, and most of a frame is the payload the relay never reads. So the
// frame is validated by simdjson, whose DOM parser checks all of the above at gigabytes per
// second, and then only the top-level members are looked at: their decoded strings come from that
// DOM, and the bytes each member's value occupied (a payload to splice into the outgoing frame)
// from a scan of the validated text that jumps from quote to quote. The parser keeps its buffers
// between frames.
//
// simdjson refuses two things JSON allows and browsers' JSON.parse accepts: integers beyond 64
// bits (JavaScript writes 1e20 as 100000000000000000000) and escaped lone surrogates ("\udc00").
// A frame simdjson refuses over a number or a string is therefore checked again by jsoncpp in
// strict mode with HasOnlyStrictJsonTokens (strict_json.h), the parser used before simdjson: slow,
// but such frames are rare. (docs/benchmarks.md has what simdjson bought.)
#pragma once

#include <json/json.h>
#include <simdjson.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::protocol {

enum class JsonType { kNull, kBool, kNumber, kString, kArray, kObject };

// One member of the root object.
struct JsonMember {
  std::string_view name;  // decoded
  JsonType type = JsonType::kNull;
  std::string_view raw;     // the bytes of the value in the text given to Parse
  std::string_view string;  // the decoded text when type is kString, else empty
};

class JsonDocument {
 public:
  JsonDocument();

  // Parses `text`. Returns false when it is not strict JSON (see above). Never throws.
  // Views taken from the document stay valid until the next Parse, and those into the text (raw)
  // as long as `text` too.
  bool Parse(std::string_view text);

  // The type of the root value of the last successful Parse (kNull before any).
  JsonType root_type() const { return root_type_; }

  // The member `name` of the root object, or nullptr when there is none or the root is not an
  // object.
  const JsonMember* Member(std::string_view name) const;

 private:
  void ReadMembers(simdjson::dom::object root, std::string_view text);
  bool ParseWithJsoncpp(std::string_view text);
  void ReadMembers(const Json::Value& root, std::string_view text);
  void FindRawValues(std::string_view text);

  simdjson::dom::parser dom_parser_;
  std::string padded_;  // the text, followed by the padding simdjson reads past the end
  JsonType root_type_ = JsonType::kNull;
  std::vector<JsonMember> members_;
  std::vector<std::string_view> keys_;  // scratch for the duplicate-key check
  std::unique_ptr<Json::CharReader> jsoncpp_reader_;
  Json::Value jsoncpp_root_;  // holds the decoded strings of a frame jsoncpp parsed
};

// Replaces `elements` with the bytes of each element of `raw_array`, in order: the raw bytes of a
// kArray value of a document JsonDocument::Parse accepted (only such text is valid input: the
// scan checks nothing). Views into `raw_array`.
void SplitJsonArray(std::string_view raw_array, std::vector<std::string_view>* elements);

}  // namespace switchboard::protocol
