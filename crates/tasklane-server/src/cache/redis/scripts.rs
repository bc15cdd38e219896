//! The Lua scripts that make each step of the protocol one atomic Redis call. They
//! receive every key finished by `RedisKeys`; the only text a script adds to a key is
//! the generation it has just read, between the two halves of the lookup's entry key.
//! Every script starts with `now_ms` and `LETTERS`, the partitions' letters.

use redis::Script;

use crate::cache::generation::Generation;
use crate::domain::Status;

/// Redis's clock in milliseconds, for announcements' deadlines: one clock for every
/// instance, so their own clocks may disagree.
const NOW_MS: &str = r"
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
";

/// Reads a workspace's generation (drawing an epoch if it has none), whether a write is in
/// flight, and, if none is, the entry filed under that generation. Announcements past
/// their deadline are withdrawn with an advance in their writers' place (a repair, which
/// moves every partition: which statuses the write touched is not known).
///
/// The hash holds `e` (the epoch), `c` (the counter), `s:{letter}` (a status's
/// partition) and one field per announcement (its deadline).
///
/// KEYS[1]: the generation hash. ARGV[1]: a fresh epoch, used only if the hash has none.
/// ARGV[2], ARGV[3]: the entry's key before and after its generation, which is written
/// between them as `Generation` displays itself (`{epoch}.{counter}`, or for a read
/// restricted to statuses `{epoch}.{letter}{partition}...`). ARGV[4]: the letters of the
/// read's partitions (empty: the whole workspace).
/// Returns `{epoch, counter, writing (0 or 1), entry, partitions}`, the partitions read
/// joined by commas in the order of ARGV[4].
const LOOKUP: &str = r"
redis.call('HSETNX', KEYS[1], 'e', ARGV[1])
local fields = redis.call('HGETALL', KEYS[1])
local epoch, counter, writing, expired, partitions = nil, '0', 0, {}, {}
local now = now_ms()
for i = 1, #fields, 2 do
  local field, value = fields[i], fields[i + 1]
  if field == 'e' then epoch = value
  elseif field == 'c' then counter = value
  elseif string.sub(field, 1, 2) == 's:' then partitions[string.sub(field, 3)] = value
  elseif tonumber(value) <= now then expired[#expired + 1] = field
  else writing = 1 end
end
if #expired > 0 then
  redis.call('HDEL', KEYS[1], unpack(expired))
  counter = tostring(redis.call('HINCRBY', KEYS[1], 'c', 1))
  for _, letter in ipairs(LETTERS) do
    partitions[letter] = tostring(redis.call('HINCRBY', KEYS[1], 's:' .. letter, 1))
  end
end
local generation, read = epoch, {}
if ARGV[4] == '' then
  generation = generation .. '.' .. counter
else
  for letter in string.gmatch(ARGV[4], '.') do
    local partition = partitions[letter] or '0'
    generation = generation .. '.' .. letter .. partition
    read[#read + 1] = partition
  end
end
local entry = false
if writing == 0 then
  entry = redis.call('GET', ARGV[2] .. generation .. ARGV[3])
end
return {epoch, counter, writing, entry, table.concat(read, ',')}
";

/// Announces a write in the workspace until a deadline.
///
/// KEYS[1]: the generation hash. ARGV[1]: the announcement's field. ARGV[2]: how long
/// it holds, in milliseconds.
const ANNOUNCE: &str = r"
redis.call('HSET', KEYS[1], ARGV[1], now_ms() + tonumber(ARGV[2]))
return 1
";

/// Advances the workspace's generation and the partitions given, and withdraws the
/// announcements given, in one step.
///
/// KEYS[1]: the generation hash. ARGV[1]: the letters of the partitions to advance.
/// ARGV[2...]: the announcements' fields (possibly none).
const ADVANCE: &str = r"
redis.call('HINCRBY', KEYS[1], 'c', 1)
for letter in string.gmatch(ARGV[1], '.') do
  redis.call('HINCRBY', KEYS[1], 's:' .. letter, 1)
end
if #ARGV > 1 then redis.call('HDEL', KEYS[1], unpack(ARGV, 2)) end
return 1
";

/// Files an entry only if the workspace is still at the generation the read saw (its
/// counter: no write at all since, whatever partitions the read took) and no write is in
/// flight: the check-and-set of a fill. Returns 1 if stored.
///
/// KEYS[1]: the generation hash. KEYS[2]: the entry's key. ARGV[1], ARGV[2]: the epoch
/// and counter the read saw. ARGV[3]: the value. ARGV[4]: its TTL in milliseconds.
const FILL: &str = r"
local fields = redis.call('HGETALL', KEYS[1])
local epoch, counter = nil, '0'
for i = 1, #fields, 2 do
  local field = fields[i]
  if field == 'e' then epoch = fields[i + 1]
  elseif field == 'c' then counter = fields[i + 1]
  elseif string.sub(field, 1, 2) ~= 's:' then return 0 end
end
if epoch ~= ARGV[1] or counter ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
return 1
";

/// The scripts of one tier (each runs by its hash, and is loaded where Redis does not
/// know it yet).
pub(super) struct Scripts {
    pub(super) lookup: Script,
    pub(super) announce: Script,
    pub(super) advance: Script,
    pub(super) fill: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        let letters = Status::ALL
            .map(|status| format!("'{}'", Generation::partition_letter(status)))
            .join(", ");
        let prelude = format!("{NOW_MS}local LETTERS = {{{letters}}}\n");
        let script = |body: &str| Script::new(&format!("{prelude}{body}"));
        Scripts {
            lookup: script(LOOKUP),
            announce: script(ANNOUNCE),
            advance: script(ADVANCE),
            fill: script(FILL),
        }
    }
}
