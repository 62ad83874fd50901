package controller

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/pkg/agent"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestScheduledSnapshotNameIsTheTickInUTC(t *testing.T) {
	t.Parallel()
	paris := time.FixedZone("CET", 3600)
	long := strings.Repeat("a", 236) + ".-b" + strings.Repeat("c", 20)
	tests := []struct {
		name, policy string
		tick         time.Time
		want         string
	}{
		{"plain", "catalog", utc("2026-03-01T04:05:00Z"), "catalog-20260301040500"},
		{"from another zone", "catalog", time.Date(2026, 3, 1, 5, 5, 0, 0, paris), "catalog-20260301040500"},
		{"a long policy name is cut without a dangling dot or dash", long, utc("2026-03-01T04:05:00Z"), strings.Repeat("a", 236) + "-20260301040500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := scheduledSnapshotName(tt.policy, tt.tick)
			if got != tt.want {
				t.Fatalf("name %q; want %q", got, tt.want)
			}
			if errs := validation.IsDNS1123Subdomain(got); len(errs) > 0 {
				t.Fatalf("name %q is not an object name: %v", got, errs)
			}
			back, ok := tickOfName(tt.policy, got)
			if !ok || !back.Equal(tt.tick) {
				t.Fatalf("tickOfName(%q) = %v, %t; want %v", got, back, ok, tt.tick)
			}
		})
	}
}

func TestScheduledSnapshotTickIsReadOnlyFromNamesTheScheduleGave(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"manual", "catalog-2026", "other-20260301040500", "catalog-20261301040500", "catalog20260301040500"} {
		if tick, ok := tickOfName("catalog", name); ok {
			t.Errorf("tickOfName(catalog, %q) = %v; want no tick", name, tick)
		}
	}
}

func TestSnapshotScheduleLatestTickIsTheNewestDueOneOnly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, schedule string
		after, now     time.Time
		want           time.Time // zero: nothing due
	}{
		{"nothing due before the first tick", "* * * * *", utc("2026-03-01T10:00:30Z"), utc("2026-03-01T10:00:59Z"), time.Time{}},
		{"the first tick", "* * * * *", utc("2026-03-01T10:00:30Z"), utc("2026-03-01T10:01:10Z"), utc("2026-03-01T10:01:00Z")},
		{"a tick exactly now is due", "* * * * *", utc("2026-03-01T10:00:30Z"), utc("2026-03-01T10:01:00Z"), utc("2026-03-01T10:01:00Z")},
		{"the tick already taken is not due again", "* * * * *", utc("2026-03-01T10:01:00Z"), utc("2026-03-01T10:01:59Z"), time.Time{}},
		{"missed ticks give the latest", "* * * * *", utc("2026-03-01T10:01:00Z"), utc("2026-03-01T10:37:20Z"), utc("2026-03-01T10:37:00Z")},
		{"a week of missed minutes", "*/5 * * * *", utc("2026-03-01T10:00:00Z"), utc("2026-03-08T09:58:00Z"), utc("2026-03-08T09:55:00Z")},
		{"a descriptor", "@hourly", utc("2026-03-01T10:00:00Z"), utc("2026-03-01T13:30:00Z"), utc("2026-03-01T13:00:00Z")},
		{"a tick long before now", "0 0 1 1 *", utc("2020-06-01T00:00:00Z"), utc("2026-03-01T00:00:00Z"), utc("2026-01-01T00:00:00Z")},
		{"a leap day", "0 0 29 2 *", utc("2026-03-01T00:00:00Z"), utc("2032-06-01T00:00:00Z"), utc("2032-02-29T00:00:00Z")},
		{"a time that never comes", "0 0 30 2 *", utc("2026-03-01T00:00:00Z"), utc("2036-06-01T00:00:00Z"), time.Time{}},
		{"a clock behind the last tick", "* * * * *", utc("2026-03-01T10:05:00Z"), utc("2026-03-01T10:00:00Z"), time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sched, err := cron.ParseStandard(tt.schedule)
			if err != nil {
				t.Fatal(err)
			}
			got, due := latestTick(sched, tt.after, tt.now)
			if due != !tt.want.IsZero() || !got.Equal(tt.want) {
				t.Fatalf("latestTick = %v, %t; want %v", got, due, tt.want)
			}
		})
	}
}

