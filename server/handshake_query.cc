#include "server/handshake_query.h"

#include <cctype>

#include "protocol/peer_id.h"

namespace switchboard::server {

namespace {

constexpr size_t kMaxResumeTokenLength = 256;
constexpr std::string_view kBearer = "Bearer ";

bool Refuse(std::string_view why_label, std::string text, std::string_view* reason,
            std::string* error) {
  *reason = why_label;
  *error = std::move(text);
  return false;
}

// The token of "Bearer <token>" (the scheme's case does not matter), or nullopt.
std::optional<std::string> BearerToken(std::string_view authorization) {
  if (authorization.size() <= kBearer.size()) return std::nullopt;
  for (size_t i = 0; i < kBearer.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) !=
        std::tolower(static_cast<unsigned char>(kBearer[i]))) {
      return std::nullopt;
    }
  }
  std::string_view token = authorization.substr(kBearer.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  return std::string(token);
}

}  // namespace

bool ReadNativeQuery(const std::vector<std::string>& arguments, std::string_view authorization,
                     NativeQuery* query, std::string_view* reason, std::string* error) {
  for (std::string_view arg : arguments) {
    if (arg.starts_with("peer=") && !query->peer) {  // the first one counts
      query->peer = std::string(arg.substr(5));
      if (!protocol::IsValidPeerId(*query->peer)) {
        return Refuse("bad-peer-id", "peer id must be 1 to 64 characters of A-Z a-z 0-9 _ -\n",
                      reason, error);
      }
    } else if (arg.starts_with("token=")) {
      if (arg.size() - 6 > kMaxResumeTokenLength) {
        return Refuse("bad-token", "token must be at most 256 bytes\n", reason, error);
      }
      query->resume_token = std::string(arg.substr(6));
    } else if (arg.starts_with("access_token=")) {
      query->access_token = std::string(arg.substr(13));
    }
  }
  if (!query->access_token) query->access_token = BearerToken(authorization);
  return true;
}

}  // namespace switchboard::server
