#include "routing/pod_load.h"

#include <charconv>

namespace switchboard::routing {

std::string EncodePodLoad(const PodLoad& load) {
  return std::to_string(load.connections) + (load.draining ? " 1" : " 0");
}

std::optional<PodLoad> DecodePodLoad(std::string_view pod, std::string_view text) {
  const size_t space = text.find(' ');
  if (pod.empty() || space == std::string_view::npos || space == 0) return std::nullopt;
  const std::string_view count = text.substr(0, space);
  const std::string_view draining = text.substr(space + 1);
  PodLoad load{std::string(pod)};
  const auto [end, ec] =
      std::from_chars(count.data(), count.data() + count.size(), load.connections);
  if (ec != std::errc() || end != count.data() + count.size()) return std::nullopt;
  if (draining != "0" && draining != "1") return std::nullopt;
  load.draining = draining == "1";
  return load;
}

}  // namespace switchboard::routing
