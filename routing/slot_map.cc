#include "routing/slot_map.h"

#include <hiredis/hiredis.h>

#include <map>
#include <utility>

namespace switchboard::routing {
namespace {

const char* TypeName(int type) {
  switch (type) {
    case REDIS_REPLY_STRING:
      return "string";
    case REDIS_REPLY_ARRAY:
      return "array";
    case REDIS_REPLY_INTEGER:
      return "integer";
    case REDIS_REPLY_NIL:
      return "nil";
    case REDIS_REPLY_STATUS:
      return "status";
    case REDIS_REPLY_ERROR:
      return "error";
  }
  return "reply of unknown type";
}

// element[index] of an array reply, or nullptr when there is no such element.
const redisReply* Child(const redisReply* array, size_t index) {
  if (array->element == nullptr || index >= array->elements) return nullptr;
  return array->element[index];
}

bool Fail(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
  return false;
}

// Reads a slot number; `what` names it in the error.
bool ReadSlot(const redisReply* reply, const std::string& what, uint16_t* slot,
              std::string* error) {
  if (reply == nullptr) return Fail(error, what + " is missing");
  if (reply->type != REDIS_REPLY_INTEGER) {
    return Fail(error, what + " is a " + TypeName(reply->type) + ", not an integer");
  }
  if (reply->integer < 0 || reply->integer >= kClusterSlotCount) {
    return Fail(error, what + " " + std::to_string(reply->integer) + " is outside 0..16383");
  }
  *slot = static_cast<uint16_t>(reply->integer);
  return true;
}

// A node as CLUSTER SLOTS describes it. `reachable` is false for the endpoint "?".
struct ParsedNode {
  NodeAddress address;
  bool reachable = true;
};

// Reads [endpoint, port, id, ...]; `what` names the node in errors.
bool ReadNode(const redisReply* reply, const std::string& what, std::string_view fallback_host,
              ParsedNode* node, std::string* error) {
  if (reply == nullptr) return Fail(error, what + " is missing");
  if (reply->type != REDIS_REPLY_ARRAY) {
    return Fail(error, what + " is a " + TypeName(reply->type) + ", not an array");
  }
  const redisReply* endpoint = Child(reply, 0);
  const redisReply* port = Child(reply, 1);
  if (endpoint == nullptr || port == nullptr) {
    return Fail(error, what + " has " + std::to_string(reply->elements) +
                           " elements, not at least 2 (endpoint, port)");
  }
  if (endpoint->type == REDIS_REPLY_NIL) {
    node->address.host = std::string(fallback_host);
  } else if (endpoint->type == REDIS_REPLY_STRING) {
    const std::string_view text = endpoint->str == nullptr
                                      ? std::string_view()
                                      : std::string_view(endpoint->str, endpoint->len);
    if (text.empty()) {
      node->address.host = std::string(fallback_host);
    } else if (text == "?") {
      node->reachable = false;
    } else if (!IsPlausibleNodeHost(text)) {
      return Fail(error, what + " has an endpoint that is not a host name or address");
    } else {
      node->address.host = std::string(text);
    }
  } else {
    return Fail(error,
                what + "'s endpoint is a " + TypeName(endpoint->type) + ", not a string or nil");
  }
  if (port->type != REDIS_REPLY_INTEGER) {
    return Fail(error, what + "'s port is a " + TypeName(port->type) + ", not an integer");
  }
  if (port->integer < 1 || port->integer > 65535) {
    return Fail(error, what + "'s port " + std::to_string(port->integer) + " is outside 1..65535");
  }
  node->address.port = static_cast<int>(port->integer);
  return true;
}

}  // namespace

std::string ToString(const NodeAddress& address) {
  const bool bracket = address.host.find(':') != std::string::npos;
  return (bracket ? "[" + address.host + "]" : address.host) + ":" + std::to_string(address.port);
}

bool IsPlausibleNodeHost(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  for (const char c : host) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= ' ' || byte > '~') return false;
  }
  return true;
}

SlotMap::SlotMap() : node_of_slot_(kClusterSlotCount, kNoNode) {}

