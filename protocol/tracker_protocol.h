// The WebTorrent tracker dialect: what bittorrent-tracker's WebSocket client (11.x, the one
// WebTorrent and p2p-media-loader use) sends and expects, as bittorrent-tracker's server speaks
// it. docs/tracker.md describes it.
//
// A tracker's ids are binary: info_hash (the swarm), peer_id and, by the reference client's
// choice, offer_id are 20 bytes each, sent as JSON strings of 20 characters U+0000 to U+00FF,
// one per byte (so bytes >= 0x80 arrive as two-byte UTF-8). Here they are held as their bytes.
// Offers and answers (SDP objects) are never read: their bytes are spliced into the frames the
// server sends on, as the other dialects do with payloads.
//
// Tracker peer ids live in their own namespace inside routing (TrackerRoutingKey), so that a
// native or PeerJS peer can never be addressed as one. Every function here is pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/frame.h"
#include "protocol/json_document.h"

namespace switchboard::protocol {

// Bytes in an info_hash or a peer_id.
constexpr size_t kTrackerIdBytes = 20;

// The routing key of a tracker peer id (kTrackerIdBytes bytes): "^" and its bytes in lowercase
// hex. No native or PeerJS key starts with "^", and hex has no space (cross-pod messages are
// space-separated).
std::string TrackerRoutingKey(std::string_view peer_id);

// The peer id (bytes) of a key made by TrackerRoutingKey; nullopt for any other key.
std::optional<std::string> TrackerPeerIdFromRoutingKey(std::string_view key);

// Lowercase hex of `bytes` (a swarm's name in the registry is its info_hash in hex).
std::string TrackerHex(std::string_view bytes);

enum class TrackerAction { kAnnounce, kScrape };

// What an announce says of the peer's presence in the swarm. No event, "" and "update" are
// kUpdate; "paused" counts as kUpdate too (the peer stays, and is still offered to others).
enum class TrackerEvent { kUpdate, kStarted, kStopped, kCompleted };

// One offer of an announce, as raw JSON: offer_id a string, offer an object.
struct TrackerOffer {
  std::string_view offer_id;
  std::string_view offer;
};

struct TrackerAnnounce {
  std::string info_hash;  // kTrackerIdBytes bytes
  std::string peer_id;    // kTrackerIdBytes bytes
  TrackerEvent event = TrackerEvent::kUpdate;
  // `left` was 0: the peer has everything (a seeder, counted as complete).
  bool complete = false;
  // The client's numwant, when it sent a number >= 0 (capped at UINT32_MAX).
  std::optional<uint32_t> numwant;
  std::vector<TrackerOffer> offers;
  // An answer to an offer `to_peer_id` made: then `answer` (raw JSON object) and `offer_id`
  // (raw JSON string) are set; otherwise all three are empty.
  std::string to_peer_id;
  std::string_view answer;
  std::string_view offer_id;
};

struct TrackerRequest {
  TrackerAction action = TrackerAction::kAnnounce;
  TrackerAnnounce announce;                // for kAnnounce
  std::vector<std::string> scrape_hashes;  // for kScrape: the info_hashes asked for (bytes)
};

// Why a frame was refused: the text of its "failure reason", and what of the request was
// understood, for the reply to name (buildTrackerFailure).
struct TrackerFailure {
  std::string_view reason;
  std::optional<TrackerAction> action;
  std::string info_hash;  // bytes; empty when unknown
};

// Bounds on what one frame may ask for.
struct TrackerLimits {
  size_t max_offers = 10;  // offers in one announce
  size_t max_scrape = 20;  // info_hashes in one scrape
};

// Parses tracker client frames. Keeps its JSON documents between calls. Not thread-safe.
class TrackerParser {
 public:
  explicit TrackerParser(TrackerLimits limits = {}) : limits_(limits) {}

  // Parses one frame into `out`. Returns nullopt when it is a request the server acts on, or the
  // failure to answer it with. Views in `out` (offers, answer, offer_id) point into `text` and
  // stay valid as long as it does. Never throws.
  std::optional<TrackerFailure> Parse(std::string_view text, TrackerRequest* out);

 private:
  std::optional<TrackerFailure> ParseAnnounce(TrackerAnnounce* out);
  std::optional<TrackerFailure> ParseOffers(const JsonMember& offers, TrackerAnnounce* out);
  std::optional<TrackerFailure> ParseScrape(std::vector<std::string>* out);

  TrackerLimits limits_;
  JsonDocument document_;
  JsonDocument element_;  // each offer, parsed on its own
  std::vector<std::string_view> elements_;
};

// {"action":"announce","interval":<seconds>,"info_hash":..,"complete":..,"incomplete":..}: the
// reply to an announce (not to an answer).
Frame BuildTrackerAnnounceReply(std::string_view info_hash, uint64_t complete, uint64_t incomplete,
                                uint32_t interval_seconds);

// {"action":"announce","offer":<offer>,"offer_id":<offer_id>,"peer_id":..,"info_hash":..}: an
// offer of `peer_id`, forwarded to another peer of the swarm. `offer` and `offer_id` are the raw
// JSON of TrackerOffer.
Frame BuildTrackerOfferFrame(std::string_view info_hash, std::string_view peer_id,
                             const TrackerOffer& offer);

// {"action":"announce","answer":<answer>,"offer_id":<offer_id>,"peer_id":..,"info_hash":..}: the
// answer of `peer_id` (the answerer), routed to the peer that made the offer. Raw JSON as in
// TrackerAnnounce.
Frame BuildTrackerAnswerFrame(std::string_view info_hash, std::string_view peer_id,
                              std::string_view offer_id, std::string_view answer);

// One swarm's counts, for a scrape.
struct TrackerSwarmCounts {
  std::string info_hash;  // bytes
  uint64_t complete = 0;
  uint64_t incomplete = 0;
  uint64_t downloaded = 0;
};

// {"action":"scrape","files":{<info_hash>:{"complete":..,"incomplete":..,"downloaded":..},...},
//  "flags":{"min_request_interval":<seconds>}}.
Frame BuildTrackerScrapeReply(const std::vector<TrackerSwarmCounts>& swarms,
                              uint32_t min_request_interval_seconds);

// {"failure reason":"<reason>"}, with "action" and "info_hash" when `failure` has them (the
// reference client ignores a frame whose info_hash is not one of its swarms').
Frame BuildTrackerFailure(const TrackerFailure& failure);

// Appends `bytes` as a JSON string of one character per byte (U+0000 to U+00FF), as the
// reference client writes binary ids.
void AppendTrackerBinaryString(Frame& frame, std::string_view bytes);

}  // namespace switchboard::protocol
