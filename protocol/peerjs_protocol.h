// The PeerJS dialect: what the unmodified `peerjs` browser client (1.5.x) sends and expects, as
// the `peer` server (1.0.x) speaks it. docs/protocol.md describes it; docs/peerjs-notes.md holds
// the research it rests on.
//
// PeerJS ids live in their own namespace inside routing: PeerJsRoutingKey maps an id to a key no
// native peer id can equal, and with no space in it (cross-pod messages are space-separated), so
// the two dialects share one registry without meeting. Every function here is pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/frame.h"
#include "protocol/json_document.h"

namespace switchboard::protocol {

constexpr size_t kMaxPeerJsIdLength = 64;

// True when `id` is 1 to kMaxPeerJsIdLength characters of A-Z a-z 0-9, space, _ and -: every id
// the peerjs client accepts from its user, and the UUIDs the server hands out. Such ids need no
// escaping inside a JSON string.
bool IsValidPeerJsId(std::string_view id);

// The routing key of a valid PeerJS id: "~" and the id with spaces turned into "+".
std::string PeerJsRoutingKey(std::string_view id);

// The PeerJS id of a routing key made by PeerJsRoutingKey; nullopt for any other key (a native
// peer id).
std::optional<std::string> PeerJsIdFromRoutingKey(std::string_view key);

// What a PeerJS WebSocket asks for in its query string.
struct PeerJsHandshake {
  std::string key;
  std::string id;
  std::string token;
};

// Reads key, id and token from the query's `name=value` arguments (URL-decoded already); the last
// of a repeated name wins, as in `peer`. Returns the message of the ERROR frame that refuses the
// connection, or nullopt when `expected_key` matches and the id and token are usable. The token is
// the client's random one, at most 256 bytes, unless it is a signed connection token (the server
// requires those): it may then be up to `max_token_length` bytes.
constexpr size_t kMaxPeerJsTokenLength = 256;
std::optional<std::string> ReadPeerJsHandshake(const std::vector<std::string_view>& arguments,
                                               std::string_view expected_key,
                                               PeerJsHandshake* handshake,
                                               size_t max_token_length = kMaxPeerJsTokenLength);

// The types a PeerJS client may send that the server acts on.
enum class PeerJsType { kOffer, kAnswer, kCandidate, kLeave, kExpire, kHeartbeat };

// The wire name of a type ("OFFER", ...).
std::string_view PeerJsTypeName(PeerJsType type);

// True for LEAVE and EXPIRE, which are dropped rather than queued when their target is absent.
bool IsDroppedWhenAbsent(PeerJsType type);

struct PeerJsMessage {
  PeerJsType type = PeerJsType::kHeartbeat;
  std::string_view dst;      // the target id (valid); empty for HEARTBEAT
  std::string_view payload;  // the payload's raw JSON, or empty when the frame has none
};

// What Parse made of a frame. `peer` ignores every frame that is not a message, without a reply.
enum class PeerJsParse {
  kMessage,      // `out` is filled
  kInvalidJson,  // not strict JSON, or not an object
  kIgnoredType,  // a type the server does not act on (OPEN, FOO, no type...)
  kNoTarget,     // a relayed type without a valid "dst"
};

// Parses PeerJS client frames. Keeps its JSON document between calls. Not thread-safe.
class PeerJsParser {
 public:
  // Parses one frame. Views in `out` point into `text` or the parser, and stay valid until the
  // next call or until `text` is freed. Never throws.
  PeerJsParse Parse(std::string_view text, PeerJsMessage* out);

 private:
  JsonDocument document_;
};

// {"type":"<type>","src":"<src>","dst":"<dst>","payload":<payload>}, the key order `peer` uses;
// without "payload" when `payload` is empty. `src` and `dst` must be valid PeerJS ids.
Frame BuildPeerJsRelayFrame(PeerJsType type, std::string_view src, std::string_view dst,
                            std::string_view payload);

// {"type":"OPEN"}: the id is registered.
Frame BuildPeerJsOpenFrame();

// {"type":"ERROR","payload":{"msg":"<message>"}}. `message` is escaped as needed.
Frame BuildPeerJsErrorFrame(std::string_view message);

// {"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}.
Frame BuildPeerJsIdTakenFrame();

// {"type":"EXPIRE","src":"<target>","dst":"<sender>"}: what `sender` sent to `target` was not
// delivered. Both must be valid PeerJS ids.
Frame BuildPeerJsExpireFrame(std::string_view target, std::string_view sender);

// The body `GET <path>` answers with, as `peer` does.
std::string_view PeerJsServerInfo();

// A JSON array of `ids` (valid PeerJS ids), for `GET <path><key>/peers`.
std::string PeerJsIdList(const std::vector<std::string>& ids);

}  // namespace switchboard::protocol
