package agent

import (
	"testing"

	"github.com/layercache/layercache/pkg/agent/agentapi"
)

func local(uid string, seq int64) agentapi.InvalidationResult {
	return agentapi.InvalidationResult{UID: uid, Seq: seq, Layers: agentapi.LayersLocal}
}

// A sequence forgotten past the cap must not stall the watermark: the
// operator replays it, and a uid the log still knows counts again without
// running again.
func TestInvalidationLogReplayOfAForgottenSequenceFillsItsHole(t *testing.T) {
	t.Parallel()
	l := newInvalidationLog(2)
	for _, res := range []agentapi.InvalidationResult{local("s3", 3), local("s4", 4), local("s5", 5)} {
		must(t, l.record(res, false))
	}
	must(t, l.record(local("f2", 2), true)) // the operator's flush of the hole at #1-#2
	if got := l.watermark(); got != 4 {
		t.Fatalf("watermark after the flush = %d; want 4 (#5 was forgotten past the cap)", got)
	}
	res, ok, err := l.repeat("s5")
	if err != nil || !ok || res.Seq != 5 {
		t.Fatalf("repeat(s5) = %+v, %v, %v; want the recorded #5", res, ok, err)
	}
	if got := l.watermark(); got != 5 {
		t.Fatalf("watermark after the replay of #5 = %d; want 5", got)
	}
}

// Records of a disk tier opened later may lack what the log applied to the
// memory tier: the log drops to their watermark and forgets those uids, so
// a replay runs them again on the records.
func TestInvalidationLogAdoptingRecordsForgetsWhatTheyMayLack(t *testing.T) {
	t.Parallel()
	l := newInvalidationLog(10)
	for _, res := range []agentapi.InvalidationResult{local("s1", 1), local("s3", 3),
		{UID: "s2-shared", Seq: 2, Layers: agentapi.LayersShared}} {
		must(t, l.record(res, false))
	}
	must(t, l.adoptDir(t.TempDir(), true)) // records, no stored watermark: 0
	if got := l.watermark(); got != 0 {
		t.Fatalf("watermark after adopting records = %d; want 0", got)
	}
	for uid, want := range map[string]bool{"s1": false, "s3": false, "s2-shared": true} {
		if _, ok, _ := l.repeat(uid); ok != want {
			t.Errorf("repeat(%s) found %v; want %v", uid, ok, want)
		}
	}
	if got := l.watermark(); got != 0 {
		t.Fatalf("watermark after the repeats = %d; want 0", got)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
