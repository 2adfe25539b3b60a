// protocol::TrackerParser and the frames built from what it accepts (protocol/tracker_protocol.h).
//
// A frame accepted must hold ids of kTrackerIdBytes bytes, at most the limits' offers, and views
// into the frame's own text; every frame the server would send on (the announce reply, each
// offer, the answer, the scrape reply) must be strict JSON, the offers and answers carrying the
// same ids and the client's bytes. A frame refused must get a failure reason that is strict JSON
// too.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/tracker_protocol.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/reference_json.h"

namespace {

using switchboard::fuzz::IsStrictJsonObject;
using switchboard::fuzz::ParseReferenceJson;
using namespace switchboard::protocol;

constexpr TrackerLimits kLimits{.max_offers = 4, .max_scrape = 4};

bool Inside(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

// The bytes a JSON string of one character per byte (decoded to UTF-8) stands for, or a
// string of another length when a character is past U+00FF.
std::string BinaryOf(const std::string& utf8) {
  std::string bytes;
  for (size_t i = 0; i < utf8.size(); ++i) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (c < 0x80) {
      bytes.push_back(static_cast<char>(c));
    } else if ((c == 0xC2 || c == 0xC3) && i + 1 < utf8.size()) {
      bytes.push_back(static_cast<char>(((c & 0x03) << 6) | (utf8[++i] & 0x3F)));
    } else {
      return {};
    }
  }
  return bytes;
}

// An offer or answer frame as the reference client reads it: "action", then `name` holding
// `raw` byte for byte, then offer_id (raw), peer_id and info_hash (binary strings).
void CheckRelayed(const Frame& frame, const TrackerAnnounce& from, std::string_view name,
                  std::string_view raw, std::string_view offer_id) {
  FUZZ_CHECK(IsStrictJsonObject(frame.body()));
  const auto json = ParseReferenceJson(frame.body());
  FUZZ_CHECK(json && json->members.size() == 5);
  const auto& m = json->members;
  FUZZ_CHECK(m[0].name == "action" && m[0].string == "announce");
  FUZZ_CHECK(m[1].name == name && m[1].raw == raw);
  FUZZ_CHECK(m[2].name == "offer_id" && m[2].raw == offer_id);
  FUZZ_CHECK(m[3].name == "peer_id" && BinaryOf(m[3].string) == from.peer_id);
  FUZZ_CHECK(m[4].name == "info_hash" && BinaryOf(m[4].string) == from.info_hash);
}

void CheckAnnounce(std::string_view text, const TrackerAnnounce& a) {
  FUZZ_CHECK(a.info_hash.size() == kTrackerIdBytes && a.peer_id.size() == kTrackerIdBytes);
  FUZZ_CHECK(a.offers.size() <= kLimits.max_offers);
  FUZZ_CHECK(TrackerPeerIdFromRoutingKey(TrackerRoutingKey(a.peer_id)) == a.peer_id);
  FUZZ_CHECK(IsStrictJsonObject(BuildTrackerAnnounceReply(a.info_hash, 1, 2, 120).body()));
  for (const TrackerOffer& offer : a.offers) {
    FUZZ_CHECK(Inside(offer.offer, text) && Inside(offer.offer_id, text));
    CheckRelayed(BuildTrackerOfferFrame(a.info_hash, a.peer_id, offer), a, "offer", offer.offer,
                 offer.offer_id);
  }
  if (a.answer.empty()) {
    FUZZ_CHECK(a.to_peer_id.empty() && a.offer_id.empty());
    return;
  }
  FUZZ_CHECK(a.to_peer_id.size() == kTrackerIdBytes);
  FUZZ_CHECK(Inside(a.answer, text) && Inside(a.offer_id, text));
  CheckRelayed(BuildTrackerAnswerFrame(a.info_hash, a.peer_id, a.offer_id, a.answer), a, "answer",
               a.answer, a.offer_id);
}

void CheckScrape(std::vector<std::string> hashes) {
  FUZZ_CHECK(hashes.size() <= kLimits.max_scrape);
  // The server answers each swarm once: two equal hashes would make a duplicate key.
  std::sort(hashes.begin(), hashes.end());
  hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
  std::vector<TrackerSwarmCounts> counts;
  for (const std::string& hash : hashes) {
    FUZZ_CHECK(hash.size() == kTrackerIdBytes);
    counts.push_back({hash, 1, 2, 3});
  }
  FUZZ_CHECK(IsStrictJsonObject(BuildTrackerScrapeReply(counts, 600).body()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static TrackerParser parser(kLimits);  // reused, as each event loop reuses its parser
  TrackerRequest request;
  const auto failure = parser.Parse(text, &request);
  if (failure) {
    FUZZ_CHECK(!failure->reason.empty());
    FUZZ_CHECK(failure->info_hash.empty() || failure->info_hash.size() == kTrackerIdBytes);
    FUZZ_CHECK(IsStrictJsonObject(BuildTrackerFailure(*failure).body()));
    return 0;
  }
  if (request.action == TrackerAction::kAnnounce) {
    CheckAnnounce(text, request.announce);
  } else {
    CheckScrape(request.scrape_hashes);
  }
  return 0;
}
