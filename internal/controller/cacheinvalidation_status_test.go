package controller

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/pkg/agent/agentapi"
)

func TestRetryDelayDoublesUpToThirtySeconds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		attempts int32
		want     time.Duration
	}{
		{0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {5, 16 * time.Second},
		{6, 30 * time.Second}, {100, 30 * time.Second}, {1 << 30, 30 * time.Second},
	}
	for _, tt := range tests {
		if got := retryDelay(tt.attempts); got != tt.want {
			t.Errorf("retryDelay(%d) = %s, want %s", tt.attempts, got, tt.want)
		}
	}
}

// Status keeps times to the second: the next attempt's time is rounded up,
// so that reading it back never makes the wait shorter than the delay.
func TestRetryAtIsNeverEarlierThanTheDelayOnceStored(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		end      time.Time
		attempts int32
		want     time.Time
	}{
		{"a whole second stays", base, 1, base.Add(time.Second)},
		{"a fraction rounds up", base.Add(100 * time.Millisecond), 1, base.Add(2 * time.Second)},
		{"just past a second rounds up", base.Add(time.Nanosecond), 2, base.Add(3 * time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := retryAt(tc.end, tc.attempts)
			if !got.Equal(&metav1.Time{Time: tc.want}) {
				t.Fatalf("retryAt(%s, %d) = %s; want %s", tc.end.Format(time.RFC3339Nano), tc.attempts, got.Format(time.RFC3339Nano), tc.want)
			}
			if got.Time.Before(tc.end.Add(retryDelay(tc.attempts))) {
				t.Fatalf("retryAt(%s, %d) = %s is before the delay has passed", tc.end, tc.attempts, got)
			}
		})
	}
}

func TestParamsDefaultAndOverride(t *testing.T) {
	t.Parallel()
	got := paramsOf(&v1alpha1.CacheInvalidationSpec{})
	want := runParams{parallelism: 10, perPodTimeout: 10 * time.Second, backoffLimit: 3, activeDeadline: 300 * time.Second}
	if got != want {
		t.Fatalf("defaults = %+v, want %+v", got, want)
	}
	got = paramsOf(&v1alpha1.CacheInvalidationSpec{Parallelism: ptr.To[int32](2), PerPodTimeoutSeconds: ptr.To[int32](1),
		BackoffLimit: ptr.To[int32](0), ActiveDeadlineSeconds: ptr.To[int32](60)})
	want = runParams{parallelism: 2, perPodTimeout: time.Second, backoffLimit: 0, activeDeadline: time.Minute}
	if got != want {
		t.Fatalf("overrides = %+v, want %+v", got, want)
	}
}

func TestPlanLayersFollowsWhatThePolicyEnables(t *testing.T) {
	t.Parallel()
	redisAndDisk := &v1alpha1.CachePolicy{Spec: v1alpha1.CachePolicySpec{Layers: v1alpha1.LayersSpec{
		Redis: &v1alpha1.RedisLayerSpec{Enabled: true}, Disk: &v1alpha1.DiskLayerSpec{Enabled: true}}}}
	memoryOnly := &v1alpha1.CachePolicy{}
	tests := []struct {
		name   string
		layers []v1alpha1.Layer
		policy *v1alpha1.CachePolicy
		want   layerPlan
	}{
		{"every enabled layer by default", nil, redisAndDisk, layerPlan{shared: true, local: true}},
		{"only the memory layer of a memory-only policy", nil, memoryOnly, layerPlan{local: true}},
		{"redis alone needs no pod purge", []v1alpha1.Layer{v1alpha1.LayerRedis}, redisAndDisk, layerPlan{shared: true}},
		{"memory alone leaves redis", []v1alpha1.Layer{v1alpha1.LayerMemory}, redisAndDisk, layerPlan{local: true}},
		{"disk alone is local", []v1alpha1.Layer{v1alpha1.LayerDisk}, redisAndDisk, layerPlan{local: true}},
		{"redis the policy does not enable is nothing to do", []v1alpha1.Layer{v1alpha1.LayerRedis}, memoryOnly, layerPlan{}},
		{"disk the policy does not enable is nothing to do", []v1alpha1.Layer{v1alpha1.LayerDisk}, memoryOnly, layerPlan{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := planLayers(&v1alpha1.CacheInvalidationSpec{Layers: tt.layers}, tt.policy); got != tt.want {
				t.Fatalf("planLayers(%v) = %+v, want %+v", tt.layers, got, tt.want)
			}
		})
	}
}

func TestAgentTargetTranslatesEveryKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   v1alpha1.InvalidationTarget
		want agentapi.InvalidationTarget
	}{
		{"tags, any by default", v1alpha1.InvalidationTarget{Tags: &v1alpha1.TagTarget{Values: []string{"a"}}},
			agentapi.InvalidationTarget{Tags: &agentapi.TagTarget{Values: []string{"a"}, Match: agentapi.MatchAny}}},
		{"tags, all", v1alpha1.InvalidationTarget{Tags: &v1alpha1.TagTarget{Values: []string{"a", "b"}, Match: "All"}},
			agentapi.InvalidationTarget{Tags: &agentapi.TagTarget{Values: []string{"a", "b"}, Match: agentapi.MatchAll}}},
		{"keys", v1alpha1.InvalidationTarget{Keys: []string{"k"}}, agentapi.InvalidationTarget{Keys: []string{"k"}}},
		{"prefixes", v1alpha1.InvalidationTarget{KeyPrefixes: []string{"p:"}}, agentapi.InvalidationTarget{Prefixes: []string{"p:"}}},
		{"patterns", v1alpha1.InvalidationTarget{Patterns: []string{"u:*"}}, agentapi.InvalidationTarget{Patterns: []string{"u:*"}}},
		{"all", v1alpha1.InvalidationTarget{All: true}, agentapi.InvalidationTarget{All: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := agentTarget(tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("agentTarget(%+v) = %+v, want %+v", tt.in, got, tt.want)
			}
			if err := got.Validate(); err != nil {
				t.Fatalf("the agent would refuse %+v: %v", got, err)
			}
		})
	}
}

func TestDecideEndsARunOnlyWhenNothingIsPending(t *testing.T) {
	t.Parallel()
	done := metav1.Now()
	sharedDone := &v1alpha1.SharedLayerResult{Layer: v1alpha1.LayerRedis, CompletionTime: &done}
	sharedRetrying := &v1alpha1.SharedLayerResult{Layer: v1alpha1.LayerRedis, Attempts: 2, LastError: "boom"}
	sharedExhausted := &v1alpha1.SharedLayerResult{Layer: v1alpha1.LayerRedis, Attempts: 4, LastError: "boom"}
	tests := []struct {
		name   string
		counts podCounts
		shared *v1alpha1.SharedLayerResult
		want   verdict
	}{
		{"pods pending", podCounts{succeeded: 1, pending: 2}, nil, verdict{reason: v1alpha1.ReasonRunning}},
		{"every pod purged", podCounts{succeeded: 2, gone: 1}, nil, verdict{done: true, reason: v1alpha1.ReasonCompleted}},
		{"gone pods are not failures", podCounts{gone: 3}, nil, verdict{done: true, reason: v1alpha1.ReasonCompleted}},
		{"a failed pod fails the run once none is pending", podCounts{succeeded: 2, failed: 1}, nil,
			verdict{done: true, failed: true, reason: v1alpha1.ReasonBackoffLimitExceeded}},
		{"a failed pod waits for the pending ones", podCounts{failed: 1, pending: 1}, nil, verdict{reason: v1alpha1.ReasonRunning}},
		{"the shared tier comes first", podCounts{pending: 3}, sharedRetrying, verdict{reason: v1alpha1.ReasonRunning}},
		{"the shared tier out of retries fails the run", podCounts{pending: 3}, sharedExhausted,
			verdict{done: true, failed: true, reason: v1alpha1.ReasonBackoffLimitExceeded}},
		{"shared done and pods purged", podCounts{succeeded: 3}, sharedDone, verdict{done: true, reason: v1alpha1.ReasonCompleted}},
		{"no targets and nothing shared", podCounts{}, nil, verdict{done: true, reason: v1alpha1.ReasonCompleted}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			targets := tt.counts.succeeded + tt.counts.failed + tt.counts.pending + tt.counts.gone
			got := decide(tt.counts, targets, tt.shared, 3)
			if got.done != tt.want.done || got.failed != tt.want.failed || got.reason != tt.want.reason || got.msg == "" {
				t.Fatalf("decide(%+v) = %+v, want %+v with a message", tt.counts, got, tt.want)
			}
		})
	}
}

