#include "routing/delivery_receipts.h"

#include <algorithm>
#include <chrono>

namespace switchboard::routing {

UnconfirmedFrames::Stream& UnconfirmedFrames::StreamOf(std::string_view pod, int bucket) {
  auto [it, added] = streams_.try_emplace(std::to_string(bucket) + " " + std::string(pod));
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

void UnconfirmedFrames::Published(std::string_view pod, int bucket, uint64_t sequence, Frame frame,
                                  Clock::time_point at) {
  Stream& stream = StreamOf(pod, bucket);
  if (sequence <= stream.confirmed) return;
  stream.waiting.push_back(Waiting{sequence, at, std::move(frame)});
  ++waiting_;
}

std::vector<UnconfirmedFrames::Frame> UnconfirmedFrames::Confirm(std::string_view pod,
                                                                 const Receipt& receipt) {
  std::vector<Frame> lost;
  auto it = streams_.find(std::to_string(receipt.bucket) + " " + std::string(pod));
  if (it == streams_.end()) return lost;  // not a stream of this pod's: one of a predecessor
  Stream& stream = it->second;
  stream.confirmed = std::max(stream.confirmed, receipt.last);
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
  for (auto& [key, stream] : streams_) {
    while (!stream.waiting.empty() && stream.waiting.front().at < cutoff) {
      overdue.push_back(std::move(stream.waiting.front().frame));
      stream.waiting.pop_front();
      --waiting_;
    }
  }
  return overdue;
}

void ReceiptsOwed::Handled(std::string_view sender_pod, int bucket, uint64_t sequence) {
  Range& range = streams_[std::string(sender_pod)][bucket];
  if (range.first == 0) range.first = sequence;
  range.last = std::max(range.last, sequence);
  if (!range.changed) ++changed_;
  range.changed = true;
}

void ReceiptsOwed::Resubscribed() {
  for (auto& [pod, buckets] : streams_) {
    for (const auto& [bucket, range] : buckets) {
      if (range.changed) unsent_[pod].push_back(Receipt{bucket, range.first, range.last});
    }
  }
  streams_.clear();
  changed_ = 0;
}

std::vector<std::pair<std::string, std::vector<Receipt>>> ReceiptsOwed::Take() {
  std::vector<std::pair<std::string, std::vector<Receipt>>> receipts;
  if (empty()) return receipts;
  for (auto& [pod, buckets] : streams_) {
    std::vector<Receipt> list;
    if (auto old = unsent_.find(pod); old != unsent_.end()) {
      list = std::move(old->second);
      unsent_.erase(old);
    }
    for (auto& [bucket, range] : buckets) {
      if (!range.changed) continue;
      range.changed = false;
      list.push_back(Receipt{bucket, range.first, range.last});
    }
    if (list.empty()) continue;
    // By bucket; a stream's old range (if any) before its new one.
    std::stable_sort(list.begin(), list.end(),
                     [](const Receipt& a, const Receipt& b) { return a.bucket < b.bucket; });
    receipts.emplace_back(pod, std::move(list));
  }
  for (auto& [pod, list] : unsent_) receipts.emplace_back(pod, std::move(list));
  unsent_.clear();
  changed_ = 0;
  return receipts;
}

}  // namespace switchboard::routing
