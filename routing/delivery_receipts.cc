#include "routing/delivery_receipts.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iterator>

namespace switchboard::routing {

UnconfirmedFrames::Stream& UnconfirmedFrames::StreamOf(std::string_view pod, int bucket) {
  auto of_pod = streams_.find(pod);
  if (of_pod == streams_.end()) of_pod = streams_.try_emplace(std::string(pod)).first;
  auto [it, added] = of_pod->second.try_emplace(bucket);
  if (added) {
    it->second.next = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count());
  }
  return it->second;
}

uint64_t UnconfirmedFrames::NextSequence(std::string_view pod, int bucket) {
  return ++StreamOf(pod, bucket).next;
}

std::optional<UnconfirmedFrames::Frame> UnconfirmedFrames::Published(std::string_view pod,
                                                                     int bucket, uint64_t sequence,
                                                                     Frame frame,
                                                                     Clock::time_point at) {
  Stream& stream = StreamOf(pod, bucket);
  stream.published = std::max(stream.published, sequence);
  if (auto early = std::find(stream.returned_early.begin(), stream.returned_early.end(), sequence);
      early != stream.returned_early.end()) {
    stream.returned_early.erase(early);
    return std::nullopt;
  }
  if (sequence <= stream.confirmed && sequence >= stream.confirmed_from) return std::nullopt;
  if (sequence <= stream.answered) return frame;  // asked about, and not handled
  // Below a receipt's first: perhaps handled on a subscription since lost, its receipt with it.
  if (sequence <= stream.confirmed) AskNow(stream, sequence);
  stream.waiting.push_back(Waiting{sequence, at, std::move(frame)});
  ++waiting_;
  return std::nullopt;
}

bool UnconfirmedFrames::Returned(std::string_view pod, int bucket, uint64_t sequence) {
  auto of_pod = streams_.find(pod);
  if (of_pod == streams_.end()) return true;
  auto it = of_pod->second.find(bucket);
  // A predecessor's stream, or numbers this pod never gave out: not this pod's to settle.
  if (it == of_pod->second.end() || sequence > it->second.next) return true;
  Stream& stream = it->second;
  auto waiting = std::find_if(stream.waiting.begin(), stream.waiting.end(),
                              [&](const Waiting& frame) { return frame.sequence == sequence; });
  if (waiting != stream.waiting.end()) {
    stream.waiting.erase(waiting);
    --waiting_;
    EndAskIfSettled(stream);
    return true;
  }
  // One stream's PUBLISH replies come in order (one node, one connection): past the last one
  // that came, the reply is still on its way.
  if (sequence <= stream.published) return false;
  stream.returned_early.push_back(sequence);
  if (stream.returned_early.size() > kReturnedEarlyKept) stream.returned_early.pop_front();
  return true;
}

void UnconfirmedFrames::AskNow(Stream& stream, uint64_t sequence) {
  if (stream.asked_at == Clock::time_point{} || sequence > stream.asked_top) stream.ask_now = true;
}

void UnconfirmedFrames::Confirm(std::string_view pod, const Receipt& receipt) {
  // Not a stream of this pod's: one of a predecessor's.
  auto of_pod = streams_.find(pod);
  if (of_pod == streams_.end()) return;
  auto it = of_pod->second.find(receipt.bucket);
  if (it == of_pod->second.end()) return;
  Stream& stream = it->second;
  // Numbers this pod never gave out: a receipt meant for a predecessor under the same id.
  if (receipt.last > stream.next) return;
  if (receipt.last > stream.confirmed) {
    stream.confirmed = receipt.last;
    stream.confirmed_from = receipt.first;
  }
  for (auto frame = stream.waiting.begin();
       frame != stream.waiting.end() && frame->sequence <= receipt.last;) {
    if (frame->sequence < receipt.first) {
      AskNow(stream, frame->sequence);
      ++frame;
      continue;
    }
    frame = stream.waiting.erase(frame);
    --waiting_;
  }
  EndAskIfSettled(stream);
}

