#include "routing/redis_swarm_scripts.h"

namespace switchboard::routing::scripts {

// The common prologue: `now` by Redis' clock, and lapsed members dropped, a bounded batch.
#define SWARM_PROLOGUE                                                                  \
  "local time = redis.call('TIME')\n"                                                   \
  "local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)\n"       \
  "local lapsed = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 100)\n" \
  "if #lapsed > 0 then\n"                                                               \
  "  redis.call('ZREM', KEYS[1], unpack(lapsed))\n"                                     \
  "  redis.call('SREM', KEYS[2], unpack(lapsed))\n"                                     \
  "end\n"

const std::string_view kSwarmAnnounce = SWARM_PROLOGUE R"lua(
local member = ARGV[1]
local ttl = tonumber(ARGV[5])
local known = redis.call('ZSCORE', KEYS[1], member)
local function counts(status, picked)
  local complete = redis.call('SCARD', KEYS[2])
  local total = redis.call('ZCARD', KEYS[1])
  local downloaded = tonumber(redis.call('GET', KEYS[3]) or '0')
  return {status, complete, total - complete, downloaded, unpack(picked)}
end
if not known and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[6]) then
  return counts('FULL', {})
end
local was_complete = known and redis.call('SISMEMBER', KEYS[2], member) == 1
redis.call('ZADD', KEYS[1], now + ttl, member)
if ARGV[2] == '1' then
  redis.call('SADD', KEYS[2], member)
else
  redis.call('SREM', KEYS[2], member)
end
if ARGV[3] == '1' and not was_complete then redis.call('INCR', KEYS[3]) end
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ttl) end
local wanted = tonumber(ARGV[4])
local picked = {}
if wanted > 0 then
  for _, other in ipairs(redis.call('ZRANDMEMBER', KEYS[1], wanted + 1)) do
    if other ~= member and #picked < wanted then picked[#picked + 1] = other end
  end
end
return counts('OK', picked)
)lua";

const std::string_view kSwarmLeave = R"lua(
redis.call('SREM', KEYS[2], ARGV[1])
return redis.call('ZREM', KEYS[1], ARGV[1])
)lua";

const std::string_view kSwarmCounts = SWARM_PROLOGUE R"lua(
local complete = redis.call('SCARD', KEYS[2])
local total = redis.call('ZCARD', KEYS[1])
return {complete, total - complete, tonumber(redis.call('GET', KEYS[3]) or '0')}
)lua";

#undef SWARM_PROLOGUE

}  // namespace switchboard::routing::scripts
