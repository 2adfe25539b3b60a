// What travels through Redis between pods, and what waits in a Redis queue.
//
// Both are built by the Lua scripts (redis_scripts.cc) and read here. They are plain byte
// strings with space-separated heads: peer ids and pod ids never contain spaces, and the frame
// comes last, so it needs no escaping and arrives ready to write (the receiving pod does not
// parse JSON again).
//
//   on a pod's channel:  D<target> <sender-pod> <sender> <frame>   deliver a frame
//                        d<target> <sender-pod> <sender> <frame>   the same, but if the target
//                                                                  left, drop it: do not queue
//                        R<peer>                                   the peer was taken over
//                        E<sender> <target>                        tell sender: target never came
//   in a queue list:     <deadline-ms> <sender-pod> <sender> <frame>
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace switchboard::routing {

struct PodMessage {
  enum class Kind { kDeliver, kReplaced, kExpired };
  Kind kind = Kind::kDeliver;
  std::string_view target;      // kDeliver, kExpired: the addressee; kReplaced: the peer
  std::string_view sender_pod;  // kDeliver
  std::string_view sender;      // kDeliver, kExpired
  std::string_view frame;       // kDeliver
  bool queue_if_absent = true;  // kDeliver: queue the frame if the target has left meanwhile
};

// Reads a message from a pod channel; nullopt if it is malformed. Views point into `bytes`.
std::optional<PodMessage> DecodePodMessage(std::string_view bytes);

struct QueuedEntry {
  int64_t deadline_ms = 0;
  std::string_view sender_pod;
  std::string_view sender;
  std::string_view frame;
};

// Reads an entry of a Redis queue; nullopt if it is malformed. Views point into `bytes`.
std::optional<QueuedEntry> DecodeQueuedEntry(std::string_view bytes);

}  // namespace switchboard::routing