void UnconfirmedFrames::EndAskIfSettled(Stream& stream) {
  if (!stream.waiting.empty() && stream.waiting.front().sequence <= stream.asked_top) return;
  stream.asked_at = {};
  stream.ask_ran_at = {};
}

std::vector<UnconfirmedFrames::Frame> UnconfirmedFrames::Drop(Stream& stream, uint64_t first,
                                                              uint64_t last) {
  std::vector<Frame> lost;
  while (!stream.waiting.empty() && stream.waiting.front().sequence <= last) {
    if (stream.waiting.front().sequence < first) {
      lost.push_back(std::move(stream.waiting.front().frame));
    }
    stream.waiting.pop_front();
    --waiting_;
  }
  return lost;
}

std::vector<UnconfirmedFrames::Ask> UnconfirmedFrames::TakeAsks(Clock::time_point now,
                                                                Clock::time_point late, bool all) {
  std::vector<Ask> asks;
  for (auto& [pod, buckets] : streams_) {
    for (auto& [bucket, stream] : buckets) {
      const bool due = all ? !stream.waiting.empty() || stream.given_up != 0
                           : !stream.waiting.empty() &&
                                 (stream.ask_now ||
                                  (stream.waiting.front().at < late && stream.asked_at < late));
      if (!due) continue;
      stream.ask_now = false;
      stream.asked_at = now;
      stream.asked_top = stream.next;
      asks.push_back(Ask{pod, bucket, stream.next});
    }
  }
  return asks;
}

void UnconfirmedFrames::AskRan(std::string_view pod, int bucket, Clock::time_point at) {
  Stream& stream = StreamOf(pod, bucket);
  if (stream.ask_ran_at == Clock::time_point{}) stream.ask_ran_at = at;
}

std::vector<UnconfirmedFrames::Frame> UnconfirmedFrames::Answered(
    std::string_view pod, int bucket, uint64_t top, const std::vector<Receipt>& handled) {
  std::vector<Frame> lost;
  auto of_pod = streams_.find(pod);
  if (of_pod == streams_.end()) return lost;
  auto it = of_pod->second.find(bucket);
  // Not asked by this pod: by a predecessor under the same id.
  if (it == of_pod->second.end() || top > it->second.next) return lost;
  for (const Receipt& receipt : handled) {
    if (receipt.bucket == bucket) Confirm(pod, receipt);
  }
  Stream& stream = it->second;
  stream.answered = std::max(stream.answered, top);
  std::vector<Frame> unhandled = Drop(stream, top + 1, top);
  std::move(unhandled.begin(), unhandled.end(), std::back_inserter(lost));
  if (top >= stream.given_up) stream.given_up = 0;
  EndAskIfSettled(stream);
  return lost;
}

void UnconfirmedFrames::GiveUp(Stream& stream, Clock::time_point cutoff, uint64_t last,
                               std::vector<Frame>* given_up) {
  while (!stream.waiting.empty() && stream.waiting.front().at < cutoff &&
         stream.waiting.front().sequence <= last) {
    stream.given_up = std::max(stream.given_up, stream.waiting.front().sequence);
    given_up->push_back(std::move(stream.waiting.front().frame));
    stream.waiting.pop_front();
    --waiting_;
  }
}

std::vector<UnconfirmedFrames::Frame> UnconfirmedFrames::TakeUnanswered(Clock::time_point cutoff) {
  std::vector<Frame> given_up;
  if (waiting_ == 0) return given_up;
  for (auto& [pod, buckets] : streams_) {
    for (auto& [bucket, stream] : buckets) {
      if (stream.ask_ran_at == Clock::time_point{} || stream.ask_ran_at >= cutoff) continue;
      GiveUp(stream, Clock::time_point::max(), stream.asked_top, &given_up);
      EndAskIfSettled(stream);
    }
  }
  return given_up;
}

std::vector<UnconfirmedFrames::Frame> UnconfirmedFrames::TakePublishedBefore(
    Clock::time_point cutoff) {
  std::vector<Frame> overdue;
  if (waiting_ == 0) return overdue;
  for (auto& [pod, buckets] : streams_) {
    for (auto& [bucket, stream] : buckets) {
      GiveUp(stream, cutoff, UINT64_MAX, &overdue);
      EndAskIfSettled(stream);
    }
  }
  return overdue;
}