func TestSnapshotScheduleComesBackAtTheNextTick(t *testing.T) {
	t.Parallel()
	tests := []struct {
		schedule string
		now      time.Time
		want     time.Duration
	}{
		{"* * * * *", utc("2026-03-01T10:00:20Z"), 40 * time.Second},
		{"@hourly", utc("2026-03-01T10:00:00Z"), time.Hour},
		{"0 0 30 2 *", utc("2026-03-01T10:00:00Z"), 24 * time.Hour},
	}
	for _, tt := range tests {
		sched, err := cron.ParseStandard(tt.schedule)
		if err != nil {
			t.Fatal(err)
		}
		if got := untilNextTick(sched, tt.now); got != tt.want {
			t.Errorf("untilNextTick(%q, %v) = %v; want %v", tt.schedule, tt.now, got, tt.want)
		}
	}
}

// snap is a scheduled snapshot for retention tests, finished unless
// running, created at second sec.
func snap(name string, sec int64, running bool) v1alpha1.CacheSnapshot {
	s := v1alpha1.CacheSnapshot{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.Unix(sec, 0)}}
	if !running {
		s.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionComplete, Status: metav1.ConditionTrue}}
	}
	return s
}

func TestSnapshotRetentionDeletesOnlyOldFinishedOnes(t *testing.T) {
	t.Parallel()
	failed := snap("p-0005", 5, true)
	failed.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionFailed, Status: metav1.ConditionTrue}}
	oldest := []v1alpha1.CacheSnapshot{snap("p-0003", 3, false), snap("p-0001", 1, false), snap("p-0002", 2, false), snap("p-0004", 4, false)}
	tests := []struct {
		name       string
		in         []v1alpha1.CacheSnapshot
		keep       int
		inUse      map[string][]string
		want       []string
		wantSpared []string
	}{
		{"fewer than keep", []v1alpha1.CacheSnapshot{snap("p-0001", 1, false), snap("p-0002", 2, false)}, 2, nil, nil, nil},
		{"the oldest go", oldest, 2, nil, []string{"p-0002", "p-0001"}, nil},
		{"running ones neither go nor count", []v1alpha1.CacheSnapshot{snap("p-0001", 1, false), snap("p-0002", 2, false), snap("p-0000", 0, true), snap("p-0003", 3, true)}, 2, nil, nil, nil},
		{"failed ones count as finished", []v1alpha1.CacheSnapshot{snap("p-0001", 1, false), failed}, 1, nil, []string{"p-0001"}, nil},
		{"names break ties of creation time", []v1alpha1.CacheSnapshot{snap("p-0002", 9, false), snap("p-0001", 9, false), snap("p-0003", 9, false)}, 1, nil, []string{"p-0002", "p-0001"}, nil},
		{"one a policy warms from stays", oldest, 2, map[string][]string{"p-0001": {"web"}}, []string{"p-0002"}, []string{"p-0001"}},
		{"one in use among the newest takes its place", oldest, 2, map[string][]string{"p-0004": {"web"}}, []string{"p-0002", "p-0001"}, nil},
		{"a policy that names no snapshot changes nothing", oldest, 2, map[string][]string{"other": {"web"}}, []string{"p-0002", "p-0001"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			expired, spared := expiredSnapshots(tt.in, tt.keep, tt.inUse)
			if got := snapshotNames(expired); !slices.Equal(got, tt.want) {
				t.Fatalf("expired %v; want %v", got, tt.want)
			}
			if got := snapshotNames(spared); !slices.Equal(got, tt.wantSpared) {
				t.Fatalf("spared %v; want %v", got, tt.wantSpared)
			}
		})
	}
}

func snapshotNames(snaps []*v1alpha1.CacheSnapshot) []string {
	var names []string
	for _, s := range snaps {
		names = append(names, s.Name)
	}
	return names
}

