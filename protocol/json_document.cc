#include "protocol/json_document.h"

#include "protocol/strict_json.h"

namespace switchboard::protocol {

namespace {

// Payloads are SDP and ICE candidates: shallow. A low limit keeps a hostile, deeply nested frame
// from costing more than a little stack.
constexpr int kMaxJsonDepth = 64;

// jsoncpp stops at a NUL byte as if the text ended there; whatever follows the root value must
// still be checked.
bool OnlyWhitespaceAfter(std::string_view text, const Json::Value& root) {
  for (size_t i = static_cast<size_t>(root.getOffsetLimit()); i < text.size(); ++i) {
    if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r') return false;
  }
  return true;
}

}  // namespace

JsonDocument::JsonDocument() {
  Json::CharReaderBuilder builder;
  Json::CharReaderBuilder::strictMode(&builder.settings_);
  builder.settings_["strictRoot"] = false;  // callers give a scalar root their own error
  builder.settings_["stackLimit"] = kMaxJsonDepth;
  reader_.reset(builder.newCharReader());
}

bool JsonDocument::Parse(std::string_view text) {
  errors_.clear();
  root_ = Json::Value();
  text_ = text;
  bool parsed = false;
  try {
    parsed = reader_->parse(text.data(), text.data() + text.size(), &root_, &errors_);
  } catch (const std::exception&) {  // jsoncpp throws when stackLimit is exceeded
    parsed = false;
  }
  return parsed && OnlyWhitespaceAfter(text, root_) && HasOnlyStrictJsonTokens(text);
}

std::string_view JsonDocument::RawSlice(const Json::Value& value) const {
  return text_.substr(static_cast<size_t>(value.getOffsetStart()),
                      static_cast<size_t>(value.getOffsetLimit() - value.getOffsetStart()));
}

const Json::Value* JsonDocument::Member(const Json::Value& object, std::string_view name) {
  return object.find(name.data(), name.data() + name.size());
}

std::string_view JsonDocument::StringOf(const Json::Value& value) {
  const char* begin = nullptr;
  const char* end = nullptr;
  if (!value.isString() || !value.getString(&begin, &end)) return {};
  return std::string_view(begin, static_cast<size_t>(end - begin));
}

}  // namespace switchboard::protocol