func TestFinishedConditionsCarryTheGeneration(t *testing.T) {
	t.Parallel()
	start := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	newInv := func() *v1alpha1.CacheInvalidation {
		inv := &v1alpha1.CacheInvalidation{ObjectMeta: metav1.ObjectMeta{Generation: 3}}
		inv.Status.StartTime = &start
		markRunning(inv, v1alpha1.ReasonRunning, "working")
		return inv
	}
	end := start.Add(90 * time.Second)

	ok := newInv()
	markComplete(ok, end, "done")
	assertConditions(t, ok, map[string]metav1.ConditionStatus{v1alpha1.ConditionComplete: metav1.ConditionTrue, v1alpha1.ConditionReady: metav1.ConditionTrue})
	if ok.Status.Duration != "1m30s" || !isFinished(&ok.Status) {
		t.Fatalf("complete status = %+v; want duration 1m30s and finished", ok.Status)
	}

	bad := newInv()
	markFailed(bad, end, v1alpha1.ReasonDeadlineExceeded, "late")
	assertConditions(t, bad, map[string]metav1.ConditionStatus{v1alpha1.ConditionFailed: metav1.ConditionTrue,
		v1alpha1.ConditionReady: metav1.ConditionFalse, v1alpha1.ConditionStalled: metav1.ConditionTrue})
	if !isFinished(&bad.Status) {
		t.Fatal("a failed run is not finished")
	}
}

// assertConditions checks that inv has exactly the conditions want, each
// stamped with its generation.
func assertConditions(t *testing.T, inv *v1alpha1.CacheInvalidation, want map[string]metav1.ConditionStatus) {
	t.Helper()
	if len(inv.Status.Conditions) != len(want) {
		t.Fatalf("conditions %+v, want exactly %v", inv.Status.Conditions, want)
	}
	for _, c := range inv.Status.Conditions {
		if want[c.Type] != c.Status || c.ObservedGeneration != inv.Generation {
			t.Fatalf("condition %+v; want status %q at generation %d", c, want[c.Type], inv.Generation)
		}
	}
}

func fakePods(n int) []corev1.Pod {
	out := make([]corev1.Pod, n)
	for i := range out {
		out[i].Name = fmt.Sprintf("web-%04d", i)
		out[i].UID = types.UID(fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i))
	}
	return out
}

func TestSmallRunListsEveryPod(t *testing.T) {
	t.Parallel()
	b := newBook(fakePods(3))
	b.pods[0].State, b.pods[0].KeysRemoved = v1alpha1.PodSucceeded, 4
	b.pods[1].State = v1alpha1.PodGone
	var st v1alpha1.CacheInvalidationStatus
	b.render(&st)
	if st.Targets != 3 || st.Succeeded != 1 || st.Gone != 1 || st.Pending != 1 || st.Progress != "2/3" || st.KeysRemoved != 4 || len(st.Pods) != 3 {
		t.Fatalf("status = %+v; want 3 targets listed, progress 2/3, 4 keys", st)
	}
	again, err := readBook(&v1alpha1.CacheInvalidation{Status: st})
	if err != nil || !reflect.DeepEqual(again.pods, b.pods) {
		t.Fatalf("readBook = %+v, %v; want the same pods back", again, err)
	}
}

