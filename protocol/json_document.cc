#include "protocol/json_document.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "protocol/strict_json.h"

namespace switchboard::protocol {

namespace {

// Payloads are SDP and ICE candidates: shallow. A low limit keeps a hostile, deeply nested frame
// from costing more than a little memory.
constexpr size_t kMaxJsonDepth = 64;
constexpr size_t kInitialCapacity = 4096;  // grows to the largest frame seen

JsonType TypeOf(simdjson::dom::element_type type) {
  using simdjson::dom::element_type;
  switch (type) {
    case element_type::ARRAY:
      return JsonType::kArray;
    case element_type::OBJECT:
      return JsonType::kObject;
    case element_type::STRING:
      return JsonType::kString;
    case element_type::BOOL:
      return JsonType::kBool;
    case element_type::NULL_VALUE:
      return JsonType::kNull;
    default:
      return JsonType::kNumber;
  }
}

// True when no object at or below `element` has the same key twice. `keys` is scratch space kept
// between calls. An object's keys are compared with each other when they are few, and sorted
// and checked side by side when they are many.
constexpr size_t kFewKeys = 8;

bool HasNoDuplicateKeys(simdjson::dom::element element, std::vector<std::string_view>* keys) {
  simdjson::dom::array array;
  if (element.get(array) == simdjson::SUCCESS) {
    for (simdjson::dom::element child : array) {
      if (!HasNoDuplicateKeys(child, keys)) return false;
    }
    return true;
  }
  simdjson::dom::object object;
  if (element.get(object) != simdjson::SUCCESS) return true;
  const size_t first = keys->size();
  for (simdjson::dom::key_value_pair field : object) {
    if (!HasNoDuplicateKeys(field.value, keys)) return false;
    keys->push_back(field.key);
  }
  const auto begin = keys->begin() + static_cast<std::ptrdiff_t>(first);
  bool unique = true;
  if (keys->size() - first <= kFewKeys) {  // signaling objects: comparing beats sorting
    for (auto key = begin; unique && key != keys->end(); ++key) {
      unique = std::find(begin, key, *key) == key;
    }
  } else {
    std::sort(begin, keys->end());
    unique = std::adjacent_find(begin, keys->end()) == keys->end();
  }
  keys->resize(first);
  return unique;
}

// The scanners below only ever see text simdjson has validated, so they need not check anything:
// they find where values end. Each returns the index just past what it skipped.

bool IsWhitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

size_t SkipWhitespace(std::string_view text, size_t at) {
  while (at < text.size() && IsWhitespace(text[at])) ++at;
  return at;
}

// `at` is on the opening quote. A quote closes the string unless an odd number of backslashes
// precede it; memchr finds the candidates fast in long strings such as an SDP.
size_t SkipString(std::string_view text, size_t at) {
  const char* begin = text.data();
  const char* end = begin + text.size();
  const char* cursor = begin + at + 1;
  while (true) {
    const auto* quote =
        static_cast<const char*>(std::memchr(cursor, '"', static_cast<size_t>(end - cursor)));
    size_t backslashes = 0;
    while (quote - backslashes > cursor &&
           quote[-1 - static_cast<std::ptrdiff_t>(backslashes)] == '\\') {
      ++backslashes;
    }
    if (backslashes % 2 == 0) return static_cast<size_t>(quote + 1 - begin);
    cursor = quote + 1;
  }
}

// `at` is on the value's first character.
size_t SkipValue(std::string_view text, size_t at) {
  const char first = text[at];
  if (first == '"') return SkipString(text, at);
  if (first != '{' && first != '[') {  // a number, true, false or null
    while (at < text.size() && !IsWhitespace(text[at]) && text[at] != ',' && text[at] != '}' &&
           text[at] != ']') {
      ++at;
    }
    return at;
  }
  int depth = 0;
  while (true) {
    const char c = text[at];
    if (c == '"') {
      at = SkipString(text, at);
      continue;
    }
    if (c == '{' || c == '[') ++depth;
    if ((c == '}' || c == ']') && --depth == 0) return at + 1;
    ++at;
  }
}

// jsoncpp refuses an escaped high surrogate that no "\u" escape follows ("\ud800" alone), which
// JSON.parse reads as a lone surrogate like any other. Returns `text`, or a copy in `scratch`
// where each such escape names a low surrogate instead ("\udc00"), which jsoncpp takes: the
// same length, so the offsets jsoncpp records still point at the value's bytes in `text`. Only
// decoded strings differ, and a string holding a lone surrogate is no id or type anyway (two
// names told apart only by such an escape, {"\ud800":1,"\udc00":2}, count as duplicates).
std::string_view LowerLoneHighSurrogates(std::string_view text, std::string* scratch) {
  const auto is_hex = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  };
  std::string_view result = text;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] != '\\') continue;
    constexpr std::string_view kHigh = "89abAB";  // the third digit of \uD800 to \uDBFF
    constexpr std::string_view kLow = "cdefEF";   // the same of \uDC00 to \uDFFF
    const size_t third = i + 5 < text.size() ? kHigh.find(text[i + 3]) : std::string_view::npos;
    const bool high_surrogate = text[i + 1] == 'u' && third != std::string_view::npos &&
                                (text[i + 2] == 'd' || text[i + 2] == 'D') && is_hex(text[i + 4]) &&
                                is_hex(text[i + 5]);
    if (high_surrogate && text.substr(i + 6, 2) != "\\u") {
      if (result.data() == text.data()) {
        scratch->assign(text);
        result = *scratch;
      }
      (*scratch)[i + 3] = kLow[third];
    }
    ++i;  // past the escaped character, so that "\\ud800" is no escape of a surrogate
  }
  return result;
}

}  // namespace

