#include "protocol/peerjs_protocol.h"

#include <array>
#include <utility>

#include "protocol/json_text.h"

namespace switchboard::protocol {

namespace {

constexpr char kRoutingKeyMark = '~';

constexpr std::array<std::pair<std::string_view, PeerJsType>, 6> kTypes = {{
    {"OFFER", PeerJsType::kOffer},
    {"ANSWER", PeerJsType::kAnswer},
    {"CANDIDATE", PeerJsType::kCandidate},
    {"LEAVE", PeerJsType::kLeave},
    {"EXPIRE", PeerJsType::kExpire},
    {"HEARTBEAT", PeerJsType::kHeartbeat},
}};

std::optional<PeerJsType> TypeFromName(std::string_view name) {
  for (const auto& [wire, type] : kTypes) {
    if (wire == name) return type;
  }
  return std::nullopt;
}

bool IsPeerJsIdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ' ' ||
         c == '_' || c == '-';
}

void AppendIdMember(Frame& frame, std::string_view name, std::string_view id) {
  frame.Append(",\"");
  frame.Append(name);
  frame.Append("\":\"");
  frame.Append(id);
  frame.Append('"');
}

}  // namespace

bool IsValidPeerJsId(std::string_view id) {
  if (id.empty() || id.size() > kMaxPeerJsIdLength) return false;
  for (char c : id) {
    if (!IsPeerJsIdChar(c)) return false;
  }
  return true;
}

std::string PeerJsRoutingKey(std::string_view id) {
  std::string key(1, kRoutingKeyMark);
  for (char c : id) key.push_back(c == ' ' ? '+' : c);
  return key;
}

std::optional<std::string> PeerJsIdFromRoutingKey(std::string_view key) {
  if (key.size() < 2 || key[0] != kRoutingKeyMark) return std::nullopt;
  if (key.find(' ') != std::string_view::npos) return std::nullopt;  // not one of ours
  std::string id(key.substr(1));
  for (char& c : id) {
    if (c == '+') c = ' ';
  }
  // Keys come back from Redis too: only an id that is safe to put in JSON unescaped is one.
  if (!IsValidPeerJsId(id)) return std::nullopt;
  return id;
}

std::optional<std::string> ReadPeerJsHandshake(const std::vector<std::string_view>& arguments,
                                               std::string_view expected_key,
                                               PeerJsHandshake* handshake,
                                               size_t max_token_length) {
  for (std::string_view argument : arguments) {
    const size_t equals = argument.find('=');
    if (equals == std::string_view::npos) continue;
    const std::string_view name = argument.substr(0, equals);
    const std::string value(argument.substr(equals + 1));
    if (name == "key") handshake->key = value;
    if (name == "id") handshake->id = value;
    if (name == "token") handshake->token = value;
  }
  if (handshake->key.empty() || handshake->id.empty() || handshake->token.empty()) {
    return "No id, token, or key supplied to websocket server";
  }
  if (handshake->key != expected_key) return "Invalid key provided";
  if (!IsValidPeerJsId(handshake->id)) {
    return "Invalid id: use 1 to 64 characters of A-Z a-z 0-9, space, _ and -";
  }
  if (handshake->token.size() > max_token_length) return "Invalid token provided";
  return std::nullopt;
}

std::string_view PeerJsTypeName(PeerJsType type) {
  for (const auto& [wire, t] : kTypes) {
    if (t == type) return wire;
  }
  return "UNKNOWN";
}

bool IsDroppedWhenAbsent(PeerJsType type) {
  return type == PeerJsType::kLeave || type == PeerJsType::kExpire;
}

PeerJsParse PeerJsParser::Parse(std::string_view text, PeerJsMessage* out) {
  if (!document_.Parse(text) || document_.root_type() != JsonType::kObject) {
    return PeerJsParse::kInvalidJson;
  }
  const JsonMember* type_value = document_.Member("type");
  const std::optional<PeerJsType> type =
      type_value == nullptr ? std::nullopt : TypeFromName(type_value->string);
  if (!type) return PeerJsParse::kIgnoredType;

  PeerJsMessage message;
  message.type = *type;
  if (*type != PeerJsType::kHeartbeat) {
    const JsonMember* dst = document_.Member("dst");
    if (dst == nullptr || !IsValidPeerJsId(dst->string)) return PeerJsParse::kNoTarget;
    message.dst = dst->string;
    if (const JsonMember* payload = document_.Member("payload")) message.payload = payload->raw;
  }
  *out = message;
  return PeerJsParse::kMessage;
}

Frame BuildPeerJsRelayFrame(PeerJsType type, std::string_view src, std::string_view dst,
                            std::string_view payload) {
  Frame frame(48 + src.size() + dst.size() + payload.size());
  frame.Append(R"({"type":")");
  frame.Append(PeerJsTypeName(type));
  frame.Append('"');
  AppendIdMember(frame, "src", src);
  AppendIdMember(frame, "dst", dst);
  if (!payload.empty()) {
    frame.Append(R"(,"payload":)");
    frame.Append(payload);
  }
  frame.Append('}');
  return frame;
}

Frame BuildPeerJsOpenFrame() {
  Frame frame;
  frame.Append(R"({"type":"OPEN"})");
  return frame;
}

Frame BuildPeerJsErrorFrame(std::string_view message) {
  Frame frame(48 + message.size());
  frame.Append(R"({"type":"ERROR","payload":{"msg":)");
  AppendJsonString(frame, message);
  frame.Append("}}");
  return frame;
}

Frame BuildPeerJsIdTakenFrame() {
  Frame frame;
  frame.Append(R"({"type":"ID-TAKEN","payload":{"msg":"ID is taken"}})");
  return frame;
}

Frame BuildPeerJsExpireFrame(std::string_view target, std::string_view sender) {
  Frame frame(40 + target.size() + sender.size());
  frame.Append(R"({"type":"EXPIRE")");
  AppendIdMember(frame, "src", target);
  AppendIdMember(frame, "dst", sender);
  frame.Append('}');
  return frame;
}

std::string_view PeerJsServerInfo() {
  return R"({"name":"PeerJS Server","description":"A server side element to broker connections between PeerJS clients.","website":"https://peerjs.com/"})";
}

std::string PeerJsIdList(const std::vector<std::string>& ids) {
  std::string list = "[";
  for (const std::string& id : ids) {
    if (list.size() > 1) list += ',';
    list += '"' + id + '"';
  }
  return list + "]";
}

}  // namespace switchboard::protocol
