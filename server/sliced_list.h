// The server's open sessions, kept so that its tick can visit a slice of them at a time.
//
// Every session needs a look now and then (keepalive pings, PeerJS alive timeouts), none of them
// often: once a second is plenty. Visiting all of them on each 100 ms tick stalled the loop for a
// millisecond at 10,000 connections and cost a tenth of the CPU (docs/benchmarks.md). So they
// live in a vector, each knowing its own position (removal swaps the last one into the hole),
// and each tick visits the next 1/N of the vector: every session once per N ticks, and no stall
// longer than a slice.
#pragma once

#include <cstddef>
#include <vector>

namespace switchboard::server {

// T must provide `size_t& list_index()`, which the list alone writes. Holds pointers; owns
// nothing.
template <typename T>
class SlicedList {
 public:
  void Add(T* item) {
    item->list_index() = items_.size();
    items_.push_back(item);
  }

  // `item` must be in the list.
  void Remove(T* item) {
    const size_t index = item->list_index();
    items_[index] = items_.back();
    items_[index]->list_index() = index;
    items_.pop_back();
  }

  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

  // Calls `visit(item)` for the next ceil(size / slices) items after where the last call stopped,
  // wrapping around, so that `slices` calls visit every item once. `visit` must not add or
  // remove items.
  template <typename Visit>
  void VisitSlice(size_t slices, Visit visit) {
    if (items_.empty()) return;
    const size_t count = (items_.size() + slices - 1) / slices;
    for (size_t i = 0; i < count; ++i) {
      if (cursor_ >= items_.size()) cursor_ = 0;
      visit(items_[cursor_++]);
    }
  }

 private:
  std::vector<T*> items_;
  size_t cursor_ = 0;
};

}  // namespace switchboard::server
