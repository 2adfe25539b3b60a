// The frames a pod's senders address to a peer while the pod finds out where that peer went.
//
// A pod publishes frames for a remote peer straight to the pod its OwnerCache names. When that
// turns out stale (the pod hands a frame back, or nobody listens on its channel any more, or the
// peer has just registered here), frames sent earlier may still be on their way there, and a
// newer frame sent another way could overtake them. So the pod opens a detour for the peer:
// newer frames wait in it, frames handed back join it, and it ends once every earlier publish has
// been answered by Redis and every pod that handed frames back has answered a fence (it has
// handled everything sent to it before). Then the frames go out again, oldest first, by the
// authoritative path. docs/architecture.md ("Order across a move") walks through it.
//
// Pure bookkeeping: no I/O. The registry sends the fences and routes what TakeReady returns.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "routing/routed_frame.h"
#include "routing/string_map.h"

namespace switchboard::routing {

// A frame of one of this pod's senders, kept to be routed again.
struct HeldFrame {
  std::string sender;
  std::string frame;
  std::string ref;  // the sender's message id, when the sender should hear of this frame alone
  bool queue_if_absent = true;
  // Came back because its publish reached no subscriber (AddUnheard).
  bool unheard = false;
};

class DetourTable {
 public:
  // What TakeReady hands back: a target and its frames, oldest first.
  struct Ready {
    std::string target;
    std::vector<HeldFrame> frames;
  };

  // Opens a detour for `target` unless one is open, and makes it wait for the publish numbered
  // `wait_for` (and all before it) to be answered. It ends at `deadline` whatever it waits for.
  void Open(std::string_view target, uint64_t wait_for, Clock::time_point deadline);

  // True when a detour is open for `target`.
  bool IsOpen(std::string_view target) const { return detours_.contains(target); }
  bool empty() const { return detours_.empty(); }
  size_t size() const { return detours_.size(); }

  // Makes the open detour for `target` wait for `pod`'s answer to a fence. Returns true when it
  // did not wait for that pod yet: the caller then sends the fence.
  bool AwaitFence(std::string_view target, std::string_view pod);

  // `pod` answered the fence for `target`.
  void FenceAnswered(std::string_view target, std::string_view pod);

  // Makes the open detour for `target` wait until LookupsDone(target): the registry uses it when
  // it learns the target's pod while lookups for it are still on their way, so that frames
  // published straight to that pod cannot overtake them.
  void AwaitLookups(std::string_view target);
  void LookupsDone(std::string_view target);

  // Adds a frame that was sent before the detour opened and came back (older than any Hold).
  // The detour must be open.
  void AddReturned(std::string_view target, HeldFrame frame);

  // Adds a frame whose publish reached no subscriber on the pod's channel, as AddReturned. If a
  // newer publish to that pod then does reach a subscriber (the pod subscribed again between the
  // two), this frame cannot be routed again without arriving after the newer one: TakeUnheard
  // hands it back, for its sender to be told.
  void AddUnheard(std::string_view target, HeldFrame frame);

  // Removes and returns the frames of `sender` that AddUnheard added to `target`'s detour,
  // oldest first. (Those of other senders may still go again: order holds per sender.)
  std::vector<HeldFrame> TakeUnheard(std::string_view target, std::string_view sender);

  // Adds a frame routed while the detour is open. The detour must be open.
  void Hold(std::string_view target, HeldFrame frame);

  // Removes and returns the detours that are over: every publish up to `replied` answered and
  // every fence answered, or past their deadline (`expired` is then set to how many).
  std::vector<Ready> TakeReady(uint64_t replied, Clock::time_point now, size_t* expired = nullptr);

 private:
  struct Detour {
    uint64_t wait_for = 0;
    std::vector<std::string> fences;  // pods whose answer is awaited
    bool awaiting_lookups = false;
    std::vector<HeldFrame> returned;  // sent before the detour opened, in the order they came back
    std::vector<HeldFrame> held;      // routed while it is open
    Clock::time_point deadline;
  };

  StringMap<Detour> detours_;
};

}  // namespace switchboard::routing
