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
//                        S<target> <sender-pod> <sender> <seq> <frame>  D (s: d) from a pod that
//                        s<target> <sender-pod> <sender> <seq> <frame>  wants a receipt: <seq> is
//                                                                  its number in the sender pod's
//                                                                  stream to this pod and bucket
//                        K<pod> <bucket>:<first>-<last>[,...]      receipts from <pod>: on its
//                                                                  current subscription it has
//                                                                  handled every frame of this
//                                                                  pod's stream to it and that
//                                                                  bucket from <first> to <last>
//                        Q<pod> <bucket> <top>                     <pod> asks which frames of its
//                                                                  stream to this pod and bucket,
//                                                                  numbered up to <top>, this pod
//                                                                  handled (a receipt is late)
//                        A<pod> <bucket> <top>[ <bucket>:<first>-<last>,...]  <pod>'s answer: it
//                                                                  handled these, and drops the
//                                                                  rest up to <top> if they come
//                        B<target> <bouncer-pod> <sender> <frame>  a frame this pod sent to a pod
//                        b<target> <bouncer-pod> <sender> <frame>  that does not hold the target,
//                                                                  handed back (b: do not queue)
//                        F<target> <pod>                           fence: answer <pod> once every
//                                                                  frame it sent before is handled
//                        f<target> <pod>                           the fence's answer, from <pod>
//                        X<target> <nonce>                         this pod's release of <target>
//                                                                  (published by the release step)
//                        C<peer> <nonce>                           this pod's claim of <peer>
//                                                                  (published by the register
//                                                                  step): what came before it on
//                                                                  the channel was sent before
//                                                                  the step handed the queue over
//                        Z<bucket> <nonce>                         this pod's marker on its own
//                                                                  channel of <bucket>: its
//                                                                  backlog there is read
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
#include <vector>

namespace switchboard::routing {

struct PodMessage {
  enum class Kind {
    kDeliver,
    kBounce,
    kFence,
    kFenceAnswer,
    kReleased,
    kClaimed,
    kReplaced,
    kExpired,
    kReceipts,
    kAsk,
    kAnswer,
    kBacklogMarker
  };
  Kind kind = Kind::kDeliver;
  std::string_view target;      // the addressee (kExpired: of the sender's frames); kReplaced: the
                                // peer taken over
  std::string_view sender_pod;  // kDeliver
  std::string_view pod;         // kBounce: who bounced; kFence: whom to answer; kFenceAnswer: who
                                // answers; kReceipts, kAnswer: who handled the frames; kAsk: who
                                // asks
  std::string_view sender;      // kDeliver, kBounce, kExpired
  std::string_view frame;       // kDeliver, kBounce
  std::string_view nonce;       // kReleased, kClaimed, kBacklogMarker
  bool queue_if_absent = true;  // kDeliver, kBounce: queue the frame if the target is absent
  uint64_t sequence = 0;        // kDeliver: > 0 when the sender's pod wants a receipt; kBounce:
                                // > 0 for a frame handed back instead of a receipt (T, t); kAsk,
                                // kAnswer: the top number asked about
  std::string_view receipts;    // kReceipts, kAnswer (may be empty): the list, for DecodeReceipts
  int bucket = 0;               // kBacklogMarker, kAsk, kAnswer
};

// One receipt: the receiving pod has handled every frame of a stream (sender pod -> receiving
// pod, one bucket) from `first` to `last`, `first` being the first it got on its current
// subscription: frames before it were published to a subscription it no longer has.
struct Receipt {
  int bucket = 0;
  uint64_t first = 0;
  uint64_t last = 0;
  bool operator==(const Receipt&) const = default;
};

// Reads a message from a pod channel; nullopt if it is malformed. Views point into `bytes`.
std::optional<PodMessage> DecodePodMessage(std::string_view bytes);

// Reads the list of a K message ("<bucket>:<first>-<last>,..."); nullopt if it is malformed
// (empty, a bucket or sequence that is not a decimal number, a sequence of 0, first > last).
std::optional<std::vector<Receipt>> DecodeReceipts(std::string_view list);

// The messages pods build themselves (the Lua steps build D, d, R, X and C in Redis). A deliver
// message with a `sequence` (> 0) asks for a receipt (S, s).
std::string EncodeDeliver(std::string_view target, std::string_view sender_pod,
                          std::string_view sender, std::string_view frame, bool queue_if_absent,
                          uint64_t sequence = 0);
// `receipts` must not be empty.
std::string EncodeReceipts(std::string_view receiving_pod, const std::vector<Receipt>& receipts);
std::string EncodeBacklogMarker(int bucket, std::string_view nonce);
std::string EncodeAsk(std::string_view asking_pod, int bucket, uint64_t top);
// `handled` may be empty.
std::string EncodeAnswer(std::string_view answering_pod, int bucket, uint64_t top,
                         const std::vector<Receipt>& handled);
// A bounce with a `sequence` (> 0; T, t) hands back a numbered frame instead of a receipt.
std::string EncodeBounce(std::string_view target, std::string_view bouncer_pod,
                         std::string_view sender, std::string_view frame, bool queue_if_absent,
                         uint64_t sequence = 0);
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