JsonDocument::JsonDocument() {
  // The depth set here stays when the capacity later grows to the largest frame seen.
  if (dom_parser_.allocate(kInitialCapacity, kMaxJsonDepth) != simdjson::SUCCESS) {
    throw std::bad_alloc();
  }
  Json::CharReaderBuilder builder;
  Json::CharReaderBuilder::strictMode(&builder.settings_);
  builder.settings_["strictRoot"] = false;  // callers give a scalar root their own error
  builder.settings_["stackLimit"] = static_cast<int>(kMaxJsonDepth);
  jsoncpp_reader_.reset(builder.newCharReader());
  padded_.reserve(kInitialCapacity + simdjson::SIMDJSON_PADDING);
}

bool JsonDocument::Parse(std::string_view text) {
  root_type_ = JsonType::kNull;
  members_.clear();
  padded_.assign(text);
  padded_.append(simdjson::SIMDJSON_PADDING, ' ');
  simdjson::dom::element root;
  const simdjson::error_code error =
      dom_parser_.parse(padded_.data(), text.size(), false).get(root);
  if (error == simdjson::NUMBER_ERROR || error == simdjson::STRING_ERROR) {
    return ParseWithJsoncpp(text);
  }
  if (error != simdjson::SUCCESS) return false;
  keys_.clear();
  if (!HasNoDuplicateKeys(root, &keys_)) return false;
  root_type_ = TypeOf(root.type());
  simdjson::dom::object object;
  if (root.get(object) == simdjson::SUCCESS) ReadMembers(object, text);
  return true;
}

// Decoded names and strings come from the DOM; where each value lies, from a scan of the text,
// which simdjson has just validated and whose members come in the same order.
void JsonDocument::ReadMembers(simdjson::dom::object root, std::string_view text) {
  for (simdjson::dom::key_value_pair field : root) {
    JsonMember member;
    member.name = field.key;
    member.type = TypeOf(field.value.type());
    if (member.type == JsonType::kString && field.value.get(member.string) != simdjson::SUCCESS) {
      member.string = {};
    }
    members_.push_back(member);
  }
  FindRawValues(text);
}

