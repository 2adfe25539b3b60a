#include "server/token_claims.h"

#include <json/json.h>

#include <cmath>
#include <memory>

#include "protocol/strict_json.h"

namespace switchboard::server {

namespace {

// Claims larger than this are not a connection token's.
constexpr size_t kMaxPayloadBytes = 8192;
constexpr size_t kMaxSendPatterns = 256;

std::optional<TokenClaims> Refuse(std::string* why, std::string reason) {
  *why = std::move(reason);
  return std::nullopt;
}

bool ParseObject(std::string_view text, Json::Value* root) {
  // jsoncpp stops reading at a NUL: "{...}" NUL "anything" would pass as "{...}".
  if (text.find('\0') != std::string_view::npos) return false;
  Json::CharReaderBuilder builder;
  Json::CharReaderBuilder::strictMode(&builder.settings_);
  builder.settings_["stackLimit"] = 32;
  const std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  std::string errors;
  try {
    // jsoncpp lets comments and some commas through; the claims must be JSON (RFC 7519).
    return reader->parse(text.data(), text.data() + text.size(), root, &errors) &&
           root->isObject() && protocol::HasOnlyStrictJsonTokens(text);
  } catch (const std::exception&) {  // jsoncpp throws past its stack limit
    return false;
  }
}

// A NumericDate (RFC 7519: seconds, possibly fractional) as whole seconds, or nullopt when it is
// not a number or lies outside what int64 seconds can hold.
std::optional<int64_t> NumericDate(const Json::Value& value) {
  if (!value.isNumeric()) return std::nullopt;
  if (value.isInt64()) return value.asInt64();
  const double seconds = value.asDouble();
  if (!std::isfinite(seconds) || std::fabs(seconds) > 1e15) return std::nullopt;
  return static_cast<int64_t>(std::floor(seconds));
}

bool AudienceNames(const Json::Value& aud, std::string_view audience) {
  if (aud.isString()) return aud.asString() == audience;
  if (!aud.isArray()) return false;
  for (const Json::Value& item : aud) {
    if (item.isString() && item.asString() == audience) return true;
  }
  return false;
}

// "send_to" as a permission, or nullopt when it is not an array of non-empty strings.
std::optional<SendPermission> ReadSendTo(const Json::Value& send_to) {
  if (!send_to.isArray() || send_to.size() > kMaxSendPatterns) return std::nullopt;
  std::vector<std::string> patterns;
  for (const Json::Value& item : send_to) {
    if (!item.isString() || item.asString().empty()) return std::nullopt;
    patterns.push_back(item.asString());
  }
  return SendPermission(std::move(patterns));
}

}  // namespace

bool SendPermission::Allows(std::string_view peer) const {
  if (!restricted_) return true;
  for (std::string_view pattern : patterns_) {
    if (pattern.ends_with('*') ? peer.starts_with(pattern.substr(0, pattern.size() - 1))
                               : peer == pattern) {
      return true;
    }
  }
  return false;
}

std::optional<TokenClaims> CheckTokenClaims(std::string_view payload_json,
                                            const TokenPolicy& policy, int64_t now_seconds,
                                            std::string* why) {
  Json::Value root;
  if (payload_json.size() > kMaxPayloadBytes || !ParseObject(payload_json, &root)) {
    return Refuse(why, "the claims are not a JSON object");
  }
  TokenClaims claims;
  const Json::Value& sub = root["sub"];
  if (!sub.isString() || sub.asString().empty()) return Refuse(why, "no \"sub\" claim");
  claims.subject = sub.asString();

  const std::optional<int64_t> exp = NumericDate(root["exp"]);
  if (!exp) return Refuse(why, "no \"exp\" claim (a number of seconds)");
  if (*exp <= now_seconds - policy.leeway_seconds) return Refuse(why, "the token has expired");
  claims.expires_at = *exp;

  if (root.isMember("nbf")) {
    const std::optional<int64_t> nbf = NumericDate(root["nbf"]);
    if (!nbf) return Refuse(why, "\"nbf\" is not a number of seconds");
    if (*nbf > now_seconds + policy.leeway_seconds) {
      return Refuse(why, "the token is not valid yet (nbf)");
    }
  }
  if (!policy.audience.empty() && !AudienceNames(root["aud"], policy.audience)) {
    return Refuse(why, "the token is not for this audience (aud)");
  }
  if (!policy.issuer.empty() &&
      !(root["iss"].isString() && root["iss"].asString() == policy.issuer)) {
    return Refuse(why, "the token is not from the expected issuer (iss)");
  }
  if (root.isMember("send_to")) {
    std::optional<SendPermission> may_send = ReadSendTo(root["send_to"]);
    if (!may_send) return Refuse(why, "\"send_to\" is not an array of peer ids");
    claims.may_send = std::move(*may_send);
  }
  return claims;
}

}  // namespace switchboard::server
