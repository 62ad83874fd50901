package redistags

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"
)

// neverScore is the expiry score of an association that does not expire:
// 2^53 ms, past any real deadline and still exact in a Lua number.
const neverScore = 1 << 53

// The scripts remove at most 64 expired associations from each tag set
// they touch: enough to outpace the associations that Track adds, few
// enough that one script stays short.

// luaAdd files member under a tag (its sets m and e) with the given expiry
// score, after removing up to 64 expired members, and sets the sets'
// expiry to grace ms after their latest member's (none if one never
// expires). 9007199254740992 is neverScore.
const luaAdd = `
local function add(m, e, member, score, now, grace)
  local gone = redis.call('ZRANGEBYSCORE', e, '-inf', now, 'LIMIT', 0, 64)
  if #gone > 0 then
    redis.call('ZREM', m, unpack(gone))
    redis.call('ZREM', e, unpack(gone))
  end
  redis.call('ZADD', m, 0, member)
  redis.call('ZADD', e, score, member)
  local top = tonumber(redis.call('ZRANGE', e, -1, -1, 'WITHSCORES')[2])
  if top >= 9007199254740992 then
    redis.call('PERSIST', m)
    redis.call('PERSIST', e)
  else
    local at = string.format('%.0f', top + tonumber(grace))
    redis.call('PEXPIREAT', m, at)
    redis.call('PEXPIREAT', e, at)
  end
end
`

// luaRetag is ModeAtomic's update of one key.
//
// KEYS[1] is the key's record, followed by the sets (m, e) of each tag the
// key leaves, then those of each tag it carries. ARGV: 1 the key, 2 its
// expiry score, 3 now (ms), 4 the grace (ms), 5 the record's deadline (ms,
// or "" for none), 6 the number of tags left, 7 the number carried, 8 the
// number of tags the caller believes the record holds, then those tags,
// then the tags carried.
//
// It answers {"ok"}, or {"retry", <the record's real tags>...} without
// changing anything when the record does not hold exactly the expected tags.
const luaRetag = luaAdd + `
local member, score, now, grace = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local nleave, ncarry, nexp = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local cur = redis.call('SMEMBERS', KEYS[1])
local same = #cur == nexp
if same then
  local want = {}
  for i = 1, nexp do want[ARGV[8 + i]] = true end
  for _, t in ipairs(cur) do
    if not want[t] then
      same = false
      break
    end
  end
end
if not same then
  table.insert(cur, 1, 'retry')
  return cur
end
local k = 2
for i = 1, nleave do
  redis.call('ZREM', KEYS[k], member)
  redis.call('ZREM', KEYS[k + 1], member)
  k = k + 2
end
for i = 1, ncarry do
  add(KEYS[k], KEYS[k + 1], member, score, now, grace)
  k = k + 2
end
redis.call('DEL', KEYS[1])
local first = 9 + nexp
for i = first, first + ncarry - 1 do
  redis.call('SADD', KEYS[1], ARGV[i])
end
if ncarry > 0 and ARGV[5] ~= '' then
  redis.call('PEXPIREAT', KEYS[1], ARGV[5])
end
return {'ok'}
`

// luaTagAdd is ModePerSlot's filing of a key under one tag.
// KEYS: the tag's sets m and e. ARGV: the key, its score, now, grace.
const luaTagAdd = luaAdd + `
add(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return 1
`

// luaSetRecord is ModePerSlot's rewrite of a key's record.
// KEYS[1] is the record. ARGV: 1 its deadline (ms, or "" for none), then
// the tags (none deletes the record).
const luaSetRecord = `
redis.call('DEL', KEYS[1])
for i = 2, #ARGV do
  redis.call('SADD', KEYS[1], ARGV[i])
end
if #ARGV > 1 and ARGV[1] ~= '' then
  redis.call('PEXPIREAT', KEYS[1], ARGV[1])
end
return 1
`

// luaPage reads one page of a tag's keys in one shard, after removing up
// to 64 expired members.
//
// KEYS: the sets m and e. ARGV: 1 where to start ("-", or "(" followed by
// the last key of the previous page), 2 the page size, 3 now (ms). It
// answers {<keys read>, <last key read, or "">, <live keys>...}: the page
// is the last one when fewer keys were read than the page size.
const luaPage = `
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[3], 'LIMIT', 0, 64)
if #gone > 0 then
  redis.call('ZREM', KEYS[1], unpack(gone))
  redis.call('ZREM', KEYS[2], unpack(gone))
end
local page = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], '+', 'LIMIT', 0, ARGV[2])
local out = {tostring(#page), page[#page] or ''}
local now = tonumber(ARGV[3])
for _, k in ipairs(page) do
  local s = redis.call('ZSCORE', KEYS[2], k)
  if s and tonumber(s) > now then
    out[#out + 1] = k
  end
end
return out
`

// scripts are the Lua scripts of one Index.
type scripts struct {
	retag, tagAdd, setRecord, page *redis.Script
}

func newScripts() scripts {
	return scripts{
		retag:     redis.NewScript(luaRetag),
		tagAdd:    redis.NewScript(luaTagAdd),
		setRecord: redis.NewScript(luaSetRecord),
		page:      redis.NewScript(luaPage),
	}
}

// pipe collects the commands of one pipeline. Scripts are sent with
// EVALSHA and remembered, so that those a server has not cached (a new or
// restarted server, or after SCRIPT FLUSH) can be sent again with EVAL.
type pipe struct {
	ctx   context.Context
	p     redis.Pipeliner
	evals []*evalCall
}

// evalCall is one script call in a pipe. Its cmd holds the reply once the
// pipe has run.
type evalCall struct {
	script *redis.Script
	keys   []string
	args   []any
	cmd    *redis.Cmd
}

func (p *pipe) eval(s *redis.Script, keys []string, args ...any) *evalCall {
	c := &evalCall{script: s, keys: keys, args: args, cmd: s.EvalSha(p.ctx, p.p, keys, args...)}
	p.evals = append(p.evals, c)
	return c
}

// pipelined runs the commands fill queues in one pipeline, resends with
// EVAL the scripts that failed with NOSCRIPT, and returns the first error of
// any command (a missing key, redis.Nil, is not an error).
func (ix *Index) pipelined(ctx context.Context, fill func(p *pipe)) error {
	p := &pipe{ctx: ctx, p: ix.client.Pipeline()}
	fill(p)
	cmds, _ := p.p.Exec(ctx) // each command's error is checked below
	resent := make(map[redis.Cmder]*redis.Cmd)
	var again redis.Pipeliner
	for _, c := range p.evals {
		if !redis.HasErrorPrefix(c.cmd.Err(), "NOSCRIPT") {
			continue
		}
		if again == nil {
			again = ix.client.Pipeline()
		}
		old := c.cmd
		c.cmd = c.script.Eval(ctx, again, c.keys, c.args...)
		resent[old] = c.cmd
	}
	if again != nil {
		_, _ = again.Exec(ctx) // each command's error is checked below
	}
	for _, cmd := range cmds {
		if r, ok := resent[cmd]; ok {
			cmd = r
		}
		if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
	}
	return nil
}
