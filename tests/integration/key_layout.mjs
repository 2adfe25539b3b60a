// The Redis key names the pods use (routing/key_layout.h), for tests that look into Redis.
// Everything about a peer lives in its bucket, under a hash tag chosen so that bucket n hashes
// into the n-th 64th of the cluster slots; this computes the same names as the C++ code.

export const BUCKETS = 64;
const SLOTS = 16384;

// CRC16/XMODEM, as Redis Cluster hashes keys.
export function crc16(bytes) {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

// The slot of `key` (a string or Buffer), hash tags included, as CLUSTER KEYSLOT answers.
export function keySlot(key) {
  const bytes = Buffer.isBuffer(key) ? key : Buffer.from(key);
  const open = bytes.indexOf('{');
  if (open >= 0) {
    const close = bytes.indexOf('}', open + 1);
    if (close > open + 1) return crc16(bytes.subarray(open + 1, close)) % SLOTS;
  }
  return crc16(bytes) % SLOTS;
}

export function bucketTag(bucket) {
  const first = Math.floor((bucket * SLOTS) / BUCKETS);
  const end = Math.floor(((bucket + 1) * SLOTS) / BUCKETS);
  for (let attempt = 0; ; attempt++) {
    const tag = `${bucket}.${attempt}`;
    const slot = keySlot(tag);
    if (slot >= first && slot < end) return tag;
  }
}

export function bucketOf(peer) {
  return crc16(Buffer.from(peer)) % BUCKETS;
}

// The names of routing/key_layout.h for prefix `p`.
export function redisKeys(p) {
  const tags = Array.from({ length: BUCKETS }, (_, bucket) => bucketTag(bucket));
  const base = (bucket) => `${p}:{${tags[bucket]}}`;
  return {
    buckets: tags.map((_, bucket) => bucket),
    peers: (bucket) => `${base(bucket)}:peers`,
    peersOf: (peer) => `${base(bucketOf(peer))}:peers`,
    podPeers: (bucket, pod) => `${base(bucket)}:pod:${pod}:peers`,
    alive: (bucket, pod) => `${base(bucket)}:alive:${pod}`,
    channel: (bucket, pod) => `${base(bucket)}:pod:${pod}`,
    queue: (peer) => `${base(bucketOf(peer))}:queue:${peer}`,
  };
}