void JsonDocument::FindRawValues(std::string_view text) {
  size_t at = SkipWhitespace(text, 0) + 1;  // past the root's '{'
  for (JsonMember& member : members_) {
    at = SkipWhitespace(text, SkipString(text, SkipWhitespace(text, at)));  // the name
    const size_t value = SkipWhitespace(text, at + 1);                      // past the ':'
    at = SkipValue(text, value);
    member.raw = text.substr(value, at - value);
    at = SkipWhitespace(text, at) + 1;  // past the ',' or the closing '}'
  }
}

bool JsonDocument::ParseWithJsoncpp(std::string_view text) {
  std::string errors;
  std::string scratch;
  const std::string_view readable = LowerLoneHighSurrogates(text, &scratch);
  jsoncpp_root_ = Json::Value();
  bool parsed = false;
  try {
    parsed = jsoncpp_reader_->parse(readable.data(), readable.data() + readable.size(),
                                    &jsoncpp_root_, &errors);
  } catch (const std::exception&) {  // jsoncpp throws when stackLimit is exceeded
    parsed = false;
  }
  // jsoncpp stops at a NUL byte as if the text ended there; what follows must be whitespace.
  if (!parsed ||
      SkipWhitespace(text, static_cast<size_t>(jsoncpp_root_.getOffsetLimit())) != text.size() ||
      !HasOnlyStrictJsonTokens(text)) {
    return false;
  }
  switch (jsoncpp_root_.type()) {
    case Json::objectValue:
      root_type_ = JsonType::kObject;
      ReadMembers(jsoncpp_root_, text);
      break;
    case Json::arrayValue:
      root_type_ = JsonType::kArray;
      break;
    case Json::stringValue:
      root_type_ = JsonType::kString;
      break;
    case Json::booleanValue:
      root_type_ = JsonType::kBool;
      break;
    case Json::nullValue:
      root_type_ = JsonType::kNull;
      break;
    default:
      root_type_ = JsonType::kNumber;
  }
  return true;
}

// jsoncpp keeps an object's members sorted by name, not in text order, so each is placed by the
// offsets jsoncpp records.
void JsonDocument::ReadMembers(const Json::Value& root, std::string_view text) {
  for (auto it = root.begin(); it != root.end(); ++it) {
    const Json::Value& value = *it;
    JsonMember member;
    const char* name_end = nullptr;
    const char* name = it.memberName(&name_end);
    member.name = std::string_view(name, static_cast<size_t>(name_end - name));
    member.raw = text.substr(static_cast<size_t>(value.getOffsetStart()),
                             static_cast<size_t>(value.getOffsetLimit() - value.getOffsetStart()));
    const char* begin = nullptr;
    const char* end = nullptr;
    if (value.isString() && value.getString(&begin, &end)) {
      member.type = JsonType::kString;
      member.string = std::string_view(begin, static_cast<size_t>(end - begin));
    } else if (value.isObject()) {
      member.type = JsonType::kObject;
    } else if (value.isArray()) {
      member.type = JsonType::kArray;
    } else if (value.isBool()) {
      member.type = JsonType::kBool;
    } else if (value.isNull()) {
      member.type = JsonType::kNull;
    } else {
      member.type = JsonType::kNumber;
    }
    members_.push_back(member);
  }
}

const JsonMember* JsonDocument::Member(std::string_view name) const {
  for (const JsonMember& member : members_) {
    if (member.name == name) return &member;
  }
  return nullptr;
}

void SplitJsonArray(std::string_view raw_array, std::vector<std::string_view>* elements) {
  elements->clear();
  size_t at = SkipWhitespace(raw_array, 1);  // past the '['
  while (at < raw_array.size() && raw_array[at] != ']') {
    const size_t end = SkipValue(raw_array, at);
    elements->push_back(raw_array.substr(at, end - at));
    at = SkipWhitespace(raw_array, end);
    if (at < raw_array.size() && raw_array[at] == ',') at = SkipWhitespace(raw_array, at + 1);
  }
}

}  // namespace switchboard::protocol
