package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/internal/agentconn"
	"github.com/layercache/layercache/pkg/agent"
	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/agent/agentclient"
)

// newSnapshot is a CacheSnapshot of policy; mod edits its spec.
func newSnapshot(ns, name, policy string, mod func(*v1alpha1.CacheSnapshotSpec)) *v1alpha1.CacheSnapshot {
	s := &v1alpha1.CacheSnapshot{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       v1alpha1.CacheSnapshotSpec{PolicyRef: v1alpha1.LocalObjectReference{Name: policy}},
	}
	if mod != nil {
		mod(&s.Spec)
	}
	return s
}

// snapshotPolicy is a policy over the pods labelled app whose agents write
// snapshots to dir.
func snapshotPolicy(ns, name, app, dir string) *v1alpha1.CachePolicy {
	return newPolicy(ns, name, app, func(s *v1alpha1.CachePolicySpec) {
		s.Snapshots = &v1alpha1.SnapshotPolicy{Path: dir}
	})
}

func getSnapshot(t *testing.T, ns, name string) *v1alpha1.CacheSnapshot {
	t.Helper()
	var s v1alpha1.CacheSnapshot
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &s); err != nil {
		t.Fatalf("get snapshot %s: %v", name, err)
	}
	return &s
}

// waitSnapshot waits until the snapshot's condition typ is True and
// returns the snapshot.
func waitSnapshot(t *testing.T, ns, name, typ string) *v1alpha1.CacheSnapshot {
	t.Helper()
	var s *v1alpha1.CacheSnapshot
	eventually(t, fmt.Sprintf("snapshot %s %s", name, typ), func() error {
		s = getSnapshot(t, ns, name)
		if !meta.IsStatusConditionTrue(s.Status.Conditions, typ) {
			return fmt.Errorf("conditions %+v", s.Status.Conditions)
		}
		return nil
	})
	return s
}

// createSnapshot creates s and fails the test on error.
func createSnapshot(t *testing.T, s *v1alpha1.CacheSnapshot) {
	t.Helper()
	if err := k8s.Create(context.Background(), s); err != nil {
		t.Fatalf("create snapshot %s: %v", s.Name, err)
	}
}

// directSnapshotReconciler is a CacheSnapshotReconciler the test drives by
// calling Reconcile, with the clock now.
func directSnapshotReconciler(now func() time.Time) *CacheSnapshotReconciler {
	opts := Options{Agents: agentconn.NewDialer(nil, nil)}
	opts.defaults()
	return &CacheSnapshotReconciler{Client: k8s, Options: opts, Now: now}
}

