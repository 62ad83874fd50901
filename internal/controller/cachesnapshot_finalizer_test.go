package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/pkg/agent"
)

func TestSnapshotFileDelayBacksOffUpToTheDeadline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		elapsed, want time.Duration
	}{
		{0, snapshotBackoff},
		{-time.Minute, snapshotBackoff}, // the API server's clock is ahead
		{time.Second, snapshotBackoff},
		{5 * time.Second, 5 * time.Second},
		{30 * time.Second, 30 * time.Second},
		{3 * time.Minute, snapshotFileMaxBackoff},
		{snapshotFileGrace - 20*time.Second, 20 * time.Second},
	}
	for _, tt := range tests {
		if got := snapshotFileDelay(tt.elapsed); got != tt.want {
			t.Errorf("snapshotFileDelay(%s) = %s, want %s", tt.elapsed, got, tt.want)
		}
	}
}

func TestMayHaveFile(t *testing.T) {
	t.Parallel()
	cond := func(typ string) []metav1.Condition {
		return []metav1.Condition{{Type: typ, Status: metav1.ConditionTrue}}
	}
	failed := func(msg string) []metav1.Condition {
		return []metav1.Condition{{Type: v1alpha1.ConditionFailed, Status: metav1.ConditionTrue, Message: msg}}
	}
	tests := []struct {
		name   string
		status v1alpha1.CacheSnapshotStatus
		want   bool
	}{
		{"never started", v1alpha1.CacheSnapshotStatus{}, false},
		{"source chosen, not asked yet", v1alpha1.CacheSnapshotStatus{SourcePod: "web-0"}, false},
		{"asked, no answer recorded yet", v1alpha1.CacheSnapshotStatus{SourcePod: "web-0", Attempts: 1}, true},
		{"complete", v1alpha1.CacheSnapshotStatus{SourcePod: "web-0", Attempts: 1, Path: "/s/u.lcs", Conditions: cond(v1alpha1.ConditionComplete)}, true},
		{"failed: the agent refused", v1alpha1.CacheSnapshotStatus{SourcePod: "web-0", Attempts: 1, Conditions: failed(agentRefused + "snapshots are off")}, false},
		{"failed: the agent restarted after being asked", v1alpha1.CacheSnapshotStatus{SourcePod: "web-0", Attempts: 1,
			Conditions: failed("source agent restarted (session a, now b)")}, true},
		{"failed: no answer to any attempt", v1alpha1.CacheSnapshotStatus{SourcePod: "web-0", Attempts: 5, Conditions: failed("gave up after 5 attempts")}, true},
		{"failed: no source", v1alpha1.CacheSnapshotStatus{Conditions: failed("source pod \"x\" does not exist")}, false},
	}
	for _, tt := range tests {
		if got := mayHaveFile(&v1alpha1.CacheSnapshot{Status: tt.status}); got != tt.want {
			t.Errorf("mayHaveFile(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// waitGone waits until the snapshot no longer exists.
func waitGone(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, "snapshot "+name+" gone", func() error {
		var s v1alpha1.CacheSnapshot
		err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &s)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (finalizers %v, deleting %v): %v", s.Finalizers, s.DeletionTimestamp, err)
	})
}

// waitEvent waits for an event about the snapshot name with reason and
// returns it.
func waitEvent(t *testing.T, ns, name, reason string) eventsv1.Event {
	t.Helper()
	var found eventsv1.Event
	eventually(t, fmt.Sprintf("a %s event about %s", reason, name), func() error {
		var list eventsv1.EventList
		if err := k8s.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			return err
		}
		var reasons []string
		for _, e := range list.Items {
			if e.Regarding.Name == name && e.Reason == reason {
				found = e
				return nil
			}
			if e.Regarding.Name == name {
				reasons = append(reasons, e.Reason)
			}
		}
		return fmt.Errorf("events %v", reasons)
	})
	return found
}

// deleteSnapshot deletes s through the API, as kubectl delete would.
func deleteSnapshot(t *testing.T, s *v1alpha1.CacheSnapshot) {
	t.Helper()
	if err := k8s.Delete(context.Background(), s); err != nil {
		t.Fatalf("delete snapshot %s: %v", s.Name, err)
	}
}

// mustHoldFinalizer fails unless s carries the snapshot-file finalizer.
func mustHoldFinalizer(t *testing.T, s *v1alpha1.CacheSnapshot) {
	t.Helper()
	if !controllerutil.ContainsFinalizer(s, v1alpha1.FinalizerSnapshotFile) {
		t.Fatalf("snapshot %s finalizers %v; want %s", s.Name, s.Finalizers, v1alpha1.FinalizerSnapshotFile)
	}
}

// Deleting a CacheSnapshot removes its file through the agent of the pod
// that wrote it, or says why it could not.
func TestDeletingASnapshotRemovesItsFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	startOperator(t, ns, Options{})
	tests := []struct {
		name string
		// policyPort makes the policy name the agent's port, and the pod
		// carry no port annotation.
		policyPort bool
		// before runs on the source pod before the snapshot is deleted.
		before             func(t *testing.T, pod *corev1.Pod)
		reason, eventType  string
		wantFileRemoved    bool
		wantNoteMentioning string
	}{
		{"by the agent of the source pod", false, func(*testing.T, *corev1.Pod) {},
			v1alpha1.ReasonSnapshotFileDeleted, corev1.EventTypeNormal, true, "removed"},
		{"on the policy's admin port, after the policy is gone", true, func(t *testing.T, pod *corev1.Pod) {
			if err := k8s.Delete(ctx, &v1alpha1.CachePolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: pod.Labels["app"]}}); err != nil {
				t.Fatal(err)
			}
		}, v1alpha1.ReasonSnapshotFileDeleted, corev1.EventTypeNormal, true, "removed"},
		{"except when the source pod is gone", false, func(t *testing.T, pod *corev1.Pod) {
			if err := k8s.Delete(ctx, pod, client.GracePeriodSeconds(0)); err != nil {
				t.Fatal(err)
			}
		}, v1alpha1.ReasonSourcePodGone, corev1.EventTypeNormal, false, "is gone or no longer running"},
		{"except when the source pod no longer runs", false, func(t *testing.T, pod *corev1.Pod) {
			pod.Status.Phase = corev1.PodFailed
			if err := k8s.Status().Update(ctx, pod); err != nil {
				t.Fatal(err)
			}
		}, v1alpha1.ReasonSourcePodGone, corev1.EventTypeNormal, false, "is gone or no longer running"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app, name := "files"+strconv.Itoa(i), "delete-"+strconv.Itoa(i)
			dir := t.TempDir()
			f := startFleet(t, ns, app, 1, agent.Options{})
			policy := snapshotPolicy(ns, app, app, dir)
			if tt.policyPort {
				pod := f.pods[0]
				policy.Spec.AdminPort = int32(f.agents[pod.Name].adminPort)
				delete(pod.Annotations, v1alpha1.AnnotationAdminPort)
				if err := k8s.Update(ctx, pod); err != nil {
					t.Fatal(err)
				}
			}
			if err := k8s.Create(ctx, policy); err != nil {
				t.Fatal(err)
			}
			waitPolicyCondition(t, ns, app, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAllAgentsSynced)
			createSnapshot(t, newSnapshot(ns, name, app, nil))
			s := waitSnapshot(t, ns, name, v1alpha1.ConditionComplete)
			mustHoldFinalizer(t, s)
			if _, err := os.Stat(s.Status.Path); err != nil {
				t.Fatalf("the snapshot file: %v", err)
			}

			tt.before(t, f.pods[0])
			deleteSnapshot(t, s)
			waitGone(t, ns, name)
			_, err := os.Stat(s.Status.Path)
			if removed := errors.Is(err, os.ErrNotExist); removed != tt.wantFileRemoved {
				t.Fatalf("file %s removed %v (%v); want %v", s.Status.Path, removed, err, tt.wantFileRemoved)
			}
			e := waitEvent(t, ns, name, tt.reason)
			if e.Type != tt.eventType || !strings.Contains(e.Note, s.Status.Path) || !strings.Contains(e.Note, tt.wantNoteMentioning) {
				t.Fatalf("%s event %s %q; want %s naming %s and saying %q", tt.reason, e.Type, e.Note, tt.eventType, s.Status.Path, tt.wantNoteMentioning)
			}
		})
	}
}

