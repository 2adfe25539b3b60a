// The native v1 dialect (docs/protocol.md): parsing what clients send, building what they receive.
//
// The server never needs to understand a payload, only who it is for. So the parser reads the
// envelope and hands back the payload as the exact slice of the input it occupied, and the
// builders splice that slice into the outgoing frame: the payload is never re-serialised. Every
// function here is pure: no I/O, no clocks, no globals.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "protocol/frame.h"
#include "protocol/json_document.h"

namespace switchboard::protocol {

// Message types a client may send.
enum class MessageType { kOffer, kAnswer, kCandidate, kBye, kMessage, kPing, kRefresh };

// The wire name of a type ("offer", ...).
std::string_view MessageTypeName(MessageType type);

// True for the types that are relayed to another peer (everything but ping and refresh).
bool IsRelayed(MessageType type);

// A parsed client frame. Every view points into the parser's own storage or into the text given
// to Parse, and stays valid until the next call to Parse or until that text is freed.
struct ClientMessage {
  MessageType type = MessageType::kPing;
  std::string_view to;       // target peer id (validated); empty for ping
  std::string_view payload;  // the payload's raw JSON bytes; "null" for a bye without payload
  std::string_view ref;    // the raw JSON of "id" (a string with its quotes, or a number), or empty
  std::string_view token;  // refresh: the new connection token (decoded); else empty
};

// Why a frame was refused; becomes a bad-message error. `ref` is set when the frame carried a
// usable "id", so the error can point at the message.
struct ParseError {
  std::string message;
  std::string_view ref;
};

// Parses client frames. Keeps its JSON document between calls so that steady-state
// parsing reuses their memory. Not thread-safe; one per event loop.
class NativeParser {
 public:
  // Parses one text frame. On success fills `out` and returns true; otherwise fills `error` with
  // a message fit to show the client and returns false. Never throws.
  bool Parse(std::string_view text, ClientMessage* out, ParseError* error);

 private:
  JsonDocument document_;
};

// Error codes of the native dialect (docs/protocol.md).
enum class ErrorCode {
  kBadMessage,
  kPeerUnavailable,
  kRateLimited,
  kIdTaken,
  kUnavailable,
  kUnauthorized,  // a refresh token that is not valid
  kForbidden,     // the connection's token may not send to that peer
};

// The wire name of an error code ("bad-message", ...).
std::string_view ErrorCodeName(ErrorCode code);

// {"type":"<type>","from":"<from>","to":"<to>","payload":<payload>}. `from` and `to` must be
// valid peer ids and `payload` valid JSON (as ClientMessage guarantees).
Frame BuildRelayFrame(MessageType type, std::string_view from, std::string_view to,
                      std::string_view payload);

// {"type":"welcome","peer":"<peer>","pod":"<pod>"}. `pod` is escaped as needed.
Frame BuildWelcomeFrame(std::string_view peer, std::string_view pod);

// {"type":"pong"}, with "ref" when `ref` (raw JSON) is not empty.
Frame BuildPongFrame(std::string_view ref);

// {"type":"reconnect","reason":<reason>}: the server is about to close the connection (1012) and
// asks the client to connect again at once, as the same peer. `reason` is a fixed token
// ("rebalance"), sent as it is.
Frame BuildReconnectFrame(std::string_view reason);

// {"type":"refreshed","exp":<expires_at>}, with "ref" when `ref` (raw JSON) is not empty.
Frame BuildRefreshedFrame(long long expires_at, std::string_view ref);

// {"type":"error","code":...,"message":...}, with "to" and "ref" (raw JSON) when not empty.
// `message` is escaped as needed.
Frame BuildErrorFrame(ErrorCode code, std::string_view message, std::string_view to = {},
                      std::string_view ref = {});

}  // namespace switchboard::protocol
