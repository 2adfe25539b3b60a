// Receipts between pods: how a sender's pod learns that a frame it published reached a pod that
// handled it, rather than only a subscription that Redis still held for a pod that was gone (its
// process killed, its link cut or given up on). PUBLISH's count of subscribers says the second.
//
// A pod numbers the frames it publishes to each (receiving pod, bucket) stream, and one bucket's
// channel of one pod is FIFO, so a receipt is a range: "every number from here to here". The
// receiving pod notes, per stream, the run of consecutive numbers it handled (delivered or held;
// a frame it hands back gets no receipt, the bounce carries its number instead, so that a bounce
// lost on the way is not taken for delivered), and sends what changed four times a second, a
// list per sending pod in one message. A
// number that skips ahead starts a new range: the frames skipped reached a subscription this pod
// no longer reads (its link was lost, or it dropped a stall's backlog). A number below the last
// one handled is a frame that Redis ran late, from a connection its sender's pod gave up on: the
// receiving pod drops it, so order holds.
//
// The sending pod keeps each frame until a receipt covers it. A receipt that skips waiting frames
// (the pod may have handled them before it lost its subscription, and their receipt with it), or
// one that is late (the receiving pod stalled, died or lost its link; or this pod's link was
// lost, with the receipts sent meanwhile and perhaps frames still in its old connection), is not
// taken for a loss: the sending pod asks the receiving pod how far it handled the stream, on the
// stream's own channel, so that the question comes after every frame sent before it on that
// connection. The answer lists what was handled, and from then on the receiving pod drops any
// frame of the stream up to the number asked about that still arrives (from a connection given up
// on, which Redis may run late). So a frame is either covered by the answer or told, never both.
// Only when asks go unanswered (the receiving pod is gone), or Redis is away for long, are frames
// given up on without an answer.
//
// Pure bookkeeping, no I/O: both halves are driven by RedisRegistry.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "routing/pod_message.h"
#include "routing/routed_frame.h"
#include "routing/string_map.h"

namespace switchboard::routing {

// The sending side: frames published to another pod, until its receipt.
class UnconfirmedFrames {
 public:
  // What is kept of a frame: its pod message (to tell its sender) and the sender's ref.
  struct Frame {
    std::string message;
    std::string ref;
  };

  // The number the next frame for `pod`'s channel of `bucket` carries. Numbers of a stream start
  // at the wall clock in microseconds when the stream is first used, so that a pod restarted
  // under the same id never reuses a number a receipt still in flight could cover.
  uint64_t NextSequence(std::string_view pod, int bucket);

  // Frame `sequence` of that stream reached a subscriber at `at`: it waits for a receipt, unless
  // one came already (receipts and PUBLISH replies travel on different connections). Returns the
  // frame if an answer showed it lost, nothing otherwise.
  std::optional<Frame> Published(std::string_view pod, int bucket, uint64_t sequence, Frame frame,
                                 Clock::time_point at);

  // A receipt from `pod`: the frames of that stream from receipt.first to receipt.last were
  // handled. Frames before receipt.first that wait reached a subscription the pod no longer has;
  // it may have handled them before losing it, and their receipt with it: the stream is asked
  // about at once (TakeAsks), and the answer settles them.
  void Confirm(std::string_view pod, const Receipt& receipt);

  // `pod` handed frame `sequence` of that stream back instead of a receipt (it did not hold the
  // target; that pod's receipts leave a hole there). Returns true when the frame is to be routed
  // again: it was waiting, or its PUBLISH reply has not come yet (Published then forgets it).
  // False when its sender was told already (an answer or a timeout gave it up): the caller drops
  // the frame, which Redis ran late.
  bool Returned(std::string_view pod, int bucket, uint64_t sequence);

  // A question for `pod`, on its channel of `bucket`: which frames of this pod's stream to it,
  // numbered up to `top`, did it handle?
  struct Ask {
    std::string pod;
    int bucket = 0;
    uint64_t top = 0;
  };

  // The streams to ask about now, each marked as asked at `now`: those whose oldest waiting
  // frame was published before `late` (its receipt is late), unless asked after `late`, and
  // those a receipt that skipped waiting frames made due (Confirm, Published). With
  // `all` (this pod's link to Redis is new), every stream with a frame waiting or given up on
  // without an answer: receipts sent while the link was away are lost, and Redis may still run
  // frames the old connection held.
  std::vector<Ask> TakeAsks(Clock::time_point now, Clock::time_point late, bool all);

  // Redis ran an ask about that stream at `at` (whether it reached a subscriber or not): if no
  // answer comes, TakeUnanswered gives its frames up.
  void AskRan(std::string_view pod, int bucket, Clock::time_point at);

  // `pod`'s answer to an ask about `top`: it handled the frames of `handled` (ranges, oldest
  // first), and drops any other frame of the stream up to `top` that still reaches it. Returns
  // the frames that were waiting and are lost.
  std::vector<Frame> Answered(std::string_view pod, int bucket, uint64_t top,
                              const std::vector<Receipt>& handled);