func TestSnapshotOfAnyReadyPodExportsItsCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	dir := t.TempDir()
	f := startFleet(t, ns, "shop", 2, agent.Options{})
	startOperator(t, ns, Options{})
	pol := snapshotPolicy(ns, "shop", "shop", dir)
	if err := k8s.Create(ctx, pol); err != nil {
		t.Fatal(err)
	}
	// Data written before the policy arrives would go with the cache the
	// policy replaces.
	waitPolicyCondition(t, ns, "shop", v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAllAgentsSynced)
	const keys = 7
	for _, a := range f.agents {
		for i := range keys {
			if err := a.data.Set(ctx, "item:"+strconv.Itoa(i), json.RawMessage(`{"n":`+strconv.Itoa(i)+`}`), agentclient.SetOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		// Sequences 1 to 3, in order: an agent's watermark counts only
		// sequences with none missing below them.
		for seq := int64(1); seq <= 3; seq++ {
			if _, err := a.admin.Invalidate(ctx, "before-snapshot-"+strconv.FormatInt(seq, 10), agentapi.InvalidationRequest{Seq: seq,
				Layers: agentapi.LayersLocal, Target: agentapi.InvalidationTarget{Keys: []string{"never-written"}}}); err != nil {
				t.Fatal(err)
			}
		}
	}

	createSnapshot(t, newSnapshot(ns, "nightly", "shop", nil))
	s := waitSnapshot(t, ns, "nightly", v1alpha1.ConditionComplete)
	st := s.Status
	src, ok := f.agents[st.SourcePod]
	if !ok {
		t.Fatalf("sourcePod %q is not one of the fleet", st.SourcePod)
	}
	agentStatus, err := src.admin.Status(ctx)
	if err != nil || st.SourceSessionID != agentStatus.SessionID {
		t.Fatalf("sourceSessionID %q; the agent's session is %q (%v)", st.SourceSessionID, agentStatus.SessionID, err)
	}
	if st.Entries < keys || st.Bytes == 0 || st.Checksum == "" || st.InvalidationSequence != 3 || st.Attempts != 1 {
		t.Fatalf("status %+v; want >= %d entries, bytes, a checksum, watermark 3, one attempt", st, keys)
	}
	if st.Path != dir+"/"+string(s.UID)+agent.SnapshotExt {
		t.Fatalf("path %q; want the snapshot's uid in %s", st.Path, dir)
	}
	if fi, err := os.Stat(st.Path); err != nil || fi.Size() != st.Bytes {
		t.Fatalf("snapshot file: %v, %v; want %d bytes", fi, err, st.Bytes)
	}
	if st.StartTime == nil || st.CompletionTime == nil || st.CompletionTime.Before(st.StartTime) {
		t.Fatalf("start %v, completion %v", st.StartTime, st.CompletionTime)
	}
	if !meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionReady) || meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReconciling) != nil {
		t.Fatalf("conditions %+v; want Ready and no Reconciling", st.Conditions)
	}
	if s.Labels[v1alpha1.LabelPolicy] != "shop" || !ownedBy(s, getPolicy(t, ns, "shop")) {
		t.Fatalf("labels %v, owners %+v; want the policy label and owner", s.Labels, s.OwnerReferences)
	}
	eventually(t, "start and completion events", func() error {
		var list eventsv1.EventList
		if err := k8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return err
		}
		var reasons []string
		for _, e := range list.Items {
			if e.Regarding.Name == "nightly" {
				reasons = append(reasons, e.Reason)
			}
		}
		if !slices.Contains(reasons, v1alpha1.ReasonRunning) || !slices.Contains(reasons, v1alpha1.ReasonCompleted) {
			return fmt.Errorf("events %v", reasons)
		}
		return nil
	})
}

func TestSnapshotFailsAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	startFleet(t, ns, "web", 1, agent.Options{})
	startFleet(t, ns, "other", 1, agent.Options{})
	startOperator(t, ns, Options{})
	if err := k8s.Create(ctx, snapshotPolicy(ns, "web", "web", t.TempDir())); err != nil {
		t.Fatal(err)
	}
	// Without spec.snapshots the agents have nowhere to write.
	if err := k8s.Create(ctx, newPolicy(ns, "nodir", "other", nil)); err != nil {
		t.Fatal(err)
	}
	waitPolicyCondition(t, ns, "nodir", v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAllAgentsSynced)
	tests := []struct {
		name, policy string
		source       v1alpha1.SnapshotSource
		want         string
	}{
		{"when the named pod does not exist", "web", v1alpha1.SnapshotSource{Strategy: v1alpha1.SourcePod, PodName: "web-9"}, `source pod "web-9" does not exist`},
		{"when the named pod is not the policy's", "web", v1alpha1.SnapshotSource{Strategy: v1alpha1.SourcePod, PodName: "other-0"}, `is not selected by CachePolicy "web"`},
		{"with the agent's message when it refuses", "nodir", v1alpha1.SnapshotSource{}, "snapshots.dir"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name := "fail-" + strconv.Itoa(i)
			createSnapshot(t, newSnapshot(ns, name, tt.policy, func(s *v1alpha1.CacheSnapshotSpec) { s.Source = tt.source }))
			s := waitSnapshot(t, ns, name, v1alpha1.ConditionFailed)
			c := meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionFailed)
			if c.Reason != v1alpha1.ReasonSnapshotFailed || !strings.Contains(c.Message, tt.want) {
				t.Fatalf("Failed %s: %q; want reason %s and a message with %q", c.Reason, c.Message, v1alpha1.ReasonSnapshotFailed, tt.want)
			}
			if meta.IsStatusConditionTrue(s.Status.Conditions, v1alpha1.ConditionReady) || meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionReconciling) != nil {
				t.Fatalf("conditions %+v; want Ready False and no Reconciling", s.Status.Conditions)
			}
		})
	}
}

