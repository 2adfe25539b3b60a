// Which Redis Cluster hash slot a key lives in. A cluster client must compute this itself, before
// it sends a command, to pick the node that owns the key; hiredis 0.14 has no cluster support.
// The rule is Redis Cluster's own (CRC16/XMODEM of the key or of its hash tag, mod 16384), so the
// answer must match the server's CLUSTER KEYSLOT byte for byte. Pure functions on bytes: any
// input, including binary keys, is valid.
#pragma once

#include <cstdint>
#include <string_view>

namespace switchboard::routing {

// The number of hash slots in a Redis Cluster. Slots are numbered 0 .. kClusterSlotCount - 1.
inline constexpr uint16_t kClusterSlotCount = 16384;

// CRC16 of `bytes`, in the XMODEM variant (polynomial 0x1021, initial value 0, no reflection,
// no final xor). Crc16Xmodem("123456789") == 0x31C3.
uint16_t Crc16Xmodem(std::string_view bytes);

// The part of `key` that decides its slot: the hash tag when there is one, else the whole key.
// The hash tag is what lies between the first '{' and the first '}' after it, provided that is
// not empty; so "{user1}.a" and "{user1}.b" share a slot, while "{}x" is hashed whole. The result
// points into `key`'s bytes and is valid as long as they are.
std::string_view HashTagOf(std::string_view key);

// The hash slot of `key`, in [0, kClusterSlotCount): Crc16Xmodem(HashTagOf(key)) mod 16384.
uint16_t KeySlot(std::string_view key);

}  // namespace switchboard::routing