// A run over more pods than status.pods can list resumes from status (and
// its annotation) after any pass, lists at most 100 pods, never the
// succeeded ones, and ends with exact counts.
func TestLargeRunResumesFromStatusAfterEveryPass(t *testing.T) {
	t.Parallel()
	const n = 250
	b := newBook(fakePods(n))
	enc, err := encodeTargets(b.frozen)
	if err != nil {
		t.Fatal(err)
	}
	inv := &v1alpha1.CacheInvalidation{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{v1alpha1.AnnotationTargets: enc}}}
	b.render(&inv.Status)
	if inv.Status.Pending != n || inv.Status.Progress != "0/250" || len(inv.Status.Pods) != 0 {
		t.Fatalf("initial status = %+v; want 250 pending, none listed yet", inv.Status)
	}
	var want podCounts
	for pass := 0; ; pass++ {
		b, err = readBook(inv)
		if err != nil {
			t.Fatalf("pass %d: readBook: %v", pass, err)
		}
		b.admit()
		if c := b.counts(); c != countsOf(&inv.Status) {
			t.Fatalf("pass %d: counts %+v after admission, status says %+v", pass, c, countsOf(&inv.Status))
		}
		pending := 0
		for i := range b.pods {
			p := &b.pods[i]
			if p.State != v1alpha1.PodPending {
				continue
			}
			pending++
			// Every pass finishes the pending pods but one, each in turn:
			// a mix of outcomes, some of them carried over.
			switch k := podIndex(t, p.Name); {
			case k%7 == 3:
				p.State = v1alpha1.PodFailed
				want.failed++
			case k%11 == 5:
				p.State = v1alpha1.PodGone
				want.gone++
			case k%13 == 0 && pass%2 == 0:
				continue // still pending
			default:
				p.State, p.KeysRemoved = v1alpha1.PodSucceeded, 2
				want.succeeded++
			}
		}
		if pending > maxStatusPods {
			t.Fatalf("pass %d: %d pods pending at once, more than status can list", pass, pending)
		}
		b.render(&inv.Status)
		if len(inv.Status.Pods) > maxStatusPods {
			t.Fatalf("pass %d: %d pods listed", pass, len(inv.Status.Pods))
		}
		for _, p := range inv.Status.Pods {
			if p.State == v1alpha1.PodSucceeded {
				t.Fatalf("pass %d: succeeded pod %s is listed", pass, p.Name)
			}
		}
		if inv.Status.Pending == 0 {
			break
		}
		if pass > 20 {
			t.Fatalf("no end after %d passes: %+v", pass, inv.Status)
		}
	}
	st := inv.Status
	if got := (podCounts{succeeded: st.Succeeded, failed: st.Failed, gone: st.Gone}); got != want {
		t.Fatalf("final counts %+v, want %+v", got, want)
	}
	if st.KeysRemoved != 2*int64(want.succeeded) || st.Progress != fmt.Sprintf("%d/%d", want.succeeded+want.gone, n) {
		t.Fatalf("final status %+v; want %d keys and progress over %d", st, 2*want.succeeded, n)
	}
}

func countsOf(st *v1alpha1.CacheInvalidationStatus) podCounts {
	return podCounts{succeeded: st.Succeeded, failed: st.Failed, pending: st.Pending, gone: st.Gone}
}

func podIndex(t *testing.T, name string) int {
	t.Helper()
	var k int
	if _, err := fmt.Sscanf(name, "web-%04d", &k); err != nil {
		t.Fatalf("pod name %q: %v", name, err)
	}
	return k
}