// withFakeSnapshotAgent starts the operator for a new namespace, a fake
// agent behind pod <app>-0 answering snapshot calls with answer (nil: 200),
// set up by setup (if not nil) under its lock, and the policy app over it,
// snapshots in /snap. It returns the namespace, the fake and the policy.
func withFakeSnapshotAgent(t *testing.T, app string, answer func(*fakeSnapshotAgent, int) int,
	setup func(*fakeSnapshotAgent)) (string, *fakeSnapshotAgent, *v1alpha1.CachePolicy) {
	t.Helper()
	ns := newNamespace(t)
	startOperator(t, ns, Options{})
	if answer == nil {
		answer = func(*fakeSnapshotAgent, int) int { return http.StatusOK }
	}
	fake := startFakeSnapshotAgent(t, ns, app+"-0", app, answer)
	if setup != nil {
		fake.mu.Lock()
		setup(fake)
		fake.mu.Unlock()
	}
	policy := snapshotPolicy(ns, app, app, "/snap")
	if err := k8s.Create(context.Background(), policy); err != nil {
		t.Fatal(err)
	}
	return ns, fake, policy
}

// An agent that fails to remove the file holds the deleted snapshot and is
// asked again until it succeeds.
func TestDeletedSnapshotWaitsForAFailingAgent(t *testing.T) {
	t.Parallel()
	ns, fake, _ := withFakeSnapshotAgent(t, "flaky", nil, nil)
	createSnapshot(t, newSnapshot(ns, "held", "flaky", func(s *v1alpha1.CacheSnapshotSpec) {
		s.Source = v1alpha1.SnapshotSource{Strategy: v1alpha1.SourcePod, PodName: "flaky-0"}
	}))
	s := waitSnapshot(t, ns, "held", v1alpha1.ConditionComplete)
	mustHoldFinalizer(t, s)
	uid := string(s.UID)

	fake.answerDeletes(http.StatusServiceUnavailable)
	deleteSnapshot(t, s)
	eventually(t, "the delete asked again", func() error {
		if n := fake.deleteCalls(); n < 2 {
			return fmt.Errorf("%d delete calls", n)
		}
		return nil
	})
	held := getSnapshot(t, ns, "held")
	if held.DeletionTimestamp == nil || !fake.hasFile(uid) {
		t.Fatalf("deleting %v, file kept %v; want the snapshot held while its file is there", held.DeletionTimestamp, fake.hasFile(uid))
	}
	mustHoldFinalizer(t, held)
	if e := waitEvent(t, ns, "held", v1alpha1.ReasonSnapshotFileDeleteFailed); e.Type != corev1.EventTypeWarning || !strings.Contains(e.Note, s.Status.Path) {
		t.Fatalf("event %s %q; want a Warning naming %s", e.Type, e.Note, s.Status.Path)
	}

	fake.answerDeletes(http.StatusOK)
	waitGone(t, ns, "held")
	if fake.hasFile(uid) {
		t.Fatal("the snapshot is gone but its file is not")
	}
}

