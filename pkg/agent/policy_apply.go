package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/layercache/layercache/pkg/agent/agentapi"
)

// applyPolicy makes p the applied policy. It is idempotent by hash (a
// newer generation of the applied content is recorded, nothing is
// rebuilt), refuses an older generation (CodeStaleGeneration) and an
// invalid or unbuildable policy (CodeInvalidPolicy), keeping the applied
// one and recording the refusal for Status.
func (a *Agent) applyPolicy(ctx context.Context, p agentapi.Policy) (agentapi.PolicyResult, *agentapi.Error) {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	cur := a.current.Load()
	if !a.started.Load() || a.stopped {
		return agentapi.PolicyResult{}, &agentapi.Error{Code: agentapi.CodeUnavailable, Message: "the agent is not running"}
	}
	if err := p.Validate(); err != nil {
		var ve *agentapi.ValidationError
		details := []string{err.Error()}
		if errors.As(err, &ve) {
			details = ve.Details()
		}
		return agentapi.PolicyResult{}, a.reject(p, agentapi.CodeInvalidPolicy, "the policy is invalid; the applied policy is kept", details...)
	}
	hash, err := p.ComputeHash()
	if err != nil {
		return agentapi.PolicyResult{}, a.reject(p, agentapi.CodeInvalidPolicy, err.Error())
	}
	p.Hash = hash
	if cur != nil && hash == cur.policy.Hash {
		gen := max(cur.generation.Load(), p.Generation)
		cur.generation.Store(gen)
		return agentapi.PolicyResult{Generation: gen, Hash: hash}, nil
	}
	if cur != nil && p.UID == cur.policy.UID && p.Generation < cur.generation.Load() {
		return agentapi.PolicyResult{}, a.reject(p, agentapi.CodeStaleGeneration,
			fmt.Sprintf("generation %d is older than the applied generation %d; the applied policy is kept",
				p.Generation, cur.generation.Load()))
	}
	var kept []string
	if cur != nil && reopensDisk(cur, p) {
		kept, err = a.applyExclusive(ctx, p, cur)
	} else {
		var rt *runtime
		if rt, kept, err = a.build(ctx, p, cur); err == nil {
			rt.appliedAt = time.Now()
			a.install(rt)
		}
	}
	if err != nil {
		return agentapi.PolicyResult{}, a.reject(p, agentapi.CodeInvalidPolicy,
			"the policy could not be built; the applied policy is kept", err.Error())
	}
	a.rejected.Store(nil)
	a.log.Info("policy applied", "name", p.Name, "generation", p.Generation, "hash", hash, "kept", kept)
	return agentapi.PolicyResult{Generation: p.Generation, Hash: hash, Changed: true, Kept: kept}, nil
}

// reopensDisk reports whether p changes the disk tier of cur in a way that
// needs the same directory opened again: it must be closed first.
func reopensDisk(cur *runtime, p agentapi.Policy) bool {
	old, next := cur.policy.Layers.Disk, p.Layers.Disk
	return cur.disk != nil && next != nil && old.Dir == next.Dir && !sameDisk(old, next)
}

// applyExclusive applies p when it reopens cur's disk directory: the disk
// layer must be closed before it can be opened again. It waits for the
// runtimes being retired (they hold the layer too) and for the requests
// running on cur; requests arriving meanwhile wait. If p cannot be built,
// cur's policy is built again on the same parts, so the agent keeps
// serving it.
func (a *Agent) applyExclusive(ctx context.Context, p agentapi.Policy, cur *runtime) ([]string, error) {
	a.warm.stop()
	a.retiring.Wait()
	cur.drain()
	defer cur.undrain()
	closeErr := cur.stack.Close(ctx)
	closeErr = errors.Join(closeErr, cur.disk.release())
	cur.disk = nil
	if closeErr != nil {
		a.log.Warn("closing the previous policy's cache failed", "error", closeErr)
	}
	rt, kept, err := a.build(ctx, p, cur)
	if err == nil {
		rt.appliedAt = time.Now()
	} else {
		back, _, berr := a.build(ctx, cur.policy, cur)
		if berr != nil {
			// Nothing to serve: the data API answers 503 until a policy
			// builds.
			a.log.Error("the previous policy could not be rebuilt", "error", berr)
			a.current.Store(nil)
			a.metrics.use(nil)
			return nil, errors.Join(err, berr, cur.releaseParts())
		}
		back.appliedAt = cur.appliedAt
		back.generation.Store(cur.generation.Load())
		rt = back
	}
	a.activate(rt)
	if rerr := cur.releaseParts(); rerr != nil {
		a.log.Warn("releasing the previous policy's parts failed", "error", rerr)
	}
	return kept, err
}

// reject records a refused policy for Status and returns the reply's
// error.
func (a *Agent) reject(p agentapi.Policy, code agentapi.ErrorCode, msg string, details ...string) *agentapi.Error {
	a.rejected.Store(&agentapi.PolicyRejection{Generation: p.Generation, Hash: p.Hash, Code: code,
		Message: msg, At: time.Now().UTC()})
	a.log.Warn("policy rejected", "generation", p.Generation, "code", code, "message", msg, "details", details)
	return &agentapi.Error{Code: code, Message: msg, Details: details}
}
