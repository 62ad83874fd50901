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
		must(t, l.record(res, false, ""))
	}
	must(t, l.record(local("f2", 2), true, "")) // the operator's flush of the hole at #1-#2
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
		must(t, l.record(res, false, ""))
	}
	must(t, l.adoptDir(t.TempDir(), "", true)) // records, no stored watermark: 0
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

// Sequences number one policy's invalidations: the watermark counts those
// of the applied policy and starts again for a policy of another uid (a
// deleted and re-created CachePolicy). An invalidation sent for another
// policy than the applied one (the operator purges a selected pod before it
// got the policy) does not count then, and counts once its policy is
// applied; one of a policy no longer applied never counts.
func TestInvalidationLogCountsTheAppliedPolicysSequences(t *testing.T) {
	t.Parallel()
	l := newInvalidationLog(10)
	must(t, l.usePolicy("policy-a"))
	for i, uid := range []string{"a1", "a2", "a3"} {
		must(t, l.record(local(uid, int64(i+1)), false, "policy-a"))
	}
	must(t, l.record(local("b1", 1), false, "policy-b")) // b's #1 reaches an agent still on a
	must(t, l.record(local("b3", 3), false, "policy-b")) // and b's #3, above a hole at #2
	if uid, w := l.position(); uid != "policy-a" || w != 3 {
		t.Fatalf("position on policy a = %q, %d; want policy-a, 3 (b's do not count)", uid, w)
	}
	must(t, l.usePolicy("policy-b"))
	if uid, w := l.position(); uid != "policy-b" || w != 1 {
		t.Fatalf("position after applying policy b = %q, %d; want policy-b, 1 (b's #1, below its hole)", uid, w)
	}
	must(t, l.record(local("flush-a-3", 3), true, "policy-a")) // a late catch-up flush of the deleted policy
	if w := l.watermark(); w != 1 {
		t.Fatalf("watermark after a's flush up to #3 = %d; want 1 (another policy's sequences)", w)
	}
	must(t, l.record(local("b2", 2), false, "policy-b"))
	if w := l.watermark(); w != 3 {
		t.Fatalf("watermark after b's #2 filled the hole = %d; want 3", w)
	}
	must(t, l.usePolicy("policy-b")) // the same policy again changes nothing
	if w := l.watermark(); w != 3 {
		t.Fatalf("watermark after applying policy b again = %d; want 3", w)
	}
	must(t, l.usePolicy("policy-a")) // a's remembered results count again
	if w := l.watermark(); w != 3 {
		t.Fatalf("watermark back on policy a = %d; want 3 (a1 to a3; a's flush up to #3)", w)
	}
}

// An agent started without a policy uid counts the sequences that name
// none, and keeps that count when it gets its first identified policy,
// adding the ones that named it.
func TestInvalidationLogKeepsACountMadeWithoutAPolicyUID(t *testing.T) {
	t.Parallel()
	l := newInvalidationLog(10)
	must(t, l.record(local("n1", 1), false, ""))
	must(t, l.record(local("b2", 2), false, "policy-b"))
	if uid, w := l.position(); uid != "" || w != 1 {
		t.Fatalf("position before any policy uid = %q, %d; want \"\", 1", uid, w)
	}
	must(t, l.usePolicy("policy-b"))
	if uid, w := l.position(); uid != "policy-b" || w != 2 {
		t.Fatalf("position after applying policy b = %q, %d; want policy-b, 2", uid, w)
	}
}

// The watermark stored next to disk records is adopted only by the policy
// whose sequences it counts: records kept from a deleted CachePolicy are
// current to none of the new one's invalidations.
func TestInvalidationLogAdoptsAStoredWatermarkOfTheSamePolicyOnly(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, stored, opening string
		want                  int64
	}{
		{"same policy", "policy-a", "policy-a", 7},
		{"re-created policy", "policy-a", "policy-b", 0},
		{"state written before policy uids", "", "policy-a", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writer := newInvalidationLog(10)
			must(t, writer.adoptDir(dir, tc.stored, false))
			must(t, writer.record(local("f7", 7), true, tc.stored))
			l := newInvalidationLog(10)
			must(t, l.adoptDir(dir, tc.opening, true))
			if uid, w := l.position(); uid != tc.opening || w != tc.want {
				t.Fatalf("position = %q, %d; want %q, %d", uid, w, tc.opening, tc.want)
			}
			stored, err := readState(dir)
			if err != nil || stored.PolicyUID != tc.opening || stored.LastInvalidationSeq != tc.want {
				t.Fatalf("stored state = %+v, %v; want %q at %d", stored, err, tc.opening, tc.want)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