// An agent whose snapshots directory changed since it wrote the file looks
// for it elsewhere: the snapshot is released, with a Warning naming the file
// left behind, not a Normal "had none".
func TestDeletedSnapshotWhoseAgentMovedItsDirectoryNamesTheFileLeft(t *testing.T) {
	t.Parallel()
	ns, fake, _ := withFakeSnapshotAgent(t, "moved", nil, nil)
	createSnapshot(t, newSnapshot(ns, "old-dir", "moved", nil))
	s := waitSnapshot(t, ns, "old-dir", v1alpha1.ConditionComplete)
	fake.mu.Lock()
	fake.movedDir = "/snap-v2"
	fake.mu.Unlock()
	deleteSnapshot(t, s)
	waitGone(t, ns, "old-dir")
	if e := waitEvent(t, ns, "old-dir", v1alpha1.ReasonSnapshotFileLeft); e.Type != corev1.EventTypeWarning || !strings.Contains(e.Note, s.Status.Path) {
		t.Fatalf("event %s %q; want a Warning naming %s", e.Type, e.Note, s.Status.Path)
	}
}

// An agent that wrote the file and restarted before answering fails the
// snapshot, but its file may outlive the container (snapshots for restoring
// live on such a volume): deleting the snapshot still removes it.
func TestDeletingASnapshotThatFailedAfterItsAgentWroteTheFileRemovesIt(t *testing.T) {
	t.Parallel()
	ns, fake, _ := withFakeSnapshotAgent(t, "restart", func(f *fakeSnapshotAgent, _ int) int {
		f.session = "session-2" // restarted after writing, before answering
		return http.StatusServiceUnavailable
	}, func(f *fakeSnapshotAgent) { f.writeFirst = true })
	createSnapshot(t, newSnapshot(ns, "lost-answer", "restart", nil))
	s := waitSnapshot(t, ns, "lost-answer", v1alpha1.ConditionFailed)
	uid := string(s.UID)
	if !fake.hasFile(uid) {
		t.Fatal("the fake wrote no file; the test needs one")
	}
	deleteSnapshot(t, s)
	waitGone(t, ns, "lost-answer")
	if fake.hasFile(uid) {
		t.Fatalf("the snapshot is gone, its file is not (%d delete calls)", fake.deleteCalls())
	}
	waitEvent(t, ns, "lost-answer", v1alpha1.ReasonSnapshotFileDeleted)
}