func TestSnapshotsInUseAreTheOnesPoliciesWarmFrom(t *testing.T) {
	t.Parallel()
	warmFrom := func(name, snapshot string) v1alpha1.CachePolicy {
		p := v1alpha1.CachePolicy{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if snapshot != "" {
			p.Spec.Warming = &v1alpha1.WarmingSpec{FromSnapshot: &v1alpha1.LocalObjectReference{Name: snapshot}}
		}
		return p
	}
	deleting := warmFrom("leaving", "s-3")
	deleting.DeletionTimestamp = ptr.To(metav1.Now())
	keysOnly := warmFrom("keys", "")
	keysOnly.Spec.Warming = &v1alpha1.WarmingSpec{Keys: []string{"k"}}
	got := snapshotsInUse([]v1alpha1.CachePolicy{warmFrom("a", "s-1"), warmFrom("b", "s-1"), warmFrom("c", "s-2"), warmFrom("none", ""), keysOnly, deleting})
	want := map[string][]string{"s-1": {"a", "b"}, "s-2": {"c"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("snapshotsInUse = %v; want %v", got, want)
	}
}

// Retention keeps a scheduled snapshot that a policy (here another one of
// the namespace) warms from, says so, and deletes it once no policy does.
func TestSnapshotRetentionKeepsASnapshotAPolicyWarmsFrom(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	pol := newPolicy(ns, "catalog", "shop", func(s *v1alpha1.CachePolicySpec) {
		s.Snapshots = &v1alpha1.SnapshotPolicy{Schedule: "* * * * *", KeepLast: 1}
	})
	if err := k8s.Create(ctx, pol); err != nil {
		t.Fatal(err)
	}
	h := newScheduleHarness(t, ns, "catalog")
	minute := func(n int) time.Time {
		return pol.CreationTimestamp.Truncate(time.Minute).Add(time.Duration(n) * time.Minute)
	}
	h.reconcile(minute(10))
	h.finish(h.tickName(minute(10)))
	restore := newPolicy(ns, "restore", "shop", func(s *v1alpha1.CachePolicySpec) {
		s.Warming = &v1alpha1.WarmingSpec{FromSnapshot: &v1alpha1.LocalObjectReference{Name: h.tickName(minute(10))}}
	})
	if err := k8s.Create(ctx, restore); err != nil {
		t.Fatal(err)
	}
	for n := 11; n <= 12; n++ {
		h.reconcile(minute(n))
		h.finish(h.tickName(minute(n)))
	}
	h.reconcile(minute(12).Add(30 * time.Second))
	if got, want := h.scheduled(), []string{h.tickName(minute(10)), h.tickName(minute(12))}; !slices.Equal(got, want) {
		t.Fatalf("after retention: %v; want the newest and the one policy restore warms from, %v", got, want)
	}
	if e := findEvent(h.events, reasonSnapshotInUse); !strings.Contains(e, h.tickName(minute(10))) || !strings.Contains(e, "restore") {
		t.Fatalf("event %q; want a %s event naming the snapshot and the policy", e, reasonSnapshotInUse)
	}

	restore = getPolicy(t, ns, "restore")
	restore.Spec.Warming = &v1alpha1.WarmingSpec{Keys: []string{"k"}}
	if err := k8s.Update(ctx, restore); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the snapshot no policy warms from any more deleted", func() error {
		h.reconcile(minute(12).Add(40 * time.Second))
		if got, want := h.scheduled(), []string{h.tickName(minute(12))}; !slices.Equal(got, want) {
			return fmt.Errorf("scheduled snapshots %v; want %v", got, want)
		}
		return nil
	})
}

// findEvent returns the first event recorded with reason, or "".
func findEvent(rec *events.FakeRecorder, reason string) string {
	for {
		select {
		case e := <-rec.Events:
			if strings.Contains(e, " "+reason+" ") {
				return e
			}
		default:
			return ""
		}
	}
}

// testClock is a clock the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// scheduleHarness drives a CacheSnapshotScheduleReconciler by hand, with a
// clock the test controls, over one policy.
type scheduleHarness struct {
	t      *testing.T
	ns     string
	policy string
	clock  *testClock
	events *events.FakeRecorder
	r      *CacheSnapshotScheduleReconciler
}

func newScheduleHarness(t *testing.T, ns, policy string) *scheduleHarness {
	h := &scheduleHarness{t: t, ns: ns, policy: policy, clock: &testClock{}, events: events.NewFakeRecorder(100)}
	h.r = &CacheSnapshotScheduleReconciler{Client: k8s, Recorder: h.events, Now: h.clock.Now}
	return h
}

// reconcile runs one pass at clock time at.
func (h *scheduleHarness) reconcile(at time.Time) ctrl.Result {
	h.t.Helper()
	h.clock.Set(at)
	res, err := h.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Namespace: h.ns, Name: h.policy}})
	if err != nil {
		h.t.Fatalf("reconcile at %v: %v", at, err)
	}
	return res
}

