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
// watermark: the highest sequence applied to the local tiers. With a disk
// tier the watermark is also written next to its records, so that it
// survives a restart together with them.
type invalidationLog struct {
	results *boundedLog[agentapi.InvalidationResult]

	mu  sync.Mutex // protects seq, bounded and dir
	seq int64
	// bounded is false until an invalidation is applied or a tier holding
	// records is adopted: until then the agent holds nothing older than
	// the process, so its watermark is whatever a disk tier says.
	bounded bool
	dir     string // the disk tier's directory; "" without one
}

type agentState struct {
	LastInvalidationSeq int64 `json:"lastInvalidationSeq"`
}

func newInvalidationLog(limit int) *invalidationLog {
	return &invalidationLog{results: newBoundedLog[agentapi.InvalidationResult](limit)}
}

// lookup returns the recorded result of uid.
func (l *invalidationLog) lookup(uid string) (agentapi.InvalidationResult, bool) {
	return l.results.lookup(uid)
}

// record remembers res and, when local tiers were purged, raises the
// watermark to res.Seq and writes it next to the disk tier.
func (l *invalidationLog) record(res agentapi.InvalidationResult) error {
	l.results.record(res.UID, res)
	l.mu.Lock()
	defer l.mu.Unlock()
	if res.Layers != agentapi.LayersShared {
		l.bounded = true
	}
	if res.Layers == agentapi.LayersShared || res.Seq <= l.seq {
		return nil
	}
	l.seq = res.Seq
	return l.persist()
}

// watermark returns the highest sequence applied to the local tiers.
func (l *invalidationLog) watermark() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq
}

// adoptDir starts recording the watermark in dir, a disk tier just opened.
// Records that were already there are only as current as the watermark
// stored with them (0 when none was): the agent's watermark becomes it at
// start, and drops to it later. An empty tier is current whatever the
// watermark.
func (l *invalidationLog) adoptDir(dir string, hasRecords bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dir = dir
	if hasRecords {
		stored, err := readState(dir)
		if err != nil {
			stored = agentState{} // unknown: the operator replays what it still has
		}
		if l.bounded {
			l.seq = min(l.seq, stored.LastInvalidationSeq)
		} else {
			l.seq = stored.LastInvalidationSeq
		}
		l.bounded = true
		if err != nil {
			return errors.Join(err, l.persist())
		}
		if l.seq == stored.LastInvalidationSeq {
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
	b, err := json.Marshal(agentState{LastInvalidationSeq: l.seq})
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
	l.seq, l.bounded = w, true
	return true, l.persist()
}

// localTiersEmpty reports whether nothing may be in the local tiers yet: no
// disk records were adopted and no invalidation was applied.
func (l *invalidationLog) localTiersEmpty() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.bounded
}
