// protocol::NativeParser (protocol/native_protocol.h): a client frame of the native dialect.
//
// Whatever it accepts must be relayable: `to` a valid peer id, the payload JSON, and the relay
// frame built around it JSON that parses back to the same message. Whatever it refuses must get
// an error frame that is itself JSON (the message may quote the client's bytes). The payload
// itself is checked against the reference reading of RFC 8259 (reference_json.h).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/native_protocol.h"
#include "protocol/peer_id.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/reference_json.h"

namespace {

using switchboard::fuzz::IsStrictJsonObject;
using switchboard::fuzz::ParseReferenceJson;
using switchboard::fuzz::ReferenceType;
using namespace switchboard::protocol;

constexpr std::string_view kSender = "fuzz-sender_1";

bool Inside(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

// A "ref" is the raw JSON of the frame's "id": a string or a number, from the frame's bytes.
void CheckRef(std::string_view ref, std::string_view text) {
  if (ref.empty()) return;
  FUZZ_CHECK(Inside(ref, text));
  const auto json = ParseReferenceJson(ref);
  FUZZ_CHECK(json.has_value());
  FUZZ_CHECK(json->root_type == ReferenceType::kString ||
             json->root_type == ReferenceType::kNumber);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static NativeParser parser;  // reused, as each event loop reuses its parser
  ClientMessage message;
  ParseError error;
  if (!parser.Parse(text, &message, &error)) {
    FUZZ_CHECK(!error.message.empty());
    CheckRef(error.ref, text);
    FUZZ_CHECK(IsStrictJsonObject(
        BuildErrorFrame(ErrorCode::kBadMessage, error.message, {}, error.ref).body()));
    return 0;
  }
  FUZZ_CHECK(error.message.empty());
  CheckRef(message.ref, text);
  FUZZ_CHECK(IsStrictJsonObject(BuildPongFrame(message.ref).body()));
  if (!IsRelayed(message.type)) {
    FUZZ_CHECK(message.type == MessageType::kPing);
    FUZZ_CHECK(message.to.empty());
    return 0;
  }

  FUZZ_CHECK(IsValidPeerId(message.to));
  FUZZ_CHECK(message.payload == "null" || Inside(message.payload, text));
  const auto payload = ParseReferenceJson(message.payload);
  FUZZ_CHECK(payload.has_value() && !payload->has_duplicate_keys);
  FUZZ_CHECK(IsStrictJsonObject(
      BuildErrorFrame(ErrorCode::kPeerUnavailable, "peer is not connected", message.to, message.ref)
          .body()));

  // The frame the target receives: JSON, with the envelope it names, and read back by a parser
  // of its own as the same message (what a second relay hop, or a client, would see).
  const Frame relay = BuildRelayFrame(message.type, kSender, message.to, message.payload);
  const auto relayed = ParseReferenceJson(relay.body());
  FUZZ_CHECK(relayed.has_value() && relayed->root_type == ReferenceType::kObject &&
             !relayed->has_duplicate_keys);
  FUZZ_CHECK(relayed->members.size() == 4);
  FUZZ_CHECK(relayed->members[0].name == "type" &&
             relayed->members[0].string == MessageTypeName(message.type));
  FUZZ_CHECK(relayed->members[1].name == "from" && relayed->members[1].string == kSender);
  FUZZ_CHECK(relayed->members[2].name == "to" && relayed->members[2].string == message.to);
  FUZZ_CHECK(relayed->members[3].name == "payload" && relayed->members[3].raw == message.payload);

  static NativeParser reader;
  ClientMessage again;
  ParseError again_error;
  FUZZ_CHECK(reader.Parse(relay.body(), &again, &again_error));
  FUZZ_CHECK(again.type == message.type);
  FUZZ_CHECK(again.to == message.to);
  FUZZ_CHECK(again.payload == message.payload);
  FUZZ_CHECK(again.ref.empty());
  return 0;
}
