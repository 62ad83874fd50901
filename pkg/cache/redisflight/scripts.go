package redisflight

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The scripts take a key's names as KEYS, all in one hash slot (see
// names): KEYS[1] the lease, KEYS[2] the fencing counter, KEYS[3] the
// result. Fencing tokens are decimal integers below 2^53, exact in a Lua
// number; they are formatted with '%.0f' because tostring would switch to
// exponent notation.

// luaClaim looks for a result, then for a live lease, and otherwise takes
// the lease. ARGV: 1 the claimant's random token, 2 the lease (ms), 3 the
// counter's lifetime (ms), 4 the lowest fencing token of an acceptable
// result, or "" to ignore results (a new flight must not read an old one).
//
// It answers {2, result} for a stored result of fencing token >= ARGV[4];
// {0, holder} when another lease holds the key; or {1, lease} when it took
// the lease, whose value is ARGV[1] .. ':' .. the next fencing token. A
// missing counter is seeded from the server clock in microseconds, so
// tokens keep growing even after it expired.
//
// Checking the result before the lease, in one script, closes the race of
// a leader that finishes between the two checks: a leader stores its
// result and drops its lease atomically (luaFinish), so "no lease" means
// "the result, if any, is already there".
var luaClaim = redis.NewScript(`
if ARGV[4] ~= '' then
  local r = redis.call('GET', KEYS[3])
  if r then
    local f = tonumber(string.match(r, '^(%d+):'))
    if f and f >= tonumber(ARGV[4]) then return {2, r} end
  end
end
local cur = redis.call('GET', KEYS[1])
if cur then return {0, cur} end
if redis.call('EXISTS', KEYS[2]) == 0 then
  if redis.replicate_commands then redis.replicate_commands() end
  local t = redis.call('TIME')
  redis.call('SET', KEYS[2], t[1] .. string.format('%06d', tonumber(t[2])))
end
local f = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
local lease = ARGV[1] .. ':' .. string.format('%.0f', f)
redis.call('SET', KEYS[1], lease, 'PX', ARGV[2])
return {1, lease}
`)

// luaRenew extends the lease and the counter if the lease still holds the
// leader's value. ARGV: 1 the lease value, 2 the lease (ms), 3 the
// counter's lifetime (ms). It answers 1, or 0 when the lease was lost.
var luaRenew = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  return 1
end
return 0
`)

// luaFinish ends a leadership: it stores the result and announces it on
// the done channel if no newer lease was taken since (the counter still
// equals the leader's fencing token), and deletes the lease if it still
// holds the leader's value. ARGV: 1 the lease value, 2 its fencing token,
// 3 the encoded result, 4 its lifetime (ms), 5 the done channel. It
// answers 1 when the result was stored, 0 when it was stale.
//
// A leader whose lease merely expired, with nobody taking over, still
// publishes: its result is the newest there is.
var luaFinish = redis.NewScript(`
local stored = 0
if redis.call('GET', KEYS[2]) == ARGV[2] then
  redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4])
  stored = 1
end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if stored == 1 then redis.call('PUBLISH', ARGV[5], 'result:' .. ARGV[2]) end
return stored
`)

// luaRelease deletes the lease if it still holds the leader's value and
// then wakes the waiters, so that one of them takes over at once. ARGV: 1
// the lease value, 2 its fencing token, 3 the done channel. It answers 1
// when it deleted the lease.
var luaRelease = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[3], 'released:' .. ARGV[2])
  return 1
end
return 0
`)

// names are the Redis names of one key's flight.
type names struct {
	lease, fence, result string // keys
	done                 string // pub/sub channel
}

// keys lists the names in the order the scripts take them.
func (n names) keys() []string { return []string{n.lease, n.fence, n.result} }