// scheduled lists the policy's scheduled snapshots by name.
func (h *scheduleHarness) scheduled() []string {
	h.t.Helper()
	var list v1alpha1.CacheSnapshotList
	if err := k8s.List(context.Background(), &list, client.InNamespace(h.ns), client.MatchingLabels{v1alpha1.LabelScheduled: "true"}); err != nil {
		h.t.Fatal(err)
	}
	var names []string
	for _, s := range list.Items {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return names
}

// finish marks the snapshot Complete, as the snapshot reconciler would.
func (h *scheduleHarness) finish(name string) {
	h.t.Helper()
	s := getSnapshot(h.t, h.ns, name)
	now := metav1.Now()
	s.Status.CompletionTime = &now
	meta.SetStatusCondition(&s.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionComplete, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonCompleted})
	if err := k8s.Status().Update(context.Background(), s); err != nil {
		h.t.Fatalf("finish %s: %v", name, err)
	}
}

func (h *scheduleHarness) tickName(tick time.Time) string {
	return scheduledSnapshotName(h.policy, tick)
}

func TestSnapshotScheduleTakesOneSnapshotPerTickAndKeepsTheLastOnes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	pol := newPolicy(ns, "catalog", "shop", func(s *v1alpha1.CachePolicySpec) {
		s.Snapshots = &v1alpha1.SnapshotPolicy{Schedule: "* * * * *", KeepLast: 2, Scope: v1alpha1.ScopeAll}
	})
	if err := k8s.Create(ctx, pol); err != nil {
		t.Fatal(err)
	}
	manual := newSnapshot(ns, "by-hand", "catalog", nil)
	manual.Labels = map[string]string{v1alpha1.LabelPolicy: "catalog"}
	createSnapshot(t, manual)
	h := newScheduleHarness(t, ns, "catalog")
	h.finish("by-hand")
	created := pol.CreationTimestamp.Time
	minute := func(n int) time.Time { return created.Truncate(time.Minute).Add(time.Duration(n) * time.Minute) }

	// Ten ticks passed while "the operator was down": one snapshot, for
	// the latest.
	at := minute(10).Add(30 * time.Second)
	res := h.reconcile(at)
	if got, want := h.scheduled(), []string{h.tickName(minute(10))}; !slices.Equal(got, want) {
		t.Fatalf("after ten missed ticks: %v; want only %v", got, want)
	}
	if res.RequeueAfter != 30*time.Second {
		t.Fatalf("requeue after %v; want the 30s until the next tick", res.RequeueAfter)
	}
	first := getSnapshot(t, ns, h.tickName(minute(10)))
	if first.Labels[v1alpha1.LabelPolicy] != "catalog" || first.Spec.Scope != v1alpha1.ScopeAll || first.Spec.PolicyRef.Name != "catalog" {
		t.Fatalf("scheduled snapshot %+v %+v; want the policy's label, ref and scope", first.Labels, first.Spec)
	}
	if ref := metav1.GetControllerOf(first); ref == nil || ref.UID != pol.UID {
		t.Fatalf("controller %+v; want the policy", ref)
	}
	if ref := getPolicy(t, ns, "catalog").Status.LastScheduledSnapshot; ref == nil || ref.Name != first.Name || ref.CompletionTime != nil {
		t.Fatalf("lastScheduledSnapshot %+v; want %s, running", ref, first.Name)
	}
	// The same pass again changes nothing.
	h.reconcile(at)
	if got := h.scheduled(); len(got) != 1 {
		t.Fatalf("a repeated pass: %v; want still one", got)
	}

	// A tick while the snapshot runs waits for it.
	h.reconcile(minute(11).Add(time.Second))
	if got := h.scheduled(); len(got) != 1 {
		t.Fatalf("a tick while one runs: %v; want still one", got)
	}
	h.finish(first.Name)
	h.reconcile(minute(11).Add(2 * time.Second))
	if ref := getPolicy(t, ns, "catalog").Status.LastScheduledSnapshot; ref == nil || ref.Name != h.tickName(minute(11)) {
		t.Fatalf("lastScheduledSnapshot %+v; want the tick taken once the previous finished", ref)
	}

	// One snapshot per tick; retention keeps the newest two finished ones,
	// the running one and the manual one.
	for n := 12; n <= 14; n++ {
		h.finish(h.tickName(minute(n - 1)))
		h.reconcile(minute(n))
	}
	h.finish(h.tickName(minute(14)))
	h.reconcile(minute(14).Add(59 * time.Second))
	if got, want := h.scheduled(), []string{h.tickName(minute(13)), h.tickName(minute(14))}; !slices.Equal(got, want) {
		t.Fatalf("after retention: %v; want %v", got, want)
	}
	getSnapshot(t, ns, "by-hand")
	if ref := getPolicy(t, ns, "catalog").Status.LastScheduledSnapshot; ref == nil || ref.Name != h.tickName(minute(14)) || ref.CompletionTime == nil {
		t.Fatalf("lastScheduledSnapshot %+v; want %s with its completion time", ref, h.tickName(minute(14)))
	}
	select {
	case e := <-h.events.Events:
		if !strings.Contains(e, v1alpha1.ReasonSnapshotScheduled) {
			t.Fatalf("event %q; want %s", e, v1alpha1.ReasonSnapshotScheduled)
		}
	default:
		t.Fatal("no event for a scheduled snapshot")
	}
}

