#include "routing/detour_table.h"

#include <algorithm>

namespace switchboard::routing {

void DetourTable::Open(std::string_view target, uint64_t wait_for, Clock::time_point deadline) {
  auto it = detours_.find(target);
  if (it == detours_.end()) {
    it = detours_.emplace(std::string(target), Detour{}).first;
    it->second.deadline = deadline;
  }
  it->second.wait_for = std::max(it->second.wait_for, wait_for);
}

bool DetourTable::AwaitFence(std::string_view target, std::string_view pod) {
  auto it = detours_.find(target);
  if (it == detours_.end()) return false;
  std::vector<std::string>& fences = it->second.fences;
  if (std::find(fences.begin(), fences.end(), pod) != fences.end()) return false;
  fences.emplace_back(pod);
  return true;
}

void DetourTable::FenceAnswered(std::string_view target, std::string_view pod) {
  auto it = detours_.find(target);
  if (it == detours_.end()) return;
  std::vector<std::string>& fences = it->second.fences;
  fences.erase(std::remove(fences.begin(), fences.end(), pod), fences.end());
}

void DetourTable::AwaitLookups(std::string_view target) {
  auto it = detours_.find(target);
  if (it != detours_.end()) it->second.awaiting_lookups = true;
}

void DetourTable::LookupsDone(std::string_view target) {
  auto it = detours_.find(target);
  if (it != detours_.end()) it->second.awaiting_lookups = false;
}

void DetourTable::AddReturned(std::string_view target, HeldFrame frame) {
  auto it = detours_.find(target);
  if (it != detours_.end()) it->second.returned.push_back(std::move(frame));
}

void DetourTable::AddUnheard(std::string_view target, HeldFrame frame) {
  frame.unheard = true;
  AddReturned(target, std::move(frame));
}

std::vector<HeldFrame> DetourTable::TakeUnheard(std::string_view target, std::string_view sender) {
  std::vector<HeldFrame> unheard;
  auto it = detours_.find(target);
  if (it == detours_.end()) return unheard;
  std::vector<HeldFrame>& returned = it->second.returned;
  auto overheard = [sender](const HeldFrame& frame) {
    return frame.unheard && frame.sender == sender;
  };
  for (HeldFrame& frame : returned) {
    if (overheard(frame)) unheard.push_back(frame);
  }
  std::erase_if(returned, overheard);
  return unheard;
}

void DetourTable::Hold(std::string_view target, HeldFrame frame) {
  auto it = detours_.find(target);
  if (it != detours_.end()) it->second.held.push_back(std::move(frame));
}

std::vector<DetourTable::Ready> DetourTable::TakeReady(uint64_t replied, Clock::time_point now,
                                                       size_t* expired) {
  std::vector<Ready> ready;
  if (expired != nullptr) *expired = 0;
  for (auto it = detours_.begin(); it != detours_.end();) {
    Detour& detour = it->second;
    const bool answered =
        replied >= detour.wait_for && detour.fences.empty() && !detour.awaiting_lookups;
    if (!answered && now < detour.deadline) {
      ++it;
      continue;
    }
    if (!answered && expired != nullptr) ++*expired;
    Ready done{it->first, std::move(detour.returned)};
    done.frames.insert(done.frames.end(), std::make_move_iterator(detour.held.begin()),
                       std::make_move_iterator(detour.held.end()));
    ready.push_back(std::move(done));
    it = detours_.erase(it);
  }
  return ready;
}

}  // namespace switchboard::routing
