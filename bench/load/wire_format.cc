#include "bench/load/wire_format.h"

#include <charconv>
#include <cstring>

namespace switchboard::bench {

namespace {

std::string_view KindName(Dialect dialect, MessageKind kind) {
  const bool upper = dialect == Dialect::kPeerJs;
  switch (kind) {
    case MessageKind::kOffer:
      return upper ? "OFFER" : "offer";
    case MessageKind::kAnswer:
      return upper ? "ANSWER" : "answer";
    case MessageKind::kCandidate:
      return upper ? "CANDIDATE" : "candidate";
  }
  return "offer";
}

// Appends to a fixed buffer; remembers whether anything did not fit.
class Writer {
 public:
  Writer(char* out, size_t capacity) : out_(out), capacity_(capacity) {}
  void Put(std::string_view bytes) {
    if (!Fits(bytes.size())) return;
    std::memcpy(out_ + size_, bytes.data(), bytes.size());
    size_ += bytes.size();
  }
  void PutNumber(uint64_t value) {
    char digits[24];
    const auto result = std::to_chars(digits, digits + sizeof(digits), value);
    Put(std::string_view(digits, static_cast<size_t>(result.ptr - digits)));
  }
  void PutFiller(size_t count) {
    if (!Fits(count)) return;
    std::memset(out_ + size_, 'x', count);
    size_ += count;
  }
  size_t size() const { return overflow_ ? 0 : size_; }

 private:
  bool Fits(size_t count) {
    overflow_ = overflow_ || size_ + count > capacity_;
    return !overflow_;
  }
  char* out_;
  size_t capacity_;
  size_t size_ = 0;
  bool overflow_ = false;
};

// The frame around the filler: envelope, stamp, then the filler's closing quote and braces.
// Native and raw: {"type":"offer","to":"B","payload":{"t":1,"s":2,"d":"xx"}}
// PeerJS:         {"type":"OFFER","dst":"B","payload":{"t":1,"s":2,"d":"xx"}}
void WriteHead(Dialect dialect, MessageKind kind, std::string_view to, uint64_t sent_ns,
               uint64_t seq, Writer* writer) {
  writer->Put(R"({"type":")");
  writer->Put(KindName(dialect, kind));
  writer->Put(dialect == Dialect::kPeerJs ? R"(","dst":")" : R"(","to":")");
  writer->Put(to);
  writer->Put(R"(","payload":{"t":)");
  writer->PutNumber(sent_ns);
  writer->Put(R"(,"s":)");
  writer->PutNumber(seq);
  writer->Put(R"(,"d":")");
}

constexpr std::string_view kTail = R"("}})";

// Reads the unsigned number that follows `key` in `text`; nullopt when absent or malformed.
std::optional<uint64_t> NumberAfter(std::string_view text, std::string_view key) {
  const size_t at = text.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  const char* begin = text.data() + at + key.size();
  uint64_t value = 0;
  const auto result = std::from_chars(begin, text.data() + text.size(), value);
  if (result.ec != std::errc() || result.ptr == begin) return std::nullopt;
  return value;
}

std::optional<MessageKind> RelayedKind(std::string_view type) {
  if (type == "offer" || type == "OFFER") return MessageKind::kOffer;
  if (type == "answer" || type == "ANSWER") return MessageKind::kAnswer;
  if (type == "candidate" || type == "CANDIDATE") return MessageKind::kCandidate;
  return std::nullopt;
}

}  // namespace

std::optional<Dialect> ParseDialect(std::string_view name) {
  if (name == "native") return Dialect::kNative;
  if (name == "peerjs") return Dialect::kPeerJs;
  if (name == "raw") return Dialect::kRaw;
  return std::nullopt;
}

std::string_view DialectName(Dialect dialect) {
  switch (dialect) {
    case Dialect::kNative:
      return "native";
    case Dialect::kPeerJs:
      return "peerjs";
    case Dialect::kRaw:
      return "raw";
  }
  return "native";
}

std::string HandshakePath(Dialect dialect, const PeerJsMount& mount, std::string_view peer,
                          std::string_view pair) {
  std::string path;
  switch (dialect) {
    case Dialect::kNative:
      path.append("/ws?peer=").append(peer);
      break;
    case Dialect::kPeerJs:
      path.append(mount.path).append("peerjs?key=").append(mount.key);
      path.append("&id=").append(peer).append("&token=t").append(peer);
      break;
    case Dialect::kRaw:
      path.append("/relay?pair=").append(pair);
      break;
  }
  return path;
}

size_t MinimumRelayFrameBytes(Dialect dialect, size_t to_length) {
  // The longest kind name, the largest stamp and sequence, and no filler.
  const std::string to(to_length, 'p');
  char buffer[512];
  Writer writer(buffer, sizeof(buffer));
  WriteHead(dialect, MessageKind::kCandidate, to, UINT64_MAX, UINT64_MAX, &writer);
  writer.Put(kTail);
  return writer.size();
}

size_t EncodeRelay(Dialect dialect, MessageKind kind, std::string_view to, uint64_t sent_ns,
                   uint64_t seq, size_t frame_bytes, char* out, size_t capacity) {
  Writer writer(out, capacity);
  WriteHead(dialect, kind, to, sent_ns, seq, &writer);
  const size_t used = writer.size() + kTail.size();
  if (frame_bytes > used) writer.PutFiller(frame_bytes - used);
  writer.Put(kTail);
  return writer.size();
}

std::string_view HeartbeatFrame(Dialect dialect) {
  switch (dialect) {
    case Dialect::kNative:
      return R"({"type":"ping"})";
    case Dialect::kPeerJs:
      return R"({"type":"HEARTBEAT"})";
    case Dialect::kRaw:
      return {};
  }
  return {};
}

Incoming DecodeFrameHead(std::string_view head) {
  Incoming incoming;
  constexpr std::string_view kTypeKey = R"("type":")";
  const size_t type_at = head.find(kTypeKey);
  if (type_at == std::string_view::npos) return incoming;
  const size_t type_begin = type_at + kTypeKey.size();
  const size_t type_end = head.find('"', type_begin);
  if (type_end == std::string_view::npos) return incoming;
  const std::string_view type = head.substr(type_begin, type_end - type_begin);

  if (const auto kind = RelayedKind(type)) {
    const auto sent_ns = NumberAfter(head, R"("payload":{"t":)");
    const auto seq = NumberAfter(head, R"(,"s":)");
    if (!sent_ns || !seq) return incoming;
    incoming.event = Incoming::Event::kRelayed;
    incoming.kind = *kind;
    incoming.sent_ns = *sent_ns;
    incoming.seq = *seq;
  } else if (type == "welcome" || type == "OPEN") {
    incoming.event = Incoming::Event::kRegistered;
  } else if (type == "error" || type == "ERROR" || type == "EXPIRE" || type == "ID-TAKEN") {
    incoming.event = Incoming::Event::kErrorNotice;
  } else if (type == "pong") {
    incoming.event = Incoming::Event::kPong;
  }
  return incoming;
}

}  // namespace switchboard::bench
