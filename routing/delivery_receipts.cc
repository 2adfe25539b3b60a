#include "routing/delivery_receipts.h"

#include <algorithm>
#include <chrono>
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
  if (sequence <= stream.confirmed) {
    if (sequence < stream.confirmed_from) return frame;
    return std::nullopt;
  }
  stream.waiting.push_back(Waiting{sequence, at, std::move(frame)});
  ++waiting_;
  return std::nullopt;
}

std::vector<UnconfirmedFrames::Frame> UnconfirmedFrames::Confirm(std::string_view pod,
                                                                 const Receipt& receipt) {
  std::vector<Frame> lost;
  // Not a stream of this pod's: one of a predecessor's.
  auto of_pod = streams_.find(pod);
  if (of_pod == streams_.end()) return lost;
  auto it = of_pod->second.find(receipt.bucket);
  if (it == of_pod->second.end()) return lost;
  Stream& stream = it->second;
  // Numbers this pod never gave out: a receipt meant for a predecessor under the same id.
  if (receipt.last > stream.next) return lost;
  if (receipt.last > stream.confirmed) {
    stream.confirmed = receipt.last;
    stream.confirmed_from = receipt.first;
  }
  while (!stream.waiting.empty() && stream.waiting.front().sequence <= stream.confirmed) {
    if (stream.waiting.front().sequence < receipt.first) {
      lost.push_back(std::move(stream.waiting.front().frame));
    }
    stream.waiting.pop_front();
    --waiting_;
  }
  return lost;
}

std::vector<UnconfirmedFrames::Frame> UnconfirmedFrames::TakePublishedBefore(
    Clock::time_point cutoff) {
  std::vector<Frame> overdue;
  if (waiting_ == 0) return overdue;
  for (auto& [pod, buckets] : streams_) {
    for (auto& [bucket, stream] : buckets) {
      while (!stream.waiting.empty() && stream.waiting.front().at < cutoff) {
        overdue.push_back(std::move(stream.waiting.front().frame));
        stream.waiting.pop_front();
        --waiting_;
      }
    }
  }
  return overdue;
}

bool ReceiptsOwed::Handled(std::string_view sender_pod, int bucket, uint64_t sequence,
                           Clock::time_point now) {
  auto pod = streams_.find(sender_pod);
  if (pod == streams_.end()) pod = streams_.try_emplace(std::string(sender_pod)).first;
  Range& range = pod->second[bucket];
  if (sequence <= range.last && range.last - sequence <= kRestartGap) return false;
  if (range.first != 0 && sequence != range.last + 1) {
    if (range.changed) {
      closed_[pod->first].push_back(Receipt{bucket, range.first, range.last});
      range.changed = false;
      --changed_;
    }
    range.first = 0;
  }
  if (range.first == 0) range.first = sequence;
  range.last = sequence;
  range.touched = now;
  if (!range.changed) ++changed_;
  range.changed = true;
  return true;
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
