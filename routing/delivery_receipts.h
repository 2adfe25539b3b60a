// Receipts between pods: how a sender's pod learns that a frame it published reached a pod that
// handled it, rather than only a subscription that Redis still held for a pod that was gone (its
// process killed, its link cut or given up on). PUBLISH's count of subscribers says the second.
//
// A pod numbers the frames it publishes to each (receiving pod, bucket) stream: one bucket's
// channel of one pod is FIFO while the pod holds the same subscription, so a receipt is a range,
// "from the first I got on this subscription up to here". The receiving pod notes, per stream,
// the first and last number it handled (delivered, held or bounced), and sends what changed once
// a second, a list per sending pod in one message; it starts again when it subscribes again. The
// sending pod keeps each frame until a receipt covers it. A frame numbered below a receipt's
// first was published to a subscription the receiving pod no longer has: it is lost, and so is
// one that waits longer than the receipt timeout; their senders are told. Pure bookkeeping, no
// I/O: both halves are driven by RedisRegistry.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "routing/pod_message.h"
#include "routing/routed_frame.h"

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
  // one covering it came already (receipts and PUBLISH replies travel on different connections).
  void Published(std::string_view pod, int bucket, uint64_t sequence, Frame frame,
                 Clock::time_point at);

  // A receipt from `pod`: the frames of that stream from receipt.first to receipt.last were
  // handled. Returns the frames before receipt.first that were waiting: they are lost.
  std::vector<Frame> Confirm(std::string_view pod, const Receipt& receipt);

  // Removes and returns every frame published before `cutoff` that no receipt covers.
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
    uint64_t confirmed = 0;
    std::deque<Waiting> waiting;  // in sequence order
  };

  Stream& StreamOf(std::string_view pod, int bucket);

  std::unordered_map<std::string, Stream> streams_;  // "<bucket> <pod>" -> stream
  size_t waiting_ = 0;
};

// The receiving side: receipts owed to the pods that sent frames.
class ReceiptsOwed {
 public:
  // Frame `sequence` of `sender_pod`'s stream of `bucket` to this pod was handled.
  void Handled(std::string_view sender_pod, int bucket, uint64_t sequence);

  // This pod subscribed again: what it handles from now on starts new ranges. The ranges of the
  // old subscriptions not sent yet are still sent, first.
  void Resubscribed();

  // The receipts to send, one list per sending pod, for the streams that moved since the last
  // call.
  std::vector<std::pair<std::string, std::vector<Receipt>>> Take();

  bool empty() const { return changed_ == 0 && unsent_.empty(); }

 private:
  struct Range {
    uint64_t first = 0;
    uint64_t last = 0;
    bool changed = false;
  };
  // pod -> bucket -> range on the current subscription
  std::unordered_map<std::string, std::unordered_map<int, Range>> streams_;
  size_t changed_ = 0;
  std::unordered_map<std::string, std::vector<Receipt>> unsent_;  // of old subscriptions
};

}  // namespace switchboard::routing