// fakeSnapshotAgent is an admin API whose snapshot answers the test
// scripts, behind a pod like a real agent. It keeps the uids whose file it
// "wrote" until a delete removes them.
type fakeSnapshotAgent struct {
	mu      sync.Mutex
	session string
	calls   int
	// answer gives the HTTP status of the n-th snapshot call (from 1). It
	// runs with mu held and may change session, as a restart would.
	answer func(f *fakeSnapshotAgent, n int) int
	// files are the uids whose file the fake holds.
	files map[string]bool
	// deletes counts the delete calls; deleteStatus answers them (0 is
	// 200).
	deletes      int
	deleteStatus int
	// policyUID is Status.PolicyUID; "" plays an agent that predates
	// policy uids.
	policyUID string
	// movedDir, when set, is where the fake looks on delete: its policy's
	// snapshots directory changed since it wrote the files.
	movedDir string
	// writeFirst makes the fake write the file before answer decides the
	// reply, as an agent that restarts after writing it, before answering.
	writeFirst bool
}

func startFakeSnapshotAgent(t *testing.T, ns, pod, app string, answer func(f *fakeSnapshotAgent, n int) int) *fakeSnapshotAgent {
	t.Helper()
	f := &fakeSnapshotAgent{session: "session-1", answer: answer, files: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+agentapi.PathStatus, func(w http.ResponseWriter, _ *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		reply(w, http.StatusOK, agentapi.Response[agentapi.Status]{Data: agentapi.Status{SessionID: f.session, Ready: true, PolicyUID: f.policyUID}})
	})
	mux.HandleFunc("POST "+agentapi.PathSnapshot, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls++
		if f.writeFirst {
			f.files[r.PathValue("uid")] = true
		}
		if code := f.answer(f, f.calls); code != http.StatusOK {
			reply(w, code, agentapi.Response[agentapi.SnapshotResult]{Error: &agentapi.Error{Code: agentapi.CodeUnavailable, Message: "disk busy"}})
			return
		}
		uid := r.PathValue("uid")
		f.files[uid] = true
		reply(w, http.StatusOK, agentapi.Response[agentapi.SnapshotResult]{Data: agentapi.SnapshotResult{
			UID: uid, Path: fakeSnapshotPath(uid), Entries: 1, Bytes: 10, Checksum: "sha256:x"}})
	})
	mux.HandleFunc("DELETE "+agentapi.PathSnapshot, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.deletes++
		if f.deleteStatus != 0 && f.deleteStatus != http.StatusOK {
			reply(w, f.deleteStatus, agentapi.Response[agentapi.SnapshotDeleteResult]{Error: &agentapi.Error{Code: agentapi.CodeInternal, Message: "disk busy"}})
			return
		}
		uid := r.PathValue("uid")
		if f.movedDir != "" {
			reply(w, http.StatusOK, agentapi.Response[agentapi.SnapshotDeleteResult]{Data: agentapi.SnapshotDeleteResult{
				UID: uid, Path: f.movedDir + "/" + uid + ".lcs"}})
			return
		}
		res := agentapi.SnapshotDeleteResult{UID: uid, Path: fakeSnapshotPath(uid), Removed: f.files[uid]}
		delete(f.files, uid)
		reply(w, http.StatusOK, agentapi.Response[agentapi.SnapshotDeleteResult]{Data: res})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	createPod(t, ns, pod, map[string]string{"app": app}, p)
	return f
}

// fakeSnapshotPath is where the fake says the file of uid is.
func fakeSnapshotPath(uid string) string { return "/snap/" + uid + ".lcs" }

func reply(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

func (f *fakeSnapshotAgent) snapshotCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// deleteCalls is how many delete calls the fake received.
func (f *fakeSnapshotAgent) deleteCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deletes
}

// hasFile reports whether the fake holds the file of uid.
func (f *fakeSnapshotAgent) hasFile(uid string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.files[uid]
}

// answerDeletes makes the fake answer the next delete calls with code.
func (f *fakeSnapshotAgent) answerDeletes(code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleteStatus = code
}