std::optional<SlotMap> SlotMap::FromClusterSlots(const redisReply* reply,
                                                 std::string_view fallback_host,
                                                 std::string* error) {
  if (reply == nullptr) {
    Fail(error, "CLUSTER SLOTS: no reply");
    return std::nullopt;
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    Fail(error, "CLUSTER SLOTS failed: " +
                    (reply->str == nullptr ? std::string() : std::string(reply->str, reply->len)));
    return std::nullopt;
  }
  if (reply->type != REDIS_REPLY_ARRAY) {
    Fail(error,
         std::string("CLUSTER SLOTS reply is a ") + TypeName(reply->type) + ", not an array");
    return std::nullopt;
  }
  if (!IsPlausibleNodeHost(fallback_host)) {
    Fail(error, "CLUSTER SLOTS: the host it was asked at is not a host name or address");
    return std::nullopt;
  }

  SlotMap map;
  std::vector<bool> seen(kClusterSlotCount, false);
  std::map<std::pair<std::string, int>, uint16_t> index;  // nodes_ lookup while building
  for (size_t i = 0; i < reply->elements; ++i) {
    const std::string what = "CLUSTER SLOTS entry " + std::to_string(i);
    const redisReply* range = Child(reply, i);
    if (range == nullptr) {
      Fail(error, what + " is missing");
      return std::nullopt;
    }
    if (range->type != REDIS_REPLY_ARRAY) {
      Fail(error, what + " is a " + TypeName(range->type) + ", not an array");
      return std::nullopt;
    }
    if (range->elements < 3) {
      Fail(error, what + " has " + std::to_string(range->elements) +
                      " elements, not at least 3 (start, end, master)");
      return std::nullopt;
    }
    uint16_t start = 0;
    uint16_t end = 0;
    if (!ReadSlot(Child(range, 0), what + ": start slot", &start, error) ||
        !ReadSlot(Child(range, 1), what + ": end slot", &end, error)) {
      return std::nullopt;
    }
    if (start > end) {
      Fail(error, what + ": start slot " + std::to_string(start) + " is after end slot " +
                      std::to_string(end));
      return std::nullopt;
    }
    ParsedNode master;
    if (!ReadNode(Child(range, 2), what + ": master", fallback_host, &master, error)) {
      return std::nullopt;
    }
    for (size_t r = 3; r < range->elements; ++r) {
      ParsedNode replica;
      if (!ReadNode(Child(range, r), what + ": replica " + std::to_string(r - 3), fallback_host,
                    &replica, error)) {
        return std::nullopt;
      }
    }
    for (unsigned slot = start; slot <= end; ++slot) {
      if (seen[slot]) {
        Fail(error, what + ": slots " + std::to_string(start) + "-" + std::to_string(end) +
                        " overlap an earlier range at slot " + std::to_string(slot));
        return std::nullopt;
      }
      seen[slot] = true;
    }
    if (!master.reachable) continue;
    const auto [it, added] =
        index.try_emplace(std::make_pair(master.address.host, master.address.port),
                          static_cast<uint16_t>(map.nodes_.size()));
    if (added) {
      map.nodes_.push_back(std::move(master.address));
      map.slots_per_node_.push_back(0);
    }
    for (unsigned slot = start; slot <= end; ++slot) map.node_of_slot_[slot] = it->second;
    map.slots_per_node_[it->second] += end - start + 1;
    map.covered_ += end - start + 1;
  }
  return map;
}

const NodeAddress* SlotMap::MasterFor(uint16_t slot) const {
  if (slot >= kClusterSlotCount) return nullptr;
  const uint16_t node = node_of_slot_[slot];
  return node == kNoNode ? nullptr : &nodes_[node];
}

std::vector<NodeAddress> SlotMap::Masters() const { return nodes_; }

void SlotMap::Assign(uint16_t slot, NodeAddress master) {
  if (slot >= kClusterSlotCount) return;
  SetSlot(slot, IndexOf(master));
}

uint16_t SlotMap::IndexOf(const NodeAddress& address) {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i] == address) return static_cast<uint16_t>(i);
  }
  nodes_.push_back(address);
  slots_per_node_.push_back(0);
  return static_cast<uint16_t>(nodes_.size() - 1);
}

void SlotMap::SetSlot(uint16_t slot, uint16_t node) {
  const uint16_t old = node_of_slot_[slot];
  if (old == node) return;
  node_of_slot_[slot] = node;
  ++slots_per_node_[node];
  if (old == kNoNode) {
    ++covered_;
    return;
  }
  if (--slots_per_node_[old] > 0) return;
  // `old` serves nothing now: forget it, and renumber the nodes after it.
  nodes_.erase(nodes_.begin() + old);
  slots_per_node_.erase(slots_per_node_.begin() + old);
  for (uint16_t& entry : node_of_slot_) {
    if (entry != kNoNode && entry > old) --entry;
  }
}

}  // namespace switchboard::routing
