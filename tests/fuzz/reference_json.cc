#include "tests/fuzz/reference_json.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace switchboard::fuzz {

namespace {

bool IsWhitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Appends `code` (up to U+10FFFF, surrogates included: WTF-8) as UTF-8 bytes.
void AppendUtf8(std::string* out, uint32_t code) {
  if (code < 0x80) {
    out->push_back(static_cast<char>(code));
  } else if (code < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (code >> 6)));
    out->push_back(static_cast<char>(0x80 | (code & 0x3f)));
  } else if (code < 0x10000) {
    out->push_back(static_cast<char>(0xe0 | (code >> 12)));
    out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (code & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xf0 | (code >> 18)));
    out->push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (code & 0x3f)));
  }
}

class Reader {
 public:
  Reader(std::string_view text, ReferenceJson* result) : text_(text), result_(result) {}

  bool ReadDocument() {
    SkipWhitespace();
    ReferenceType type;
    if (!ReadValue(0, &type, nullptr, /*root=*/true)) return false;
    result_->root_type = type;
    SkipWhitespace();
    return at_ == text_.size();
  }

 private:
  void SkipWhitespace() {
    while (at_ < text_.size() && IsWhitespace(text_[at_])) ++at_;
  }

  bool Consume(char c) {
    if (at_ < text_.size() && text_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }

  bool ConsumeWord(std::string_view word) {
    if (text_.substr(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
  }

  // `depth`: how many arrays and objects enclose this value. `decoded`: where a string value's
  // decoded text goes, if wanted.
  bool ReadValue(size_t depth, ReferenceType* type, std::string* decoded, bool root) {
    if (at_ >= text_.size()) return false;
    const char c = text_[at_];
    if (c == '{') {
      *type = ReferenceType::kObject;
      return ReadObject(depth + 1, root);
    }
    if (c == '[') {
      *type = ReferenceType::kArray;
      return ReadArray(depth + 1);
    }
    if (c == '"') {
      *type = ReferenceType::kString;
      std::string scratch;
      return ReadString(decoded != nullptr ? decoded : &scratch);
    }
    if (c == 't' || c == 'f') {
      *type = ReferenceType::kBool;
      return ConsumeWord(c == 't' ? "true" : "false");
    }
    if (c == 'n') {
      *type = ReferenceType::kNull;
      return ConsumeWord("null");
    }
    *type = ReferenceType::kNumber;
    return ReadNumber();
  }

  bool Digits() {
    const size_t start = at_;
    while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9') ++at_;
    return at_ > start;
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  bool ReadNumber() {
    const size_t start = at_;
    if (!ReadNumberToken()) return false;
    const std::string token(text_.substr(start, at_ - start));
    if (std::isinf(std::strtod(token.c_str(), nullptr))) result_->has_infinite_number = true;
    return true;
  }

  bool ReadNumberToken() {
    Consume('-');
    if (!Consume('0') &&
        !(at_ < text_.size() && text_[at_] >= '1' && text_[at_] <= '9' && Digits())) {
      return false;
    }
    if (Consume('.') && !Digits()) return false;
    if (Consume('e') || Consume('E')) {
      if (!Consume('+')) Consume('-');
      if (!Digits()) return false;
    }
    return true;
  }

  bool ReadHex4(uint32_t* code) {
    if (at_ + 4 > text_.size()) return false;
    *code = 0;
    for (int i = 0; i < 4; ++i) {
      const int digit = HexDigit(text_[at_++]);
      if (digit < 0) return false;
      *code = *code * 16 + static_cast<uint32_t>(digit);
    }
    return true;
  }

  bool ReadString(std::string* decoded) {
    ++at_;  // the opening quote
    while (true) {
      if (at_ >= text_.size()) return false;
      const unsigned char c = static_cast<unsigned char>(text_[at_]);
      if (c == '"') {
        ++at_;
        return true;
      }
      if (c < 0x20) return false;
      if (c != '\\') {
        decoded->push_back(static_cast<char>(c));
        ++at_;
        continue;
      }
      if (++at_ >= text_.size()) return false;
      const char escape = text_[at_++];
      switch (escape) {
        case '"':
        case '\\':
        case '/':
          decoded->push_back(escape);
          break;
        case 'b':
          decoded->push_back('\b');
          break;
        case 'f':
          decoded->push_back('\f');
          break;
        case 'n':
          decoded->push_back('\n');
          break;
        case 'r':
          decoded->push_back('\r');
          break;
        case 't':
          decoded->push_back('\t');
          break;
        case 'u': {
          uint32_t code = 0;
          if (!ReadHex4(&code)) return false;
          if (code >= 0xd800 && code <= 0xdfff) {
            result_->has_surrogate_escape = true;
            // A high surrogate followed by an escaped low one is one character.
            uint32_t low = 0;
            const size_t save = at_;
            if (code <= 0xdbff && text_.substr(at_, 2) == "\\u" && (at_ += 2, ReadHex4(&low)) &&
                low >= 0xdc00 && low <= 0xdfff) {
              code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
            } else {
              at_ = save;
            }
          }
          AppendUtf8(decoded, code);
          break;
        }
        default:
          return false;
      }
    }
  }

  bool ReadArray(size_t depth) {
    if (depth > kMaxReferenceDepth) return false;
    result_->depth = std::max(result_->depth, depth);
    ++at_;
    SkipWhitespace();
    if (Consume(']')) return true;
    while (true) {
      SkipWhitespace();
      ReferenceType type;
      if (!ReadValue(depth, &type, nullptr, false)) return false;
      SkipWhitespace();
      if (Consume(']')) return true;
      if (!Consume(',')) return false;
    }
  }

  bool ReadObject(size_t depth, bool root) {
    if (depth > kMaxReferenceDepth) return false;
    result_->depth = std::max(result_->depth, depth);
    ++at_;
    std::vector<std::string> names;
    SkipWhitespace();
    if (Consume('}')) return true;
    while (true) {
      SkipWhitespace();
      if (at_ >= text_.size() || text_[at_] != '"') return false;
      std::string name;
      const bool had_surrogate = result_->has_surrogate_escape;
      result_->has_surrogate_escape = false;
      if (!ReadString(&name)) return false;
      if (result_->has_surrogate_escape) result_->has_surrogate_key = true;
      result_->has_surrogate_escape = result_->has_surrogate_escape || had_surrogate;
      SkipWhitespace();
      if (!Consume(':')) return false;
      SkipWhitespace();
      ReferenceMember member;
      const size_t value_start = at_;
      if (!ReadValue(depth, &member.type, &member.string, false)) return false;
      if (std::find(names.begin(), names.end(), name) != names.end()) {
        result_->has_duplicate_keys = true;
      }
      names.push_back(name);
      if (root) {
        member.name = std::move(name);
        member.raw = text_.substr(value_start, at_ - value_start);
        if (member.type != ReferenceType::kString) member.string.clear();
        result_->members.push_back(std::move(member));
      }
      SkipWhitespace();
      if (Consume('}')) return true;
      if (!Consume(',')) return false;
    }
  }

  std::string_view text_;
  size_t at_ = 0;
  ReferenceJson* result_;
};

}  // namespace

bool IsValidUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    size_t length = 0;
    uint32_t code = 0;
    uint32_t min = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      length = 2, code = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      length = 3, code = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      length = 4, code = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      const unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    i += length;
  }
  return true;
}

std::optional<ReferenceJson> ParseReferenceJson(std::string_view text, ReferenceOptions options) {
  if (options.check_utf8 && !IsValidUtf8(text)) return std::nullopt;
  ReferenceJson result;
  Reader reader(text, &result);
  if (!reader.ReadDocument()) return std::nullopt;
  return result;
}

bool IsStrictJsonObject(std::string_view text) {
  const auto json = ParseReferenceJson(text);
  return json && json->root_type == ReferenceType::kObject && !json->has_duplicate_keys;
}

}  // namespace switchboard::fuzz
