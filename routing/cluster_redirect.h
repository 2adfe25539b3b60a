// What a Redis Cluster client does with an error reply. A node that does not serve a key's slot
// answers -MOVED (the slot lives elsewhere now), -ASK (it is being migrated: ask the other node
// this once), -TRYAGAIN (a multi-key command hit a slot in mid-migration) or -CLUSTERDOWN (the
// cluster cannot serve it for now). Everything else is the command's own answer.
//
// Two pure layers, so that each is testable on its own and total on any bytes (these texts come
// off the network): ParseClusterRedirect reads the text, DecideRedirect turns it, plus how many
// follow-ups the command has had, into one action with a bound, so that no command can bounce
// between nodes forever.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "routing/slot_map.h"

namespace switchboard::routing {

enum class RedirectKind {
  kNone,         // not a cluster redirect or cluster error
  kMoved,        // "MOVED <slot> <endpoint>:<port>"
  kAsk,          // "ASK <slot> <endpoint>:<port>"
  kTryAgain,     // "TRYAGAIN ..."
  kClusterDown,  // "CLUSTERDOWN ..."
};

struct ClusterRedirect {
  RedirectKind kind = RedirectKind::kNone;
  uint16_t slot = 0;   // kMoved, kAsk: the key's slot, in [0, 16383]
  NodeAddress target;  // kMoved, kAsk: where to go. An empty host means "the host that sent
                       // this reply" (Redis 7's unknown endpoint, "MOVED 1 :7000").
};

// Reads the text of an error reply (hiredis' reply->str, without the leading '-').
//
// Returns kMoved or kAsk with slot and target when the text is "MOVED"/"ASK", one space, a slot
// number, one space and an endpoint "host:port". The port is what follows the last ':', so an
// IPv6 address may be bare ("::1:7000") or in brackets ("[::1]:7000"); the host is returned
// without brackets. Returns kTryAgain or kClusterDown when the text is that word, alone or
// followed by a space and anything. Returns kNone for any other text (words are case-sensitive,
// as Redis sends them).
//
// Returns nullopt when the text starts with the word MOVED or ASK but is not of that shape:
// missing or extra parts, a slot above 16383, a port outside 1..65535, a host that is not
// printable ASCII. Such a reply is neither an answer nor a usable redirect.
std::optional<ClusterRedirect> ParseClusterRedirect(std::string_view error_text);

// How hard a command tries before it fails.
struct RedirectPolicy {
  // Follow-ups (redirects and retries together) a command may make; the next one fails.
  int max_follow_ups = 5;
  // The delay before the first retry on TRYAGAIN or CLUSTERDOWN; it doubles with each
  // follow-up the command has already made, up to max_retry_delay.
  std::chrono::milliseconds first_retry_delay{50};
  std::chrono::milliseconds max_retry_delay{1000};
};

enum class RedirectAction {
  kDeliver,      // not a cluster error: the reply is the command's outcome, for its caller
  kFollowMoved,  // resend the command to `target`; Assign(slot, target) in the slot map and
                 // refresh the whole map soon, since a MOVED usually means more moved
  kFollowAsk,    // send ASKING, then the command, to `target` on the same connection; leave the
                 // slot map as it is (the migration is not over)
  kRetry,        // resend the command after `delay`, to the node the slot map names then
  kFail,         // give up on the command: `reason` says why
};

struct RedirectDecision {
  RedirectAction action = RedirectAction::kDeliver;
  uint16_t slot = 0;                   // kFollowMoved, kFollowAsk
  NodeAddress target;                  // kFollowMoved, kFollowAsk; never an empty host
  bool refresh_slot_map = false;       // kFollowMoved, and kRetry after CLUSTERDOWN
  bool send_asking = false;            // kFollowAsk
  std::chrono::milliseconds delay{0};  // kRetry
  std::string reason;                  // kFail: a one-line explanation
};

// Decides what to do with the error reply `error_text`, which the node at `asked_host` sent to
// a command that has already made `follow_ups` redirects and retries (0 on its first reply).
// An empty host in a redirect is replaced by `asked_host`. MOVED and ASK are followed, and
// TRYAGAIN and CLUSTERDOWN retried, while follow_ups < policy.max_follow_ups; beyond that, and
// for a malformed MOVED or ASK, the decision is kFail. Any other text is kDeliver.
RedirectDecision DecideRedirect(std::string_view error_text, std::string_view asked_host,
                                int follow_ups, const RedirectPolicy& policy = {});

}  // namespace switchboard::routing
