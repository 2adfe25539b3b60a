// The frames the load generator sends and reads, in each dialect it speaks.
//
// Every relayed message carries, at the front of its payload, the time it was queued ("t", in
// nanoseconds of CLOCK_MONOTONIC, which every process on the machine shares) and its sequence
// number on its connection ("s"), then filler up to the requested size. The receiver finds both
// in the first bytes of the frame without parsing the rest, so reading a message costs the
// generator almost nothing and allocates nothing: the generator must stay cheaper than the
// servers it measures. Everything here is pure: no I/O, no clocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::bench {

// The protocol a run speaks. kRaw is for bench/raw_relay: native-looking frames, paired by the
// URL, no registration and no envelope handling on the server.
enum class Dialect { kNative, kPeerJs, kRaw };

// "native", "peerjs", "raw"; nullopt for anything else.
std::optional<Dialect> ParseDialect(std::string_view name);
std::string_view DialectName(Dialect dialect);

// The relayed message types of a WebRTC signaling session.
enum class MessageKind : uint8_t { kOffer, kAnswer, kCandidate };

// Where PeerJS endpoints are mounted (the server's --peerjs-path and --peerjs-key).
struct PeerJsMount {
  std::string path = "/";
  std::string key = "peerjs";
};

// The path and query of the WebSocket handshake for a peer called `peer`. `pair` names the pair
// the peer belongs to; only kRaw uses it (the raw relay pairs the two connections that give the
// same one).
std::string HandshakePath(Dialect dialect, const PeerJsMount& mount, std::string_view peer,
                          std::string_view pair);

// The smallest frame EncodeRelay can write for a target id of `to_length` bytes.
size_t MinimumRelayFrameBytes(Dialect dialect, size_t to_length);

// Writes into `out` (room for `capacity` bytes) a relayed message of `kind` for peer `to`,
// stamped with `sent_ns` and `seq`, padded with filler to `frame_bytes` bytes when that is above
// the minimum. Returns the number of bytes written, or 0 when they would not fit.
size_t EncodeRelay(Dialect dialect, MessageKind kind, std::string_view to, uint64_t sent_ns,
                   uint64_t seq, size_t frame_bytes, char* out, size_t capacity);

// The keep-alive frame of the dialect ({"type":"ping"}, {"type":"HEARTBEAT"}); empty for kRaw,
// which has none.
std::string_view HeartbeatFrame(Dialect dialect);

// What one received frame means to the generator.
struct Incoming {
  enum class Event {
    kRelayed,      // a message from the partner: kind, sent_ns and seq are set
    kRegistered,   // the server accepted the peer id (welcome, OPEN)
    kErrorNotice,  // the server reports a message or the connection failed (error, EXPIRE, ...)
    kPong,         // the answer to a native ping
    kOther,        // anything else: counted, otherwise ignored
  };
  Event event = Event::kOther;
  MessageKind kind = MessageKind::kOffer;
  uint64_t sent_ns = 0;
  uint64_t seq = 0;
};

// Reads the start of a received frame (at least its first 256 bytes, or all of it when shorter).
// Server frames in either dialect, and the raw relay's echo of what the generator sent, are
// understood; anything else is kOther.
Incoming DecodeFrameHead(std::string_view head);

// How many leading bytes of a frame DecodeFrameHead needs at most.
inline constexpr size_t kFrameHeadBytes = 256;

}  // namespace switchboard::bench
