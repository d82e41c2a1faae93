"""Lua scripts of ``ConversationStore``: each multi-key change runs atomically in Redis.

Keys follow the old service's layout (``user:{u}:conversations``, ``conversation:{id}:meta``,
``conversation:{id}:messages``). The scripts derive per-conversation keys from ids, which a
standalone Redis allows (a Redis Cluster would not; the old layout never fit one anyway).
"""

# KEYS: meta, user list. ARGV: id, user id, now, conversation TTL, user-list TTL, max per user.
# Returns -1 when the id exists already (same user, same millisecond), else the number of
# conversations dropped from the user's list, whose keys are deleted with them.
CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
redis.call('HSET', KEYS[1], 'conversation_id', ARGV[1], 'user_id', ARGV[2],
           'created_at', ARGV[3], 'updated_at', ARGV[3], 'message_count', '0')
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('LPUSH', KEYS[2], ARGV[1])
local max = tonumber(ARGV[6])
local kept = {}
for _, id in ipairs(redis.call('LRANGE', KEYS[2], 0, max - 1)) do kept[id] = true end
local dropped = 0
for _, id in ipairs(redis.call('LRANGE', KEYS[2], max, -1)) do
  if not kept[id] then
    redis.call('DEL', 'conversation:' .. id .. ':meta', 'conversation:' .. id .. ':messages')
    dropped = dropped + 1
  end
end
redis.call('LTRIM', KEYS[2], 0, max - 1)
redis.call('EXPIRE', KEYS[2], ARGV[5])
return dropped
"""

# KEYS: messages, meta, user list. ARGV: message JSON, max length, now, conversation TTL,
# user-list TTL. Returns the stored message count, or -1 when the conversation has no meta
# (deleted or expired): the message is then not stored, so no partial meta is resurrected.
SAVE_MESSAGE = """
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
local count = redis.call('LLEN', KEYS[1])
redis.call('HSET', KEYS[2], 'updated_at', ARGV[3], 'message_count', tostring(count))
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('EXPIRE', KEYS[3], ARGV[5])
return count
"""

# KEYS: meta, messages. ARGV: id, user id taken from the id's prefix.
# Returns {existed 0/1, meta user id or '', messages deleted}.
DELETE_CONVERSATION = """
local existed = redis.call('EXISTS', KEYS[1])
local owner = redis.call('HGET', KEYS[1], 'user_id') or ''
local messages = redis.call('LLEN', KEYS[2])
redis.call('DEL', KEYS[1], KEYS[2])
for _, user in ipairs({owner, ARGV[2]}) do
  if user ~= '' then redis.call('LREM', 'user:' .. user .. ':conversations', 0, ARGV[1]) end
end
return {existed, owner, messages}
"""

# KEYS: user list. ARGV: user-list TTL. Drops ids whose meta is gone (and their stray messages).
REMOVE_INVALID_REFS = """
local removed = 0
for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if redis.call('EXISTS', 'conversation:' .. id .. ':meta') == 0 then
    removed = removed + redis.call('LREM', KEYS[1], 0, id)
    redis.call('DEL', 'conversation:' .. id .. ':messages')
  end
end
if removed > 0 and redis.call('LLEN', KEYS[1]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return removed
"""

# KEYS: user list. ARGV: max conversations, max messages, dry run '1'/'0', user-list TTL.
# Returns {original, kept, deleted, messages trimmed}. Over the limit, the newest
# ``max`` by created_at are kept; ids without meta are dropped (not counted) and their stray
# messages deleted. Trimmed conversations get their meta message_count corrected.
ENFORCE_LIMITS = """
local max_conv, max_len = tonumber(ARGV[1]), tonumber(ARGV[2])
local dry = ARGV[3] == '1'
local ids = redis.call('LRANGE', KEYS[1], 0, -1)
local keep, delete, stray = {}, {}, {}
if #ids > max_conv then
  local dated, seen = {}, {}
  for _, id in ipairs(ids) do
    if not seen[id] then
      seen[id] = true
      local meta = 'conversation:' .. id .. ':meta'
      if redis.call('EXISTS', meta) == 1 then
        table.insert(dated, {id, redis.call('HGET', meta, 'created_at') or '0'})
      else
        table.insert(stray, id)
      end
    end
  end
  table.sort(dated, function(a, b)
    if a[2] == b[2] then return a[1] > b[1] end
    return a[2] > b[2]
  end)
  for i, item in ipairs(dated) do
    if i <= max_conv then table.insert(keep, item[1]) else table.insert(delete, item[1]) end
  end
  if not dry and (#delete > 0 or #stray > 0) then
    for _, id in ipairs(delete) do
      redis.call('DEL', 'conversation:' .. id .. ':meta', 'conversation:' .. id .. ':messages')
    end
    for _, id in ipairs(stray) do redis.call('DEL', 'conversation:' .. id .. ':messages') end
    redis.call('DEL', KEYS[1])
    if #keep > 0 then
      redis.call('RPUSH', KEYS[1], unpack(keep))
      redis.call('EXPIRE', KEYS[1], ARGV[4])
    end
  end
else
  keep = ids
end
local trimmed = 0
for _, id in ipairs(keep) do
  local messages = 'conversation:' .. id .. ':messages'
  local length = redis.call('LLEN', messages)
  if length > max_len then
    trimmed = trimmed + length - max_len
    if not dry then
      redis.call('LTRIM', messages, 0, max_len - 1)
      local meta = 'conversation:' .. id .. ':meta'
      if redis.call('EXISTS', meta) == 1 then
        redis.call('HSET', meta, 'message_count', tostring(max_len))
      end
    end
  end
end
return {#ids, #keep, #delete, trimmed}
"""
