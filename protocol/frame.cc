#include "protocol/frame.h"

namespace switchboard::protocol {

Frame::Frame(size_t expected_size) {
  buf_.reserve(kHeadroom + expected_size);
  buf_.append(kHeadroom, '\0');
}

}  // namespace switchboard::protocol