// A snapshot's watermark counts the invalidations of the policy its agent
// runs: the operator does not take it from an agent that runs another
// CachePolicy (a deleted one of the same name), and does once the agent
// runs this one.
func TestSnapshotWaitsForAnAgentOfThisPolicy(t *testing.T) {
	t.Parallel()
	ns, fake, policy := withFakeSnapshotAgent(t, "other", nil, func(f *fakeSnapshotAgent) {
		f.policyUID = "0b6d5c2a-dead-4222-8333-444455556666"
	})
	createSnapshot(t, newSnapshot(ns, "uid-check", "other", nil))
	eventually(t, "the snapshot waiting for an agent of this policy", func() error {
		s := getSnapshot(t, ns, "uid-check")
		c := meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionReady)
		if c == nil || !strings.Contains(c.Message, "runs another CachePolicy") {
			return fmt.Errorf("conditions %+v", s.Status.Conditions)
		}
		return nil
	})
	if n := fake.snapshotCalls(); n != 0 {
		t.Fatalf("the agent of another policy was asked %d times; want none", n)
	}
	fake.mu.Lock()
	fake.policyUID = string(policy.UID)
	fake.mu.Unlock()
	waitSnapshot(t, ns, "uid-check", v1alpha1.ConditionComplete)
}

// A snapshot whose agent never wrote a file is released without asking
// any agent.
func TestDeletedSnapshotWithoutAFileIsReleasedAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	startOperator(t, ns, Options{})
	tests := []struct {
		name string
		// withPolicy creates the snapshot's policy; without it the
		// snapshot waits for it, and no agent is asked.
		withPolicy bool
		answer     int
		// condition is True when the snapshot is deleted.
		condition string
	}{
		{"failed: the agent refused", true, http.StatusUnprocessableEntity, v1alpha1.ConditionFailed},
		{"pending: the agent was never asked", false, http.StatusOK, v1alpha1.ConditionReconciling},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app, name := "nofile"+strconv.Itoa(i), "nofile-"+strconv.Itoa(i)
			fake := startFakeSnapshotAgent(t, ns, app+"-0", app, func(*fakeSnapshotAgent, int) int { return tt.answer })
			policy := "missing-" + app
			if tt.withPolicy {
				policy = app
				if err := k8s.Create(ctx, snapshotPolicy(ns, app, app, "/snap")); err != nil {
					t.Fatal(err)
				}
			}
			createSnapshot(t, newSnapshot(ns, name, policy, func(s *v1alpha1.CacheSnapshotSpec) {
				s.Source = v1alpha1.SnapshotSource{Strategy: v1alpha1.SourcePod, PodName: app + "-0"}
			}))
			s := waitSnapshot(t, ns, name, tt.condition)
			mustHoldFinalizer(t, s)
			deleteSnapshot(t, s)
			waitGone(t, ns, name)
			if n := fake.deleteCalls(); n != 0 {
				t.Fatalf("%d delete calls; want none for a snapshot without a file", n)
			}
		})
	}
}

