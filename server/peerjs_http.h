// The HTTP side of the PeerJS dialect, as `peer` serves it under its mount path: server info, a
// fresh id, and (with discovery on) the list of connected ids.
//
// Pure: it decides what a request is and formats ids; server.cc does the I/O (the peer list
// comes from the registry, asynchronously).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::server {

enum class PeerJsHttpRoute {
  kInfo,   // GET <path>: {"name":"PeerJS Server",...}
  kId,     // GET <path><key>/id: a fresh id, as text
  kPeers,  // GET <path><key>/peers: the connected ids, or 401 without discovery
};

// What `request_path` (no query) asks of the PeerJS endpoint mounted at `mount` (which starts and
// ends with "/"), or nullopt when it is not a PeerJS route. As `peer` does, any key is accepted
// in these routes and a trailing "/" is allowed.
std::optional<PeerJsHttpRoute> MatchPeerJsHttp(std::string_view request_path,
                                               std::string_view mount);

// The WebSocket path of the PeerJS endpoint mounted at `mount`: `mount` + "peerjs".
std::string PeerJsWebSocketPath(std::string_view mount);

// A version 4 UUID in lowercase text (36 characters) made of `random`, as `peer` hands out.
std::string FormatUuidV4(std::array<uint8_t, 16> random);

}  // namespace switchboard::server
