// An outgoing frame: the bytes of one WebSocket text message, stored with spare room in front.
//
// libwebsockets writes a frame's header into the LWS_PRE bytes just before the payload, so a
// frame built with that room in place can be handed to the socket with no copy. The protocol
// layer knows nothing of libwebsockets; it only reserves kHeadroom bytes, and the server checks
// at compile time that kHeadroom >= LWS_PRE.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace switchboard::protocol {

class Frame {
 public:
  static constexpr size_t kHeadroom = 16;

  // An empty frame, with room reserved for `expected_size` bytes of body.
  explicit Frame(size_t expected_size = 0);

  // Appends bytes to the body.
  void Append(std::string_view bytes) { buf_.append(bytes); }
  void Append(char c) { buf_.push_back(c); }

  // The body: the bytes that go on the wire.
  std::string_view body() const { return std::string_view(buf_).substr(kHeadroom); }

  // Start of the body, with kHeadroom writable bytes before it.
  char* mutable_body() { return buf_.data() + kHeadroom; }

  size_t size() const { return buf_.size() - kHeadroom; }

 private:
  std::string buf_;
};

}  // namespace switchboard::protocol
