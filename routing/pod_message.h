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
//                        B<target> <bouncer-pod> <sender> <frame>  a frame this pod sent to a pod
//                        b<target> <bouncer-pod> <sender> <frame>  that does not hold the target,
//                                                                  handed back (b: do not queue)
//                        F<target> <pod>                           fence: answer <pod> once every
//                                                                  frame it sent before is handled
//                        f<target> <pod>                           the fence's answer, from <pod>
//                        X<target> <nonce>                         this pod's release of <target>
//                                                                  (published by the release step)
//                        R<peer>                                   the peer was taken over
//                        E<sender> <target>                        tell sender: target never came
//   in a queue list:     <deadline-ms> <sender-pod> <sender> <frame>
//
// docs/architecture.md ("Order across a move") says how bounces, fences and releases keep a
// sender's frames in order while their target moves between pods.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::routing {

struct PodMessage {
  enum class Kind { kDeliver, kBounce, kFence, kFenceAnswer, kReleased, kReplaced, kExpired };
  Kind kind = Kind::kDeliver;
  std::string_view target;      // the addressee (kExpired: of the sender's frames); kReplaced: the
                                // peer taken over
  std::string_view sender_pod;  // kDeliver
  std::string_view pod;         // kBounce: who bounced; kFence: whom to answer; kFenceAnswer: who
                                // answers
  std::string_view sender;      // kDeliver, kBounce, kExpired
  std::string_view frame;       // kDeliver, kBounce
  std::string_view nonce;       // kReleased
  bool queue_if_absent = true;  // kDeliver, kBounce: queue the frame if the target is absent
};

// Reads a message from a pod channel; nullopt if it is malformed. Views point into `bytes`.
std::optional<PodMessage> DecodePodMessage(std::string_view bytes);

// The messages pods build themselves (the Lua steps build D, d, R and X in Redis).
std::string EncodeDeliver(std::string_view target, std::string_view sender_pod,
                          std::string_view sender, std::string_view frame, bool queue_if_absent);
std::string EncodeBounce(std::string_view target, std::string_view bouncer_pod,
                         std::string_view sender, std::string_view frame, bool queue_if_absent);
std::string EncodeFence(std::string_view target, std::string_view answer_to_pod);
std::string EncodeFenceAnswer(std::string_view target, std::string_view answering_pod);
std::string EncodeExpired(std::string_view sender, std::string_view target);

struct QueuedEntry {
  int64_t deadline_ms = 0;
  std::string_view sender_pod;
  std::string_view sender;
  std::string_view frame;
};

// Reads an entry of a Redis queue; nullopt if it is malformed. Views point into `bytes`.
std::optional<QueuedEntry> DecodeQueuedEntry(std::string_view bytes);

}  // namespace switchboard::routing
