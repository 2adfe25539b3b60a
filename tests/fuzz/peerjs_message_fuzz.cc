// protocol::PeerJsParser and protocol::ReadPeerJsHandshake (protocol/peerjs_protocol.h).
//
// The input is read twice: as a WebSocket frame of the PeerJS dialect, and, split at '&', as the
// handshake's query arguments. A frame accepted as a message must be relayable (dst a valid
// PeerJS id, payload JSON, the relay and EXPIRE frames JSON that parse back to the same
// message); a handshake accepted must carry the expected key, a valid id and a usable token, the
// last of each repeated name winning; every refusal's ERROR frame must be JSON.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/peer_id.h"
#include "protocol/peerjs_protocol.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/reference_json.h"

namespace {

using switchboard::fuzz::IsStrictJsonObject;
using switchboard::fuzz::ParseReferenceJson;
using switchboard::fuzz::ReferenceType;
using namespace switchboard::protocol;

constexpr std::string_view kSource = "fuzz source-1";
constexpr std::string_view kKey = "peerjs";

bool Inside(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

void CheckMessage(std::string_view text) {
  static PeerJsParser parser;  // reused, as each event loop reuses its parser
  PeerJsMessage message;
  const PeerJsParse result = parser.Parse(text, &message);
  if (result != PeerJsParse::kMessage) {
    if (result == PeerJsParse::kInvalidJson) {
      const auto json = ParseReferenceJson(text);
      FUZZ_CHECK(!json || json->root_type != ReferenceType::kObject || json->has_duplicate_keys ||
                 json->depth > 64 || json->has_surrogate_key || json->has_infinite_number);
    }
    return;
  }
  if (message.type == PeerJsType::kHeartbeat) {
    FUZZ_CHECK(message.dst.empty() && message.payload.empty());
    return;
  }
  FUZZ_CHECK(IsValidPeerJsId(message.dst));
  if (!message.payload.empty()) {
    FUZZ_CHECK(Inside(message.payload, text));
    const auto payload = ParseReferenceJson(message.payload);
    FUZZ_CHECK(payload.has_value() && !payload->has_duplicate_keys);
  }

  // Routing keys: a native peer id can never equal one, and the id comes back from it.
  const std::string key = PeerJsRoutingKey(message.dst);
  FUZZ_CHECK(key.find(' ') == std::string::npos);
  FUZZ_CHECK(!IsValidPeerId(key));
  FUZZ_CHECK(PeerJsIdFromRoutingKey(key) == std::string(message.dst));
  FUZZ_CHECK(ParseReferenceJson(PeerJsIdList({std::string(message.dst), std::string(kSource)}))
                 .has_value());

  const Frame relay = BuildPeerJsRelayFrame(message.type, kSource, message.dst, message.payload);
  const auto relayed = ParseReferenceJson(relay.body());
  FUZZ_CHECK(relayed.has_value() && relayed->root_type == ReferenceType::kObject &&
             !relayed->has_duplicate_keys);
  FUZZ_CHECK(relayed->members.size() == (message.payload.empty() ? 3u : 4u));
  FUZZ_CHECK(relayed->members[0].name == "type" &&
             relayed->members[0].string == PeerJsTypeName(message.type));
  FUZZ_CHECK(relayed->members[1].name == "src" && relayed->members[1].string == kSource);
  FUZZ_CHECK(relayed->members[2].name == "dst" && relayed->members[2].string == message.dst);
  if (!message.payload.empty()) {
    FUZZ_CHECK(relayed->members[3].name == "payload" && relayed->members[3].raw == message.payload);
  }
  static PeerJsParser reader;
  PeerJsMessage again;
  FUZZ_CHECK(reader.Parse(relay.body(), &again) == PeerJsParse::kMessage);
  FUZZ_CHECK(again.type == message.type && again.dst == message.dst &&
             again.payload == message.payload);

  const Frame expire = BuildPeerJsExpireFrame(message.dst, kSource);
  FUZZ_CHECK(reader.Parse(expire.body(), &again) == PeerJsParse::kMessage);
  FUZZ_CHECK(again.type == PeerJsType::kExpire && again.dst == kSource && again.payload.empty());
}

void CheckHandshake(std::string_view text) {
  std::vector<std::string_view> arguments;
  for (size_t at = 0; at <= text.size();) {
    const size_t end = std::min(text.find('&', at), text.size());
    arguments.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  // The last of a repeated name wins.
  std::string key, id, token;
  for (std::string_view argument : arguments) {
    const size_t equals = argument.find('=');
    if (equals == std::string_view::npos) continue;
    const std::string_view name = argument.substr(0, equals);
    if (name == "key") key = argument.substr(equals + 1);
    if (name == "id") id = argument.substr(equals + 1);
    if (name == "token") token = argument.substr(equals + 1);
  }
  PeerJsHandshake handshake;
  const auto refusal = ReadPeerJsHandshake(arguments, kKey, &handshake);
  FUZZ_CHECK(handshake.key == key && handshake.id == id && handshake.token == token);
  if (refusal) {
    FUZZ_CHECK(!refusal->empty());
    FUZZ_CHECK(IsStrictJsonObject(BuildPeerJsErrorFrame(*refusal).body()));
    return;
  }
  FUZZ_CHECK(handshake.key == kKey);
  FUZZ_CHECK(IsValidPeerJsId(handshake.id));
  FUZZ_CHECK(!handshake.token.empty() && handshake.token.size() <= 256);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckMessage(text);
  CheckHandshake(text);
  // Keys from Redis: only a key PeerJsRoutingKey could have made gives an id back.
  if (const auto id = PeerJsIdFromRoutingKey(text)) {
    FUZZ_CHECK(IsValidPeerJsId(*id));
    FUZZ_CHECK(PeerJsRoutingKey(*id) == text);
  }
  return 0;
}