func TestSnapshotRetriesAnUnavailableAgent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	startOperator(t, ns, Options{})
	tests := []struct {
		name      string
		answer    func(f *fakeSnapshotAgent, n int) int
		condition string
		want      string
		attempts  int32
		calls     int
	}{
		{"and succeeds when it recovers", func(_ *fakeSnapshotAgent, n int) int {
			if n == 1 {
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		}, v1alpha1.ConditionComplete, "1 entries", 2, 2},
		{"and gives up after three attempts", func(*fakeSnapshotAgent, int) int {
			return http.StatusServiceUnavailable
		}, v1alpha1.ConditionFailed, "gave up after 3 attempts", 3, 3},
		{"but fails when the agent restarted meanwhile", func(f *fakeSnapshotAgent, _ int) int {
			f.session = "session-2" // the process died mid-snapshot
			return http.StatusServiceUnavailable
		}, v1alpha1.ConditionFailed, "source agent restarted", 1, 1},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app, name := "fake"+strconv.Itoa(i), "retry-"+strconv.Itoa(i)
			fake := startFakeSnapshotAgent(t, ns, app+"-0", app, tt.answer)
			if err := k8s.Create(ctx, snapshotPolicy(ns, app, app, "/snap")); err != nil {
				t.Fatal(err)
			}
			createSnapshot(t, newSnapshot(ns, name, app, func(s *v1alpha1.CacheSnapshotSpec) {
				s.Source = v1alpha1.SnapshotSource{Strategy: v1alpha1.SourcePod, PodName: app + "-0"}
			}))
			s := waitSnapshot(t, ns, name, tt.condition)
			c := meta.FindStatusCondition(s.Status.Conditions, tt.condition)
			if !strings.Contains(c.Message, tt.want) || s.Status.Attempts != tt.attempts || fake.snapshotCalls() != tt.calls {
				t.Fatalf("%s: %q after %d attempts, %d calls; want %q after %d attempts, %d calls",
					tt.condition, c.Message, s.Status.Attempts, fake.snapshotCalls(), tt.want, tt.attempts, tt.calls)
			}
			if s.Status.SourceSessionID != "session-1" {
				t.Fatalf("sourceSessionID %q; want the session the first attempt saw", s.Status.SourceSessionID)
			}
		})
	}
}

// An operator that died while the agent wrote the snapshot resumes by
// asking the same agent process again, which answers with the file it
// already wrote.
func TestSnapshotResumedAfterAnOperatorRestartAsksTheSameAgentAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	dir := t.TempDir()
	f := startFleet(t, ns, "api", 1, agent.Options{Policy: &agentapi.Policy{Snapshots: agentapi.Snapshots{Dir: dir}}})
	a := f.agents["api-0"]
	if err := a.data.Set(ctx, "k", json.RawMessage(`1`), agentclient.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, newPolicy(ns, "api", "api", nil)); err != nil {
		t.Fatal(err)
	}
	s := newSnapshot(ns, "resumed", "api", nil)
	createSnapshot(t, s)
	session, err := a.admin.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// What the dead operator recorded, and did.
	now := metav1.Now()
	s.Status = v1alpha1.CacheSnapshotStatus{SourcePod: "api-0", SourceSessionID: session.SessionID, StartTime: &now, Attempts: 1}
	if err := k8s.Status().Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	first, err := a.admin.Snapshot(ctx, string(s.UID), agentapi.SnapshotRequest{})
	if err != nil {
		t.Fatal(err)
	}

	r := directSnapshotReconciler(nil)
	if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(s)}); err != nil {
		t.Fatal(err)
	}
	got := getSnapshot(t, ns, "resumed")
	if !meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionComplete) {
		t.Fatalf("conditions %+v; want Complete", got.Status.Conditions)
	}
	if got.Status.Checksum != first.Checksum || got.Status.Path != first.Path || got.Status.Attempts != 2 {
		t.Fatalf("status %+v; want the file written before the restart (%s), two attempts", got.Status, first.Path)
	}

	// A finished snapshot is left alone.
	res, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(s)})
	if again := getSnapshot(t, ns, "resumed"); err != nil || res.RequeueAfter != 0 || again.ResourceVersion != got.ResourceVersion {
		t.Fatalf("reconcile of a finished snapshot = %+v, %v, resourceVersion %s -> %s; want nothing done", res, err, got.ResourceVersion, again.ResourceVersion)
	}
}