// The bound on a failing agent, and an agent's refusal, release the
// snapshot with a Warning naming the file left behind. A clock the test
// sets stands in for the ten minutes.
func TestDeletedSnapshotIsReleasedWhenTheAgentCannotRemoveItsFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	tests := []struct {
		name         string
		deleteStatus int
		after        time.Duration
		wantReleased bool
		wantRequeue  time.Duration
		reason       string
	}{
		{"a failure within the bound is retried", http.StatusServiceUnavailable, time.Minute, false, time.Minute, v1alpha1.ReasonSnapshotFileDeleteFailed},
		{"a failure at the bound gives up", http.StatusServiceUnavailable, snapshotFileGrace, true, 0, v1alpha1.ReasonSnapshotFileLeft},
		{"a refusal gives up at once", http.StatusUnprocessableEntity, 0, true, 0, v1alpha1.ReasonSnapshotFileLeft},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app, name := "bound"+strconv.Itoa(i), "bound-"+strconv.Itoa(i)
			fake := startFakeSnapshotAgent(t, ns, app+"-0", app, func(*fakeSnapshotAgent, int) int { return http.StatusOK })
			if err := k8s.Create(ctx, snapshotPolicy(ns, app, app, "/snap")); err != nil {
				t.Fatal(err)
			}
			createSnapshot(t, newSnapshot(ns, name, app, func(s *v1alpha1.CacheSnapshotSpec) {
				s.Source = v1alpha1.SnapshotSource{Strategy: v1alpha1.SourcePod, PodName: app + "-0"}
			}))
			clock := &testClock{}
			clock.Set(time.Now())
			rec := events.NewFakeRecorder(100)
			r := directSnapshotReconciler(clock.Now)
			r.Recorder = rec
			req := ctrl.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: name}}
			if _, err := r.Reconcile(ctx, req); err != nil {
				t.Fatal(err)
			}
			s := getSnapshot(t, ns, name)
			if !meta.IsStatusConditionTrue(s.Status.Conditions, v1alpha1.ConditionComplete) {
				t.Fatalf("conditions %+v; want Complete", s.Status.Conditions)
			}
			mustHoldFinalizer(t, s)

			fake.answerDeletes(tt.deleteStatus)
			deleteSnapshot(t, s)
			deleting := getSnapshot(t, ns, name)
			clock.Set(deleting.DeletionTimestamp.Add(tt.after))
			res, err := r.Reconcile(ctx, req)
			if err != nil || res.RequeueAfter != tt.wantRequeue {
				t.Fatalf("Reconcile = %+v, %v; want a requeue after %s", res, err, tt.wantRequeue)
			}
			var got v1alpha1.CacheSnapshot
			err = k8s.Get(ctx, req.NamespacedName, &got)
			if released := apierrors.IsNotFound(err); released != tt.wantReleased {
				t.Fatalf("released %v (finalizers %v, %v); want %v", released, got.Finalizers, err, tt.wantReleased)
			}
			e := findEvent(rec, tt.reason)
			if !strings.HasPrefix(e, corev1.EventTypeWarning) || !strings.Contains(e, s.Status.Path) {
				t.Fatalf("event %q; want a Warning %s naming %s", e, tt.reason, s.Status.Path)
			}
			if fake.deleteCalls() != 1 || !fake.hasFile(string(s.UID)) {
				t.Fatalf("%d delete calls, file kept %v; want one failed call", fake.deleteCalls(), fake.hasFile(string(s.UID)))
			}
		})
	}
}

// Retention deletes an expired scheduled snapshot like a user would, so
// its file goes with it.
func TestSnapshotRetentionRemovesTheFilesOfWhatItPrunes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	dir := t.TempDir()
	startFleet(t, ns, "kept", 1, agent.Options{})
	startOperator(t, ns, Options{})
	pol := newPolicy(ns, "kept", "kept", func(s *v1alpha1.CachePolicySpec) {
		s.Snapshots = &v1alpha1.SnapshotPolicy{Path: dir, KeepLast: 1}
	})
	if err := k8s.Create(ctx, pol); err != nil {
		t.Fatal(err)
	}
	waitPolicyCondition(t, ns, "kept", v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAllAgentsSynced)
	// Two snapshots as the schedule makes them: labelled, and controlled
	// by the policy.
	var done []*v1alpha1.CacheSnapshot
	for _, name := range []string{"kept-a", "kept-b"} {
		s := newSnapshot(ns, name, "kept", nil)
		s.Labels = map[string]string{v1alpha1.LabelPolicy: "kept", v1alpha1.LabelScheduled: "true"}
		if err := controllerutil.SetControllerReference(pol, s, scheme); err != nil {
			t.Fatal(err)
		}
		createSnapshot(t, s)
		done = append(done, waitSnapshot(t, ns, name, v1alpha1.ConditionComplete))
	}
	older, newer := done[0], done[1]
	waitGone(t, ns, older.Name)
	if _, err := os.Stat(older.Status.Path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the pruned snapshot's file %s: %v; want it removed", older.Status.Path, err)
	}
	if _, err := os.Stat(newer.Status.Path); err != nil {
		t.Fatalf("the kept snapshot's file %s: %v", newer.Status.Path, err)
	}
	getSnapshot(t, ns, newer.Name)
}