func TestAbandonFailsEveryPodNotFinished(t *testing.T) {
	t.Parallel()
	b := newBook(fakePods(150))
	b.admit()
	b.pods[0].State = v1alpha1.PodSucceeded
	b.abandon(time.Now(), "deadline")
	c := b.counts()
	if c != (podCounts{succeeded: 1, failed: 149}) {
		t.Fatalf("counts after abandon = %+v; want 1 succeeded, 149 failed", c)
	}
	if b.pods[1].LastError != "deadline" || b.pods[1].CompletionTime == nil {
		t.Fatalf("abandoned pod = %+v; want the reason and a completion time", b.pods[1])
	}
}

func TestReadBookRefusesAnUnreadableTargetSet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		annotation string
		want       string
	}{
		{"missing", "", "missing"},
		{"not base64", "%%%", "not base64"},
		{"not gzip", "aGVsbG8=", "not gzip"},
		{"the wrong number of pods", mustEncode(t, freeze(fakePods(3))), "holds 3 pods"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inv := &v1alpha1.CacheInvalidation{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{v1alpha1.AnnotationTargets: tt.annotation}}}
			inv.Status.Targets, inv.Status.Pending = 101, 101
			if _, err := readBook(inv); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("readBook = %v; want an error mentioning %q", err, tt.want)
			}
		})
	}
}

func mustEncode(t *testing.T, pods []frozenPod) string {
	t.Helper()
	s, err := encodeTargets(pods)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The annotation holds a realistic fleet of ten thousand pods.
func TestTargetsAnnotationHoldsTenThousandPods(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	fleet := make([]corev1.Pod, 10_000)
	for i := range fleet {
		suffix := make([]byte, 5)
		for j := range suffix {
			suffix[j] = alphabet[rng.IntN(len(alphabet))]
		}
		fleet[i].Name = fmt.Sprintf("checkout-api-7d9f8b6c5%d-%s", i%4, suffix)
		fleet[i].UID = types.UID(fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<12), rng.IntN(1<<12), rng.Uint64()>>16))
	}
	frozen := freeze(fleet)
	enc, err := encodeTargets(frozen)
	if err != nil {
		t.Fatal(err)
	}
	back, err := decodeTargets(enc)
	if err != nil || !reflect.DeepEqual(back, frozen) {
		t.Fatalf("decodeTargets did not return what was encoded: %v", err)
	}
	t.Logf("10000 pods take %d bytes", len(enc))
}

func TestGoneReason(t *testing.T) {
	t.Parallel()
	running := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "abcdef12-3456"}, Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1"}}
	finished := running.DeepCopy()
	finished.Status.Phase = corev1.PodSucceeded
	tests := []struct {
		name string
		pod  *corev1.Pod
		uid  string
		gone bool
	}{
		{"the same pod, running", running, "abcdef12-3456", false},
		{"a uid prefix of a large run matches", running, "abcdef12", false},
		{"deleted", nil, "abcdef12-3456", true},
		{"replaced by a pod of the same name", running, "99999999-0000", true},
		{"no longer running", finished, "abcdef12-3456", true},
	}
	for _, tt := range tests {
		if got := goneReason(tt.pod, tt.uid) != ""; got != tt.gone {
			t.Errorf("%s: gone = %v, want %v", tt.name, got, tt.gone)
		}
	}
}