  // Removes and returns the frames asked about of every stream whose first ask Redis ran before
  // `cutoff` while they still wait: the receiving pod is gone or does not read its channel.
  // (Frames published after the ask wait on, to be asked about when late.)
  std::vector<Frame> TakeUnanswered(Clock::time_point cutoff);

  // Removes and returns every frame published before `cutoff` that no receipt covers (asked
  // about or not: Redis was away for that long).
  std::vector<Frame> TakePublishedBefore(Clock::time_point cutoff);

  // Frames waiting for a receipt.
  size_t size() const { return waiting_; }

 private:
  struct Waiting {
    uint64_t sequence;
    Clock::time_point at;
    Frame frame;
  };
  struct Stream {
    uint64_t next = 0;
    uint64_t confirmed = 0;       // the highest number a receipt covered
    uint64_t confirmed_from = 0;  // the first of that receipt
    uint64_t answered = 0;        // the highest number an answer covered (handled or not)
    std::deque<Waiting> waiting;  // in sequence order
    // The last ask: when it was sent and the top it asked about, and when Redis ran the first
    // ask since; until no frame it asked about waits.
    Clock::time_point asked_at{};
    uint64_t asked_top = 0;
    Clock::time_point ask_ran_at{};
    bool ask_now = false;                 // a receipt skipped waiting frames: ask at once
    uint64_t given_up = 0;                // the highest number given up on without an answer
    uint64_t published = 0;               // the highest number whose PUBLISH reply came
    std::deque<uint64_t> returned_early;  // handed back before their PUBLISH reply came
  };
  static constexpr size_t kReturnedEarlyKept = 64;

  // Removes the waiting frames numbered up to `last` and returns those below `first` (lost).
  std::vector<Frame> Drop(Stream& stream, uint64_t first, uint64_t last);
  // Removes the stream's waiting frames published before `cutoff` and numbered up to `last`.
  void GiveUp(Stream& stream, Clock::time_point cutoff, uint64_t last,
              std::vector<Frame>* given_up);
  // Forgets the stream's ask once no frame it asked about waits.
  void EndAskIfSettled(Stream& stream);
  // A receipt skipped frame `sequence`: asks about it unless an ask that covers it is out.
  static void AskNow(Stream& stream, uint64_t sequence);

  Stream& StreamOf(std::string_view pod, int bucket);

  StringMap<std::unordered_map<int, Stream>> streams_;  // pod -> bucket -> stream
  size_t waiting_ = 0;
};

// The receiving side: receipts owed to the pods that sent frames.
class ReceiptsOwed {
 public:
  // Frame `sequence` of `sender_pod`'s stream of `bucket` to this pod arrived at `now`. Returns
  // true when the frame is to be handled (it is owed a receipt), false when it is not newer than
  // the last one handled from that stream: the caller drops it (see the top of this file). A
  // number more than kRestartGap below the last is no late frame (no connection holds a million
  // frames of one stream) but a sending pod restarted under the same id with its clock behind
  // the numbers of its predecessor: its stream starts afresh.
  static constexpr uint64_t kRestartGap = 1'000'000;
  bool Handled(std::string_view sender_pod, int bucket, uint64_t sequence, Clock::time_point now);

  // Takes back frame `sequence`, the last Handled accepted from that stream: this pod hands it
  // back instead (a bounce that carries its number, or none if the link is down). The stream's
  // next receipt starts after it, so its sender's pod keeps it until the bounce comes, or asks
  // and takes it for lost. Does nothing if it is not the last.
  void Unhandle(std::string_view sender_pod, int bucket, uint64_t sequence);

  // `sender_pod` asks which frames of its stream, numbered up to `top`, this pod handled.
  // Returns the ranges it remembers (the last kRangesKept, oldest first), and from now on
  // refuses every frame of the stream numbered up to `top` (Handled returns false).
  static constexpr size_t kRangesKept = 8;
  std::vector<Receipt> Ask(std::string_view sender_pod, int bucket, uint64_t top,
                           Clock::time_point now);

  // The receipts to send, one list per sending pod, for the streams that moved since the last
  // call; a stream's older ranges before its newer ones. Forgets the streams that did not move
  // for `forget_after` (the pods that sent on them are gone).
  std::vector<std::pair<std::string, std::vector<Receipt>>> Take(Clock::time_point now,
                                                                 Clock::duration forget_after);

  bool empty() const { return changed_ == 0 && closed_.empty(); }

 private:
  struct Range {
    uint64_t first = 0;
    uint64_t last = 0;
    uint64_t fenced = 0;  // the highest number asked about: refused from then on
    bool changed = false;
    Clock::time_point touched;
    std::deque<Receipt> earlier;  // the ranges before this one, for answers (kRangesKept)
  };
  // pod -> bucket -> the range being extended
  StringMap<std::unordered_map<int, Range>> streams_;
  size_t changed_ = 0;
  std::unordered_map<std::string, std::vector<Receipt>> closed_;  // ended by a skip, not sent yet
};

}  // namespace switchboard::routing
