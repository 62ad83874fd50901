package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/layercache/layercache/pkg/agent/agentapi"
)

// DefaultRememberedInvalidations is how many applied invalidation uids
// the agent remembers, to answer a repeated one with AlreadyApplied.
const DefaultRememberedInvalidations = 10_000

// stateFile is the name of the file, in the disk tier's directory, that
// records the invalidation watermark of the records stored there.
const stateFile = "agent-state.json"

// invalidationLog remembers the applied invalidations (the last
// DefaultRememberedInvalidations uids, with their results) and the
// watermark: the highest sequence up to which every invalidation was
// applied to the local tiers (appliedSeqs; sequences applied above a gap
// are kept apart until it is filled). With a disk tier the watermark is
// also written next to its records, so that it survives a restart together
// with them. The sequences above it are not written: after a restart the
// operator replays them, and an invalidation applied twice only removes
// entries again.
//
// Every local result it remembers (layers "local" or "all") was applied to
// the local tiers as they are now: adopting a disk tier that holds records
// forgets those the records may lack. So a replayed uid it still knows
// counts again towards the watermark without running again.
//
// Sequences number the invalidations of one CachePolicy, identified by its
// uid: the watermark counts those of policyUID, the applied policy's. A
// policy of another uid (deleted and re-created, its sequences starting
// again at 1) starts the watermark again at 0, and an invalidation sent
// for another policy than the applied one is applied without counting.
type invalidationLog struct {
	// mu protects seqs, policyUID, bounded and dir, and makes each change
	// to results and seqs one step. It is taken before results' own lock.
	mu        sync.Mutex
	results   *boundedLog[appliedInvalidation]
	seqs      appliedSeqs
	policyUID string // whose sequences seqs counts
	// bounded is false until an invalidation is applied or a tier holding
	// records is adopted: until then the agent holds nothing older than
	// the process, so its watermark is whatever a disk tier says.
	bounded bool
	dir     string // the disk tier's directory; "" without one
}

// appliedInvalidation is what the log keeps of an applied invalidation.
type appliedInvalidation struct {
	res agentapi.InvalidationResult
	// flush is true for target all, which emptied the tiers it touched.
	flush bool
	// policyUID is the request's: the policy whose sequence res.Seq is
	// ("" for whichever is applied).
	policyUID string
}

// agentState is what stateFile holds: the watermark of the records next to
// it, and the policy whose sequences it counts.
type agentState struct {
	LastInvalidationSeq int64  `json:"lastInvalidationSeq"`
	PolicyUID           string `json:"policyUID,omitempty"`
}

// newInvalidationLog remembers limit uids, and as many sequences applied
// above the watermark. A replay of a forgotten uid runs again; a forgotten
// sequence holds the watermark until the operator replays it.
func newInvalidationLog(limit int) *invalidationLog {
	return &invalidationLog{results: newBoundedLog[appliedInvalidation](limit),
		seqs: appliedSeqs{limit: limit}}
}

// repeat returns the recorded result of uid, if it was applied, and counts
// its sequence again towards the watermark: a replay of an invalidation
// whose sequence was forgotten (past the cap of appliedSeqs) must still
// fill its gap.
func (l *invalidationLog) repeat(uid string) (agentapi.InvalidationResult, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.results.lookup(uid)
	if !ok {
		return agentapi.InvalidationResult{}, false, nil
	}
	return e.res, true, l.countLocked(e)
}

// record remembers res and, when local tiers were purged, counts res.Seq
// towards the watermark (every sequence up to it when flush, for target
// all) and writes a watermark that moved next to the disk tier. policyUID
// is the request's (see agentapi.InvalidationRequest.PolicyUID).
func (l *invalidationLog) record(res agentapi.InvalidationResult, flush bool, policyUID string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := appliedInvalidation{res: res, flush: flush, policyUID: policyUID}
	l.results.record(res.UID, e)
	return l.countLocked(e)
}

// countLocked counts e towards the watermark; l.mu is held.
func (l *invalidationLog) countLocked(e appliedInvalidation) error {
	if e.res.Layers == agentapi.LayersShared {
		return nil
	}
	l.bounded = true
	if e.res.Seq <= 0 || (e.policyUID != "" && e.policyUID != l.policyUID) {
		return nil // unsequenced, or another policy's sequence
	}
	var moved bool
	if e.flush {
		moved = l.seqs.cover(e.res.Seq)
	} else {
		moved = l.seqs.add(e.res.Seq)
	}
	if !moved {
		return nil
	}
	return l.persist()
}