func TestNextWakeIsTheEarliestRetryOrTheDeadline(t *testing.T) {
	t.Parallel()
	now := time.Now()
	deadline := now.Add(time.Minute)
	at := func(d time.Duration) *metav1.Time { t := metav1.NewTime(now.Add(d)); return &t }
	tests := []struct {
		name string
		pods []v1alpha1.PodInvalidationResult
		want time.Duration
	}{
		{"nothing pending sleeps until the deadline", []v1alpha1.PodInvalidationResult{{State: v1alpha1.PodSucceeded}}, time.Minute},
		{"the earliest retry", []v1alpha1.PodInvalidationResult{
			{State: v1alpha1.PodPending, NextAttemptTime: at(8 * time.Second)},
			{State: v1alpha1.PodPending, NextAttemptTime: at(2 * time.Second)},
			{State: v1alpha1.PodFailed, NextAttemptTime: at(time.Second)},
		}, 2 * time.Second},
		{"a pod due now", []v1alpha1.PodInvalidationResult{{State: v1alpha1.PodPending}}, soon},
		{"a retry past the deadline", []v1alpha1.PodInvalidationResult{{State: v1alpha1.PodPending, NextAttemptTime: at(time.Hour)}}, time.Minute},
	}
	for _, tt := range tests {
		if got := nextWake(now, deadline, tt.pods); got != tt.want {
			t.Errorf("%s: nextWake = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestHistoryKeepsTheNewestFinishedInvalidations(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	inv := func(name, policy string, seq int64, finishedAfter time.Duration, state string) v1alpha1.CacheInvalidation {
		i := v1alpha1.CacheInvalidation{ObjectMeta: metav1.ObjectMeta{Name: name}}
		i.Spec.PolicyRef.Name = policy
		i.Status.Sequence = seq
		if state != "" {
			done := metav1.NewTime(base.Add(finishedAfter))
			i.Status.CompletionTime = &done
			i.Status.Conditions = []metav1.Condition{{Type: state, Status: metav1.ConditionTrue}}
		}
		return i
	}
	items := []v1alpha1.CacheInvalidation{
		inv("a", "p", 1, 1*time.Minute, v1alpha1.ConditionComplete),
		inv("b", "p", 2, 5*time.Minute, v1alpha1.ConditionFailed),
		inv("c", "p", 3, 0, ""), // running: never deleted
		inv("d", "p", 4, 3*time.Minute, v1alpha1.ConditionComplete),
		inv("e", "p", 5, 3*time.Minute, v1alpha1.ConditionComplete), // same time as d, newer sequence
		inv("x", "other", 6, 0, v1alpha1.ConditionComplete),
	}
	tests := []struct {
		limit int
		want  []string
	}{
		{10, nil},
		{4, nil},
		{3, []string{"a"}},
		{2, []string{"d", "a"}},
		{1, []string{"e", "d", "a"}},
	}
	for _, tt := range tests {
		var got []string
		for _, v := range historyToPrune(items, "p", tt.limit) {
			got = append(got, v.Name)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("historyToPrune(limit %d) = %v, want %v", tt.limit, got, tt.want)
		}
	}
}

func TestExpiryComesFromTheSpecElseThePolicy(t *testing.T) {
	t.Parallel()
	done := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	withTTL := func(ttl *int32) *v1alpha1.CacheInvalidation {
		i := &v1alpha1.CacheInvalidation{}
		i.Spec.TTLSecondsAfterFinished = ttl
		i.Status.CompletionTime = &done
		return i
	}
	policyTTL := &v1alpha1.CachePolicy{Spec: v1alpha1.CachePolicySpec{Invalidation: &v1alpha1.InvalidationDefaults{TTLSecondsAfterFinished: ptr.To[int32](60)}}}
	tests := []struct {
		name   string
		inv    *v1alpha1.CacheInvalidation
		policy *v1alpha1.CachePolicy
		want   time.Duration
		ok     bool
	}{
		{"its own", withTTL(ptr.To[int32](10)), policyTTL, 10 * time.Second, true},
		{"its own zero deletes at once", withTTL(ptr.To[int32](0)), policyTTL, 0, true},
		{"the policy's default", withTTL(nil), policyTTL, time.Minute, true},
		{"none without a policy", withTTL(nil), nil, 0, false},
		{"none when neither sets one", withTTL(nil), &v1alpha1.CachePolicy{}, 0, false},
	}
	for _, tt := range tests {
		got, ok := expiryOf(tt.inv, tt.policy)
		if ok != tt.ok || (ok && got.Sub(done.Time) != tt.want) {
			t.Errorf("%s: expiryOf = %v, %v; want completion + %s, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