func TestSnapshotScheduleThatCannotRunTakesNoSnapshot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	tests := []struct {
		name      string
		snapshots v1alpha1.SnapshotPolicy
		event     string
	}{
		{"an invalid schedule says so", v1alpha1.SnapshotPolicy{Schedule: "every minute"}, v1alpha1.ReasonInvalidSchedule},
		{"a suspended schedule", v1alpha1.SnapshotPolicy{Schedule: "* * * * *", Suspend: true}, ""},
		{"no schedule", v1alpha1.SnapshotPolicy{}, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name := fmt.Sprintf("idle-%d", i)
			pol := newPolicy(ns, name, "shop", func(s *v1alpha1.CachePolicySpec) { s.Snapshots = &tt.snapshots })
			if err := k8s.Create(ctx, pol); err != nil {
				t.Fatal(err)
			}
			h := newScheduleHarness(t, ns, name)
			res := h.reconcile(pol.CreationTimestamp.Add(time.Hour))
			if res.RequeueAfter != 0 {
				t.Fatalf("requeue after %v; want to wait for a spec change", res.RequeueAfter)
			}
			var list v1alpha1.CacheSnapshotList
			if err := k8s.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelPolicy: name}); err != nil || len(list.Items) != 0 {
				t.Fatalf("snapshots %d, %v; want none", len(list.Items), err)
			}
			select {
			case e := <-h.events.Events:
				if tt.event == "" || !strings.Contains(e, tt.event) || !strings.Contains(e, "every minute") {
					t.Fatalf("event %q; want %q", e, tt.event)
				}
			default:
				if tt.event != "" {
					t.Fatalf("no %s event", tt.event)
				}
			}
		})
	}
}

// A scheduled snapshot is taken by the operator like any other, and the
// policy records when it finished. The schedule fires only on leap days,
// so the operator's own schedule reconciler (on the real clock) stays
// quiet while the test's, on its own clock, creates the snapshot.
func TestScheduledSnapshotIsTakenByTheOperator(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	startFleet(t, ns, "shop", 1, agent.Options{})
	startOperator(t, ns, Options{})
	pol := newPolicy(ns, "shop", "shop", func(s *v1alpha1.CachePolicySpec) {
		s.Snapshots = &v1alpha1.SnapshotPolicy{Path: t.TempDir(), Schedule: "0 0 29 2 *"}
	})
	if err := k8s.Create(ctx, pol); err != nil {
		t.Fatal(err)
	}
	waitPolicyCondition(t, ns, "shop", v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAllAgentsSynced)
	sched, _ := cron.ParseStandard("0 0 29 2 *")
	leapDay := sched.Next(pol.CreationTimestamp.Time)
	h := newScheduleHarness(t, ns, "shop")
	h.reconcile(leapDay.Add(time.Hour))
	name := h.tickName(leapDay)
	s := waitSnapshot(t, ns, name, v1alpha1.ConditionComplete)
	if s.Status.SourcePod != "shop-0" || s.Labels[v1alpha1.LabelScheduled] != "true" {
		t.Fatalf("snapshot %s from %q, labels %v", name, s.Status.SourcePod, s.Labels)
	}
	eventually(t, "the completion on the policy", func() error {
		ref := getPolicy(t, ns, "shop").Status.LastScheduledSnapshot
		if ref == nil || ref.Name != name || ref.CompletionTime == nil {
			return fmt.Errorf("lastScheduledSnapshot %+v", ref)
		}
		return nil
	})
	if got := h.scheduled(); len(got) != 1 {
		t.Fatalf("scheduled snapshots %v; want only the leap day's", got)
	}
}