// watermark returns the highest sequence up to which every invalidation
// was applied to the local tiers.
func (l *invalidationLog) watermark() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seqs.through
}

// position returns the watermark and the uid of the policy whose sequences
// it counts, read together.
func (l *invalidationLog) position() (policyUID string, watermark int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.policyUID, l.seqs.through
}

// usePolicy makes the watermark count the sequences of the policy uid, the
// one being applied. For another uid than the one counted so far the
// watermark starts again, from what the log remembers of that policy's
// invalidations: those sent to this agent before it applied the policy
// (the operator purges every selected pod, whatever it runs yet).
func (l *invalidationLog) usePolicy(uid string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if uid == l.policyUID {
		return nil
	}
	l.switchPolicyLocked(uid)
	return l.persist()
}

// switchPolicyLocked makes the watermark count the sequences of the policy
// uid, counting again the remembered local results of that policy: each
// was applied to the local tiers as they are now (see the type's doc). A
// watermark counted under no policy uid (an agent started without one,
// sent sequences that name none) is kept: those came from the operator of
// the policy it is given now. l.mu is held.
func (l *invalidationLog) switchPolicyLocked(uid string) {
	if l.policyUID != "" {
		l.seqs.reset(0)
	}
	l.policyUID = uid
	if uid == "" {
		return // requests naming no policy counted when they came
	}
	l.results.each(func(e appliedInvalidation) {
		switch {
		case e.policyUID != uid || e.res.Layers == agentapi.LayersShared || e.res.Seq <= 0:
		case e.flush:
			l.seqs.cover(e.res.Seq)
		default:
			l.seqs.add(e.res.Seq)
		}
	})
}

// adoptDir starts recording the watermark in dir, a disk tier just opened
// for the policy uid. Records that were already there are only as current
// as the watermark stored with them, if it counts that policy's sequences
// (0 otherwise): the agent's watermark becomes it at start, and drops to it
// later. The sequences applied above the watermark, and the local results
// it no longer covers, are forgotten: the records may lack them, so a
// replay must run them again. An empty tier is current whatever the
// watermark.
func (l *invalidationLog) adoptDir(dir, uid string, hasRecords bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dir = dir
	if uid != l.policyUID {
		l.switchPolicyLocked(uid)
	}
	if hasRecords {
		stored, err := readState(dir)
		current := err == nil && stored.PolicyUID == uid
		if !current {
			stored = agentState{} // unknown: the operator replays what it still has
		}
		w := stored.LastInvalidationSeq
		if l.bounded {
			w = min(l.seqs.through, w)
		}
		l.seqs.reset(w)
		l.results.forget(func(e appliedInvalidation) bool {
			return e.res.Layers != agentapi.LayersShared && (e.res.Seq <= 0 || e.res.Seq > w)
		})
		l.bounded = true
		if err != nil {
			return errors.Join(err, l.persist())
		}
		if current && w == stored.LastInvalidationSeq {
			return nil
		}
	}
	return l.persist()
}

// persist writes the watermark next to the disk tier; l.mu is held.
func (l *invalidationLog) persist() error {
	if l.dir == "" {
		return nil
	}
	b, err := json.Marshal(agentState{LastInvalidationSeq: l.seqs.through, PolicyUID: l.policyUID})
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(l.dir, ".agent-state-*")
	if err != nil {
		return fmt.Errorf("agent: write state: %w", err)
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(l.dir, stateFile))
	}
	if err != nil {
		_ = os.Remove(tmp.Name()) // best effort: the write already failed
		return fmt.Errorf("agent: write state: %w", err)
	}
	return nil
}

// readState reads the state stored in dir; a missing file is the zero
// state.
func readState(dir string) (agentState, error) {
	var s agentState
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("agent: read state: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return agentState{}, fmt.Errorf("agent: read state %s: %w", filepath.Join(dir, stateFile), err)
	}
	return s, nil
}

// restoredSnapshot records that the local tiers, empty until now, were
// loaded from a snapshot that includes every invalidation up to w: they
// are exactly as current as w. It reports false, changing nothing, when the
// local tiers were not known to be empty (a disk tier with records, or an
// invalidation already applied): a snapshot mixed into them would make the
// watermark say more than it knows.
func (l *invalidationLog) restoredSnapshot(w int64) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.bounded {
		return false, nil
	}
	l.seqs.reset(w)
	l.bounded = true
	return true, l.persist()
}

// localTiersEmpty reports whether nothing may be in the local tiers yet: no
// disk records were adopted and no invalidation was applied.
func (l *invalidationLog) localTiersEmpty() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.bounded
}
