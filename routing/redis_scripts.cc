#include "routing/redis_scripts.h"

namespace switchboard::routing::scripts {

const std::string_view kRoute = R"lua(
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if now > tonumber(ARGV[10]) then
  return 'L'
end
local owner = redis.call('HGET', KEYS[1], ARGV[2])
if owner and owner ~= ARGV[8] then
  local kind = ARGV[9] == 'drop' and 'd' or 'D'
  local message = kind .. ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[4] .. ' ' .. ARGV[5]
  if redis.call('PUBLISH', ARGV[1] .. ':pod:' .. owner, message) > 0 then
    return 'R' .. owner
  end
end
if owner then
  redis.call('HDEL', KEYS[1], ARGV[2])
  redis.call('HDEL', KEYS[3], ARGV[2])
  redis.call('SREM', ARGV[1] .. ':pod:' .. owner .. ':peers', ARGV[2])
end
if ARGV[9] == 'drop' then
  return 'N'
end
if redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[7]) then
  return 'F'
end
local expire = tonumber(ARGV[6])
redis.call('RPUSH', KEYS[2], (now + expire) .. ' ' .. ARGV[3] .. ' ' .. ARGV[4] .. ' ' .. ARGV[5])
redis.call('PEXPIRE', KEYS[2], expire * 2 + 1000)
return 'Q'
)lua";

const std::string_view kRegister = R"lua(
local owner = redis.call('HGET', KEYS[1], ARGV[2])
local status = 'OK'
if owner and owner ~= ARGV[3] then
  local channel = ARGV[1] .. ':pod:' .. owner
  local alive = redis.call('EXISTS', ARGV[1] .. ':alive:' .. owner) == 1 and
                redis.call('PUBSUB', 'NUMSUB', channel)[2] > 0
  if alive then
    if ARGV[4] == '' or redis.call('HGET', KEYS[2], ARGV[2]) ~= ARGV[4] then
      return {'TAKEN'}
    end
    redis.call('PUBLISH', channel, 'R' .. ARGV[2])
    status = 'TOOK'
  end
  redis.call('SREM', ARGV[1] .. ':pod:' .. owner .. ':peers', ARGV[2])
end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
if ARGV[4] == '' then
  redis.call('HDEL', KEYS[2], ARGV[2])
else
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
end
redis.call('SADD', KEYS[4], ARGV[2])
redis.call('SADD', KEYS[6], ARGV[3])
redis.call('DEL', KEYS[5])
local reply = {}
local handed = redis.call('LRANGE', KEYS[7], 0, -1)
if ARGV[5] ~= '' and handed[1] == ARGV[5] then
  for i = 2, #handed do reply[#reply + 1] = handed[i] end
end
redis.call('DEL', KEYS[7])
for _, entry in ipairs(redis.call('LRANGE', KEYS[3], 0, -1)) do reply[#reply + 1] = entry end
redis.call('DEL', KEYS[3])
if #reply > 0 then
  redis.call('RPUSH', KEYS[7], ARGV[6])
  for _, entry in ipairs(reply) do redis.call('RPUSH', KEYS[7], entry) end
  redis.call('PEXPIRE', KEYS[7], ARGV[7])
end
local marked = redis.call('PUBLISH', ARGV[1] .. ':pod:' .. ARGV[3], 'C' .. ARGV[2] .. ' ' .. ARGV[6])
table.insert(reply, 1, marked)
table.insert(reply, 1, status)
return reply
)lua";

const std::string_view kUnregister = R"lua(
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
end
redis.call('SREM', KEYS[3], ARGV[1])
return 1
)lua";

const std::string_view kRelease = R"lua(
redis.call('SREM', KEYS[3], ARGV[2])
if redis.call('HGET', KEYS[1], ARGV[2]) ~= ARGV[3] then
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('SET', KEYS[4], ARGV[4], 'PX', ARGV[5])
redis.call('PUBLISH', ARGV[1] .. ':pod:' .. ARGV[3], 'X' .. ARGV[2] .. ' ' .. ARGV[4])
return 1
)lua";

const std::string_view kRequeue = R"lua(
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if now > tonumber(ARGV[3]) then
  return 'L'
end
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 'MOVED'
end
redis.call('DEL', KEYS[2])
local expire = tonumber(ARGV[2])
for i = #ARGV, 4, -1 do
  redis.call('LPUSH', KEYS[1], (now + expire) .. ' ' .. ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], expire * 2 + 1000)
return 'Q'
)lua";

const std::string_view kExpire = R"lua(
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if now > tonumber(ARGV[2]) then
  return {'LATE', 0}
end
local entries = redis.call('LRANGE', KEYS[1], 0, -1)
local function sender_of(entry)
  return string.match(entry, '^%d+ %S+ (%S+) ')
end
local first
for _, entry in ipairs(entries) do
  if sender_of(entry) == ARGV[1] then
    first = tonumber(string.match(entry, '^(%d+) '))
    break
  end
end
if not first then
  return {'GONE', 0}
end
if first > now then
  return {'WAIT', first - now}
end
local ttl = redis.call('PTTL', KEYS[1])
local kept = {}
for _, entry in ipairs(entries) do
  if sender_of(entry) ~= ARGV[1] then
    table.insert(kept, entry)
  end
end
redis.call('DEL', KEYS[1])
if #kept > 0 then
  -- unpack() of a long list overflows Lua's stack (about 8,000 values): push in chunks.
  for first = 1, #kept, 1000 do
    redis.call('RPUSH', KEYS[1], unpack(kept, first, math.min(first + 999, #kept)))
  end
  if ttl > 0 then
    redis.call('PEXPIRE', KEYS[1], ttl)
  end
end
return {'EXPIRED', #entries - #kept}
)lua";

const std::string_view kReap = R"lua(
local removed = 0
for _, pod in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if pod ~= ARGV[2] then
    local alive = redis.call('EXISTS', ARGV[1] .. ':alive:' .. pod) == 1 and
                  redis.call('PUBSUB', 'NUMSUB', ARGV[1] .. ':pod:' .. pod)[2] > 0
    if not alive then
      local members = ARGV[1] .. ':pod:' .. pod .. ':peers'
      for _, peer in ipairs(redis.call('SMEMBERS', members)) do
        if redis.call('HGET', KEYS[2], peer) == pod then
          redis.call('HDEL', KEYS[2], peer)
          redis.call('HDEL', KEYS[3], peer)
          removed = removed + 1
        end
      end
      redis.call('DEL', members)
      redis.call('SREM', KEYS[1], pod)
    end
  end
end
return removed
)lua";

const std::string_view kLoads = R"lua(
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], (now + ttl) .. ' ' .. ARGV[2])
local entries = redis.call('HGETALL', KEYS[1])
local live = {}
for i = 1, #entries, 2 do
  local deadline, load = string.match(entries[i + 1], '^(%d+) (.*)$')
  if deadline == nil or tonumber(deadline) < now then
    redis.call('HDEL', KEYS[1], entries[i])
  else
    live[#live + 1] = entries[i]
    live[#live + 1] = load
  end
end
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return live
)lua";

}  // namespace switchboard::routing::scripts
