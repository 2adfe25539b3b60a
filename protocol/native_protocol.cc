#include "protocol/native_protocol.h"

#include <array>
#include <utility>

#include "protocol/json_text.h"
#include "protocol/peer_id.h"

namespace switchboard::protocol {

namespace {

constexpr std::array<std::pair<std::string_view, MessageType>, 7> kTypes = {{
    {"offer", MessageType::kOffer},
    {"answer", MessageType::kAnswer},
    {"candidate", MessageType::kCandidate},
    {"bye", MessageType::kBye},
    {"message", MessageType::kMessage},
    {"ping", MessageType::kPing},
    {"refresh", MessageType::kRefresh},
}};

std::optional<MessageType> TypeFromName(std::string_view name) {
  for (const auto& [wire, type] : kTypes) {
    if (wire == name) return type;
  }
  return std::nullopt;
}

// The unknown type as it may be quoted back to the client: printable ASCII, at most 32
// characters. Anything else (a lone surrogate decodes to bytes that are not UTF-8) is left out,
// since the error goes back in a text frame that must be valid UTF-8.
std::string QuotableTypeName(std::string_view name) {
  constexpr size_t kMaxQuoted = 32;
  for (char c : name) {
    if (c < 0x20 || c > 0x7e) return {};
  }
  std::string quoted = " \"" + std::string(name.substr(0, kMaxQuoted));
  if (name.size() > kMaxQuoted) quoted += "...";
  return quoted + "\"";
}

bool IsStringOrNumber(const JsonMember& member) {
  return member.type == JsonType::kString || member.type == JsonType::kNumber;
}

bool Fail(ParseError* error, std::string message) {
  error->message = std::move(message);
  return false;
}

}  // namespace

std::string_view MessageTypeName(MessageType type) {
  for (const auto& [wire, t] : kTypes) {
    if (t == type) return wire;
  }
  return "unknown";
}

bool IsRelayed(MessageType type) {
  return type != MessageType::kPing && type != MessageType::kRefresh;
}

bool NativeParser::Parse(std::string_view text, ClientMessage* out, ParseError* error) {
  *error = ParseError{};
  if (!document_.Parse(text)) return Fail(error, "frame is not valid JSON");
  if (document_.root_type() != JsonType::kObject) {
    return Fail(error, "frame must be a JSON object");
  }

  // Read "id" first so that every later error can point at the message.
  if (const JsonMember* id = document_.Member("id")) {
    if (!IsStringOrNumber(*id)) return Fail(error, "\"id\" must be a string or a number");
    error->ref = id->raw;
  }

  const JsonMember* type_value = document_.Member("type");
  if (type_value == nullptr || type_value->type != JsonType::kString) {
    return Fail(error, "\"type\" must be a string");
  }
  std::optional<MessageType> type = TypeFromName(type_value->string);
  if (!type) {
    return Fail(error, "unknown type" + QuotableTypeName(type_value->string));
  }

  ClientMessage message;
  message.type = *type;
  message.ref = error->ref;
  if (*type == MessageType::kRefresh) {
    const JsonMember* token = document_.Member("token");
    if (token == nullptr || token->type != JsonType::kString || token->string.empty()) {
      return Fail(error, "\"token\" must be a non-empty string");
    }
    message.token = token->string;
  }
  if (IsRelayed(*type)) {
    const JsonMember* to = document_.Member("to");
    if (to == nullptr || to->type != JsonType::kString || !IsValidPeerId(to->string)) {
      return Fail(error, "\"to\" must be a peer id: 1 to 64 characters of A-Z a-z 0-9 _ -");
    }
    message.to = to->string;
    const JsonMember* payload = document_.Member("payload");
    if (payload != nullptr) {
      message.payload = payload->raw;
    } else if (*type == MessageType::kBye) {
      message.payload = "null";
    } else {
      return Fail(error, "\"payload\" is required");
    }
  }
  *out = message;
  return true;
}

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBadMessage:
      return "bad-message";
    case ErrorCode::kPeerUnavailable:
      return "peer-unavailable";
    case ErrorCode::kRateLimited:
      return "rate-limited";
    case ErrorCode::kIdTaken:
      return "id-taken";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kUnauthorized:
      return "unauthorized";
    case ErrorCode::kForbidden:
      return "forbidden";
  }
  return "unknown";
}

Frame BuildRelayFrame(MessageType type, std::string_view from, std::string_view to,
                      std::string_view payload) {
  Frame frame(48 + from.size() + to.size() + payload.size());
  frame.Append(R"({"type":")");
  frame.Append(MessageTypeName(type));
  frame.Append(R"(","from":")");
  frame.Append(from);
  frame.Append(R"(","to":")");
  frame.Append(to);
  frame.Append(R"(","payload":)");
  frame.Append(payload);
  frame.Append('}');
  return frame;
}

Frame BuildWelcomeFrame(std::string_view peer, std::string_view pod) {
  Frame frame(40 + peer.size() + pod.size());
  frame.Append(R"({"type":"welcome","peer":)");
  AppendJsonString(frame, peer);
  frame.Append(R"(,"pod":)");
  AppendJsonString(frame, pod);
  frame.Append('}');
  return frame;
}

Frame BuildPongFrame(std::string_view ref) {
  Frame frame(24 + ref.size());
  frame.Append(R"({"type":"pong")");
  if (!ref.empty()) {
    frame.Append(R"(,"ref":)");
    frame.Append(ref);
  }
  frame.Append('}');
  return frame;
}

Frame BuildReconnectFrame(std::string_view reason) {
  Frame frame(32 + reason.size());
  frame.Append(R"({"type":"reconnect","reason":")");
  frame.Append(reason);
  frame.Append(R"("})");
  return frame;
}

Frame BuildRefreshedFrame(long long expires_at, std::string_view ref) {
  const std::string exp = std::to_string(expires_at);
  Frame frame(40 + exp.size() + ref.size());
  frame.Append(R"({"type":"refreshed","exp":)");
  frame.Append(exp);
  if (!ref.empty()) {
    frame.Append(R"(,"ref":)");
    frame.Append(ref);
  }
  frame.Append('}');
  return frame;
}

Frame BuildErrorFrame(ErrorCode code, std::string_view message, std::string_view to,
                      std::string_view ref) {
  Frame frame(64 + message.size() + to.size() + ref.size());
  frame.Append(R"({"type":"error","code":")");
  frame.Append(ErrorCodeName(code));
  frame.Append(R"(","message":)");
  AppendJsonString(frame, message);
  if (!to.empty()) {
    frame.Append(R"(,"to":)");
    AppendJsonString(frame, to);
  }
  if (!ref.empty()) {
    frame.Append(R"(,"ref":)");
    frame.Append(ref);
  }
  frame.Append('}');
  return frame;
}

}  // namespace switchboard::protocol
