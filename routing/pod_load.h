// What each pod tells the others of its load, so that pods added later get their share of the
// connections (server/shed_controller.h). The Redis backend keeps one entry per pod, with a
// deadline, in one hash (key_layout.h); this is the entry's text.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::routing {

struct PodLoad {
  std::string pod;
  size_t connections = 0;  // open and not being closed
  bool draining = false;
};

// "<connections> <draining: 0 or 1>", without the pod's name (the entry's field).
std::string EncodePodLoad(const PodLoad& load);

// The load `pod` published as `text`; nullopt when `text` is not what EncodePodLoad makes (an
// entry written by another version, or damaged), which is then ignored.
std::optional<PodLoad> DecodePodLoad(std::string_view pod, std::string_view text);

}  // namespace switchboard::routing