// A snapshot waits for what it needs, saying what it waits for, and fails
// once it has waited five minutes.
func TestSnapshotWaitsFiveMinutesThenFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	if err := k8s.Create(ctx, newPolicy(ns, "empty", "nobody", nil)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, policy, reason, want string
	}{
		{"for its policy", "missing", v1alpha1.ReasonPolicyNotFound, `CachePolicy "missing" does not exist`},
		{"for a ready pod", "empty", v1alpha1.ReasonNoReadyPod, `selects no ready pod`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSnapshot(ns, "wait-"+strconv.Itoa(i), tt.policy, nil)
			createSnapshot(t, s)
			var now time.Time
			r := directSnapshotReconciler(func() time.Time { return now })
			req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(s)}

			now = s.CreationTimestamp.Add(time.Minute)
			res, err := r.Reconcile(ctx, req)
			got := getSnapshot(t, ns, s.Name)
			c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReconciling)
			if err != nil || res.RequeueAfter <= 0 || c == nil || c.Status != metav1.ConditionTrue || c.Reason != tt.reason || !strings.Contains(c.Message, tt.want) {
				t.Fatalf("after a minute: %+v, %v, Reconciling %+v; want a requeue and Reconciling %s %q", res, err, c, tt.reason, tt.want)
			}
			if snapshotFinished(got) || got.Status.ObservedGeneration != got.Generation {
				t.Fatalf("status %+v; want running, observedGeneration %d", got.Status, got.Generation)
			}

			now = s.CreationTimestamp.Add(snapshotWaitLimit)
			if res, err = r.Reconcile(ctx, req); err != nil || res.RequeueAfter != 0 {
				t.Fatalf("after five minutes: %+v, %v; want done", res, err)
			}
			got = getSnapshot(t, ns, s.Name)
			c = meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionFailed)
			if c == nil || c.Status != metav1.ConditionTrue || c.Reason != tt.reason || !strings.Contains(c.Message, tt.want) {
				t.Fatalf("after five minutes: Failed %+v; want %s %q", c, tt.reason, tt.want)
			}
		})
	}
}

func TestSnapshotValidationRejectsBadSpecs(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	tests := []struct {
		name string
		mod  func(*v1alpha1.CacheSnapshotSpec)
		want string
	}{
		{"Pod strategy without a pod name", func(s *v1alpha1.CacheSnapshotSpec) {
			s.Source = v1alpha1.SnapshotSource{Strategy: v1alpha1.SourcePod}
		}, "podName is required with strategy Pod"},
		{"a pod name with AnyReadyPod", func(s *v1alpha1.CacheSnapshotSpec) {
			s.Source = v1alpha1.SnapshotSource{Strategy: v1alpha1.SourceAnyReadyPod, PodName: "web-0"}
		}, "not allowed otherwise"},
		{"an unknown strategy", func(s *v1alpha1.CacheSnapshotSpec) {
			s.Source = v1alpha1.SnapshotSource{Strategy: "Random"}
		}, "spec.source.strategy"},
		{"an unknown scope", func(s *v1alpha1.CacheSnapshotSpec) { s.Scope = "Everything" }, "spec.scope"},
		{"no policy", func(s *v1alpha1.CacheSnapshotSpec) { s.PolicyRef.Name = "" }, "spec.policyRef.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mustBeRejected(t, newSnapshot(ns, "", "web", tt.mod), tt.name, tt.want)
		})
	}
}

func TestSnapshotSpecIsImmutable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	s := newSnapshot(ns, "fixed", "web", nil)
	createSnapshot(t, s)
	if s.Spec.Scope != v1alpha1.ScopeLocal {
		t.Fatalf("defaults: %+v; want scope Local", s.Spec)
	}
	s.Spec.Scope = v1alpha1.ScopeAll
	err := k8s.Update(ctx, s)
	if err == nil || !strings.Contains(err.Error(), "spec is immutable") {
		t.Fatalf("update of the spec: %v; want it refused as immutable", err)
	}
}
