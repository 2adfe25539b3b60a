// server::ReadNativeQuery (server/handshake_query.h): the first line of the input is the
// Authorization header, each further line one query argument ("name=value", already decoded).
//
// The result is compared with a reading written from the header's contract alone: the first
// "peer" argument is the id asked for and must be 1 to 64 characters of A-Z a-z 0-9 _ -
// (protocol/peer_id.h); every "token" must be at most 256 bytes and the last one is the resume
// token; the last "access_token" is the access token, or else the token of a "Bearer <token>"
// header (the scheme in any case, spaces around the token dropped). Arguments are read in order,
// so the first one that is refused says why.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/handshake_query.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using switchboard::server::NativeQuery;
using switchboard::server::ReadNativeQuery;

constexpr size_t kMaxPeerIdLength = 64;
constexpr size_t kMaxResumeTokenLength = 256;

bool IsPeerId(std::string_view id) {
  if (id.empty() || id.size() > kMaxPeerIdLength) return false;
  for (char c : id) {
    const bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    const bool digit = c >= '0' && c <= '9';
    if (!letter && !digit && c != '_' && c != '-') return false;
  }
  return true;
}

// The value of `argument` (possibly empty) when its name is `name`.
std::optional<std::string_view> ValueOf(std::string_view argument, std::string_view name) {
  if (argument.size() <= name.size() || argument[name.size()] != '=' ||
      argument.substr(0, name.size()) != name) {
    return std::nullopt;
  }
  return argument.substr(name.size() + 1);
}

// "Bearer" (any case), one or more spaces, then a token; spaces after it are not part of it.
std::optional<std::string> Bearer(std::string_view header) {
  const size_t space = header.find(' ');
  if (space != 6) return std::nullopt;
  for (size_t i = 0; i < space; ++i) {
    const char c = header[i];
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (lower != "bearer"[i]) return std::nullopt;
  }
  std::string_view token = header.substr(space);
  const size_t first = token.find_first_not_of(' ');
  if (first == std::string_view::npos) return std::nullopt;
  token.remove_prefix(first);
  token.remove_suffix(token.size() - (token.find_last_not_of(' ') + 1));
  return std::string(token);
}

struct Expected {
  std::string_view refusal;  // "" when the query is read
  std::optional<std::string> peer;
  std::string resume_token;
  std::optional<std::string> access_token;
};

Expected Read(const std::vector<std::string>& arguments, std::string_view authorization) {
  Expected expected;
  for (const std::string& argument : arguments) {
    if (auto peer = ValueOf(argument, "peer")) {
      if (expected.peer) continue;  // only the first counts
      expected.peer = std::string(*peer);
      if (!IsPeerId(*peer)) {
        expected.refusal = "bad-peer-id";
        return expected;
      }
    } else if (auto token = ValueOf(argument, "token")) {
      if (token->size() > kMaxResumeTokenLength) {
        expected.refusal = "bad-token";
        return expected;
      }
      expected.resume_token = std::string(*token);
    } else if (auto access = ValueOf(argument, "access_token")) {
      expected.access_token = std::string(*access);
    }
  }
  if (!expected.access_token) expected.access_token = Bearer(authorization);
  return expected;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string_view authorization = input.substr(0, newline);
  std::vector<std::string> arguments;
  if (newline != std::string_view::npos) {
    std::string_view rest = input.substr(newline + 1);
    while (true) {
      const size_t end = rest.find('\n');
      arguments.emplace_back(rest.substr(0, end));
      if (end == std::string_view::npos) break;
      rest.remove_prefix(end + 1);
    }
  }

  NativeQuery query;
  std::string_view reason;
  std::string error;
  const bool read = ReadNativeQuery(arguments, authorization, &query, &reason, &error);
  const Expected expected = Read(arguments, authorization);
  if (!read) {
    FUZZ_CHECK(reason == "bad-peer-id" || reason == "bad-token");
    FUZZ_CHECK(reason == expected.refusal);
    FUZZ_CHECK(!error.empty());
    return 0;
  }
  FUZZ_CHECK(expected.refusal.empty());
  FUZZ_CHECK(query.peer == expected.peer);
  if (query.peer) FUZZ_CHECK(IsPeerId(*query.peer));
  FUZZ_CHECK(query.resume_token == expected.resume_token);
  FUZZ_CHECK(query.resume_token.size() <= kMaxResumeTokenLength);
  FUZZ_CHECK(query.access_token == expected.access_token);
  return 0;
}
