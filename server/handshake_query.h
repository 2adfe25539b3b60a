// What a native WebSocket handshake asks for (docs/protocol.md), read from its query arguments
// and its Authorization header.
//
// Pure: the arguments come already split and URL-decoded (libwebsockets does that), so this is
// tested and fuzzed without sockets.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::server {

struct NativeQuery {
  std::optional<std::string> peer;          // "peer": the id asked for (valid), if any
  std::string resume_token;                 // "token": proves a reconnect is the same client
  std::optional<std::string> access_token;  // "access_token", or the Authorization bearer token
};

// Reads `arguments` ("name=value", in order: the first "peer" and the last "token" and
// "access_token" count) and `authorization` (the Authorization header, "" without one; a
// "Bearer" token there is used when the query has no access_token). Returns false with `error`
// set to what to tell the client when an id is invalid or a token too long; `reason` is then the
// metric label ("bad-peer-id", "bad-token").
bool ReadNativeQuery(const std::vector<std::string>& arguments, std::string_view authorization,
                     NativeQuery* query, std::string_view* reason, std::string* error);

}  // namespace switchboard::server
