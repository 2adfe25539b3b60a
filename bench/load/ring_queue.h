// A FIFO of small values in one growable circular buffer.
//
// std::deque allocates and frees a block every few dozen pushes; this queue only allocates when
// it must grow, so a connection's outbound queue costs no allocation in a steady state.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace switchboard::bench {

template <typename T>
class RingQueue {
 public:
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }

  // The oldest value. The queue must not be empty.
  T& front() { return slots_[head_]; }

  void push_back(T value) {
    if (size_ == slots_.size()) Grow();
    slots_[(head_ + size_) % slots_.size()] = std::move(value);
    ++size_;
  }

  // Drops the oldest value. The queue must not be empty.
  void pop_front() {
    head_ = (head_ + 1) % slots_.size();
    --size_;
  }

 private:
  void Grow() {
    std::vector<T> bigger(slots_.empty() ? 16 : slots_.size() * 2);
    for (size_t i = 0; i < size_; ++i) bigger[i] = std::move(slots_[(head_ + i) % slots_.size()]);
    slots_ = std::move(bigger);
    head_ = 0;
  }

  std::vector<T> slots_;
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace switchboard::bench
