// Which master node serves each of a Redis Cluster's 16384 hash slots, as a cluster client keeps
// it: built from one CLUSTER SLOTS reply, then patched slot by slot as MOVED redirects arrive,
// and rebuilt from a fresh reply when the client refreshes. Pure data: no I/O, no hiredis calls
// beyond reading a reply tree that the caller owns.
//
// The map is compact on purpose (a 16-bit node index per slot, plus the distinct nodes once), so
// that copying or rebuilding it is cheap and a lookup is one array read. A reply from the network
// is not trusted: a malformed one is refused with an error, never half-applied and never a crash.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "routing/cluster_slot.h"

struct redisReply;  // hiredis' reply tree (<hiredis/hiredis.h>); only read here.

namespace switchboard::routing {

// Where a cluster node accepts clients.
struct NodeAddress {
  std::string host;  // an IP address (v4 or v6, without brackets) or a hostname
  int port = 0;      // 1..65535

  bool operator==(const NodeAddress&) const = default;
};

// "host:port", or "[host]:port" when the host contains a ':' (IPv6). For logs and errors.
std::string ToString(const NodeAddress& address);

// True when `host` can be a node's host as cluster replies carry it: 1 to 255 bytes, each
// printable ASCII other than space (so no NUL, no control bytes, nothing a log line or a
// C-string API would mangle).
bool IsPlausibleNodeHost(std::string_view host);

class SlotMap {
 public:
  // An empty map: no slot is covered.
  SlotMap();

  // Builds the map from the reply to CLUSTER SLOTS sent to a node at `fallback_host`. The reply
  // is an array of ranges [start, end, master, replica...], each node being [endpoint, port,
  // id, ...]; only the masters are kept. An endpoint that is nil or "" means "the host you
  // asked" and is replaced by `fallback_host`. An endpoint "?" (a node that announces a
  // hostname it does not have) is unreachable: its slots are left uncovered.
  //
  // Returns nullopt and sets `*error` (when `error` is not null) to a one-line explanation if
  // `reply` is null, an error reply, or not of that shape: wrong element types, too few
  // elements, a slot outside [0, 16383], start > end, a port outside [1, 65535], or two ranges
  // that overlap. Any reply tree hiredis can produce is safe to pass. `reply` stays the
  // caller's; nothing in the result points into it.
  static std::optional<SlotMap> FromClusterSlots(const redisReply* reply,
                                                 std::string_view fallback_host,
                                                 std::string* error);

  // The master serving `slot`, or nullptr when the map does not cover it (or `slot` >= 16384).
  // The pointer is valid until the next call to Assign or the map's destruction.
  const NodeAddress* MasterFor(uint16_t slot) const;

  // The distinct masters that serve at least one slot, in the order they first appeared (in the
  // reply, then through Assign).
  std::vector<NodeAddress> Masters() const;

  // True when every one of the 16384 slots has a master.
  bool Complete() const { return covered_ == kClusterSlotCount; }

  // The number of slots that have a master.
  int CoveredSlots() const { return covered_; }

  // Records that `master` now serves `slot`, as a MOVED redirect says. A node left without any
  // slot is forgotten (it is no longer among Masters()). Does nothing if `slot` >= 16384.
  void Assign(uint16_t slot, NodeAddress master);

 private:
  static constexpr uint16_t kNoNode = 0xFFFF;

  // The index of `address` in nodes_, adding it (with no slots yet) if it is not there.
  uint16_t IndexOf(const NodeAddress& address);
  // Points `slot` at nodes_[node], keeping the counts right and dropping a node left empty.
  void SetSlot(uint16_t slot, uint16_t node);

  std::vector<NodeAddress> nodes_;   // distinct, each serving >= 1 slot between calls
  std::vector<int> slots_per_node_;  // parallel to nodes_
  // kClusterSlotCount entries: an index into nodes_, or kNoNode.
  std::vector<uint16_t> node_of_slot_;
  int covered_ = 0;
};

}  // namespace switchboard::routing