// namesFor builds the names of key. Each carries the same hash tag, so a
// Cluster keeps them in one slot and the scripts may touch them together.
// A key that starts with '}' would make an empty tag, which Redis ignores
// (it would hash each whole name): such keys get the tag "\x00" before the
// key instead. Valid keys hold no control characters, so the two forms
// cannot collide.
func namesFor(prefix, key string) names {
	tag := "{" + key + "}"
	if strings.HasPrefix(key, "}") {
		tag = "{\x00}" + key
	}
	return names{
		lease:  prefix + "lease:" + tag,
		fence:  prefix + "fence:" + tag,
		result: prefix + "result:" + tag,
		done:   prefix + "done:" + tag,
	}
}

// claimOutcome says what luaClaim found.
type claimOutcome int64

const (
	claimHeld   claimOutcome = 0 // another lease holds the key
	claimLed    claimOutcome = 1 // the caller took the lease
	claimResult claimOutcome = 2 // an acceptable result is stored
)

// claimReply is luaClaim's answer: the lease value (taken or found) or the
// encoded result.
type claimReply struct {
	outcome claimOutcome
	value   string
}

// claim runs luaClaim for n with the random token and the lowest
// acceptable fencing token minFence ("" for none).
func (c *Coordinator) claim(ctx context.Context, n names, token, minFence string) (claimReply, error) {
	return parseClaim(luaClaim.Run(ctx, c.cfg.Client, n.keys(),
		token, c.cfg.Lease.Milliseconds(), c.cfg.fenceTTL.Milliseconds(), minFence).Slice())
}

// claimNew is claim for many new flights (no acceptable result) in one
// pipeline. A claim that finds the script not loaded yet (NOSCRIPT) is run
// again on its own, which loads it.
func (c *Coordinator) claimNew(ctx context.Context, ns []names, tokens []string) ([]claimReply, []error) {
	cmds := c.runPipelined(ctx, luaClaim, ns, func(i int) []any {
		return []any{tokens[i], c.cfg.Lease.Milliseconds(), c.cfg.fenceTTL.Milliseconds(), ""}
	})
	replies, errs := make([]claimReply, len(ns)), make([]error, len(ns))
	for i, cmd := range cmds {
		replies[i], errs[i] = parseClaim(cmd.Slice())
	}
	return replies, errs
}

// runPipelined runs script once for each of ns, with args(i) for ns[i], in
// one pipeline (EVALSHA), and returns each run's answer. A run that finds
// the script not loaded yet (NOSCRIPT) runs again on its own, which loads
// it.
func (c *Coordinator) runPipelined(ctx context.Context, script *redis.Script, ns []names, args func(i int) []any) []*redis.Cmd {
	pipe := c.cfg.Client.Pipeline()
	cmds := make([]*redis.Cmd, len(ns))
	for i, n := range ns {
		cmds[i] = script.EvalSha(ctx, pipe, n.keys(), args(i)...)
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
	for i, cmd := range cmds {
		if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			cmds[i] = script.Run(ctx, c.cfg.Client, ns[i].keys(), args(i)...)
		}
	}
	return cmds
}

// parseClaim reads luaClaim's answer.
func parseClaim(v []any, err error) (claimReply, error) {
	if err != nil {
		return claimReply{}, err
	}
	if len(v) != 2 {
		return claimReply{}, fmt.Errorf("claim script answered %d values, want 2", len(v))
	}
	o, ok1 := v[0].(int64)
	s, ok2 := v[1].(string)
	if !ok1 || !ok2 || o < int64(claimHeld) || o > int64(claimResult) {
		return claimReply{}, fmt.Errorf("claim script answered %T %v, %T", v[0], v[0], v[1])
	}
	return claimReply{outcome: claimOutcome(o), value: s}, nil
}

// fenceOf returns the fencing token of a lease value (the digits after its
// last ':'), or "0" when it has none, which accepts every result.
func fenceOf(lease string) string {
	i := strings.LastIndexByte(lease, ':')
	f := lease[i+1:]
	if f == "" || len(f) > 16 || strings.Trim(f, "0123456789") != "" {
		return "0"
	}
	return f
}