bool ReceiptsOwed::Handled(std::string_view sender_pod, int bucket, uint64_t sequence,
                           Clock::time_point now) {
  auto pod = streams_.find(sender_pod);
  if (pod == streams_.end()) pod = streams_.try_emplace(std::string(sender_pod)).first;
  Range& range = pod->second[bucket];
  const uint64_t ceiling = std::max(range.last, range.fenced);
  const bool restarted = sequence <= ceiling && ceiling - sequence > kRestartGap;
  if (sequence <= ceiling && !restarted) return false;
  if (range.first != 0 && sequence != range.last + 1) {
    if (range.changed) {
      closed_[pod->first].push_back(Receipt{bucket, range.first, range.last});
      range.changed = false;
      --changed_;
    }
    range.earlier.push_back(Receipt{bucket, range.first, range.last});
    if (range.earlier.size() > kRangesKept - 1) range.earlier.pop_front();
    range.first = 0;
  }
  if (restarted) {
    range.earlier.clear();
    range.fenced = 0;
  }
  if (range.first == 0) range.first = sequence;
  range.last = sequence;
  range.touched = now;
  if (!range.changed) ++changed_;
  range.changed = true;
  return true;
}

void ReceiptsOwed::Unhandle(std::string_view sender_pod, int bucket, uint64_t sequence) {
  auto pod = streams_.find(sender_pod);
  if (pod == streams_.end()) return;
  auto it = pod->second.find(bucket);
  if (it == pod->second.end()) return;
  Range& range = it->second;
  if (range.first == 0 || range.last != sequence) return;
  if (range.first == sequence) {
    range.first = 0;
    if (range.changed) {
      range.changed = false;
      --changed_;
    }
  }
  range.last = sequence - 1;
}

std::vector<Receipt> ReceiptsOwed::Ask(std::string_view sender_pod, int bucket, uint64_t top,
                                       Clock::time_point now) {
  auto pod = streams_.find(sender_pod);
  if (pod == streams_.end()) pod = streams_.try_emplace(std::string(sender_pod)).first;
  Range& range = pod->second[bucket];
  range.fenced = std::max(range.fenced, top);
  range.touched = now;
  std::vector<Receipt> handled(range.earlier.begin(), range.earlier.end());
  if (range.first != 0) handled.push_back(Receipt{bucket, range.first, range.last});
  return handled;
}

std::vector<std::pair<std::string, std::vector<Receipt>>> ReceiptsOwed::Take(
    Clock::time_point now, Clock::duration forget_after) {
  std::vector<std::pair<std::string, std::vector<Receipt>>> receipts;
  if (empty() && streams_.empty()) return receipts;
  for (auto pod = streams_.begin(); pod != streams_.end();) {
    std::vector<Receipt> list;
    if (auto closed = closed_.find(pod->first); closed != closed_.end()) {
      list = std::move(closed->second);
      closed_.erase(closed);
    }
    for (auto bucket = pod->second.begin(); bucket != pod->second.end();) {
      Range& range = bucket->second;
      if (range.changed) {
        range.changed = false;
        list.push_back(Receipt{bucket->first, range.first, range.last});
      } else if (now - range.touched > forget_after) {
        bucket = pod->second.erase(bucket);
        continue;
      }
      ++bucket;
    }
    if (!list.empty()) {
      // By bucket; a stream's closed ranges (older) before its current one.
      std::stable_sort(list.begin(), list.end(),
                       [](const Receipt& a, const Receipt& b) { return a.bucket < b.bucket; });
      receipts.emplace_back(pod->first, std::move(list));
    }
    pod = pod->second.empty() ? streams_.erase(pod) : std::next(pod);
  }
  for (auto& [pod, list] : closed_) receipts.emplace_back(pod, std::move(list));
  closed_.clear();
  changed_ = 0;
  return receipts;
}

}  // namespace switchboard::routing
