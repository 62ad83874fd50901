package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/agent"
	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/agent/agentclient"
)

func newInvalidation(ns, name, policy string, mod func(*v1alpha1.CacheInvalidationSpec)) *v1alpha1.CacheInvalidation {
	inv := &v1alpha1.CacheInvalidation{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.CacheInvalidationSpec{
			PolicyRef: v1alpha1.LocalObjectReference{Name: policy},
			Target:    v1alpha1.InvalidationTarget{All: true},
		},
	}
	if mod != nil {
		mod(&inv.Spec)
	}
	return inv
}

func mustCreate(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("create %s: %v", obj.GetName(), err)
	}
}

func getInvalidation(t *testing.T, ns, name string) *v1alpha1.CacheInvalidation {
	t.Helper()
	var inv v1alpha1.CacheInvalidation
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &inv); err != nil {
		t.Fatalf("get invalidation %s: %v", name, err)
	}
	return &inv
}

// waitFinished waits, as `kubectl wait --for=condition=<typ>` does, until
// condition typ is True for the invalidation's generation, checks its
// reason and returns the invalidation. Finishing the other way fails the
// test at once.
func waitFinished(t *testing.T, ns, name, typ, reason string) *v1alpha1.CacheInvalidation {
	t.Helper()
	var inv *v1alpha1.CacheInvalidation
	eventually(t, fmt.Sprintf("invalidation %s %s", name, typ), func() error {
		inv = getInvalidation(t, ns, name)
		c := meta.FindStatusCondition(inv.Status.Conditions, typ)
		if c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == inv.Generation {
			return nil
		}
		if isFinished(&inv.Status) {
			t.Fatalf("invalidation %s finished otherwise: %s", name, describeInvalidation(inv))
		}
		return fmt.Errorf("%s", describeInvalidation(inv))
	})
	if c := meta.FindStatusCondition(inv.Status.Conditions, typ); c.Reason != reason {
		t.Fatalf("invalidation %s: %s for reason %s, want %s: %s", name, typ, c.Reason, reason, describeInvalidation(inv))
	}
	if meta.FindStatusCondition(inv.Status.Conditions, v1alpha1.ConditionReconciling) != nil || inv.Status.CompletionTime == nil {
		t.Fatalf("finished invalidation %s is still Reconciling or has no completion time: %s", name, describeInvalidation(inv))
	}
	return inv
}

func describeInvalidation(inv *v1alpha1.CacheInvalidation) string {
	var b strings.Builder
	st := &inv.Status
	fmt.Fprintf(&b, "seq %d progress %q (%d ok, %d failed, %d pending, %d gone)", st.Sequence, st.Progress, st.Succeeded, st.Failed, st.Pending, st.Gone)
	for _, c := range st.Conditions {
		fmt.Fprintf(&b, "; %s=%s %s %q", c.Type, c.Status, c.Reason, c.Message)
	}
	for _, p := range st.Pods {
		fmt.Fprintf(&b, "; pod %s %s attempts %d %q", p.Name, p.State, p.Attempts, p.LastError)
	}
	for _, s := range st.SharedLayers {
		fmt.Fprintf(&b, "; shared by %q attempts %d %q", s.ExecutedBy, s.Attempts, s.LastError)
	}
	return b.String()
}

func podEntry(t *testing.T, inv *v1alpha1.CacheInvalidation, name string) v1alpha1.PodInvalidationResult {
	t.Helper()
	for _, p := range inv.Status.Pods {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("pod %s not in status: %s", name, describeInvalidation(inv))
	return v1alpha1.PodInvalidationResult{}
}

func TestInvalidationByTagPurgesEveryAgentAndCompletes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	f := startFleet(t, ns, "shop", 3, agent.Options{})
	startOperator(t, ns, Options{})
	mustCreate(t, newPolicy(ns, "catalog", "shop", nil))
	waitPolicyCondition(t, ns, "catalog", v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAllAgentsSynced)
	for name, a := range f.agents {
		for key, tags := range map[string][]string{"product:1": {"product:1"}, "product:2": {"product:2"}, "home": nil} {
			if err := a.data.Set(ctx, key, json.RawMessage(`{"v":1}`), agentclient.SetOptions{Tags: tags}); err != nil {
				t.Fatalf("agent %s: set %s: %v", name, key, err)
			}
		}
	}

	mustCreate(t, newInvalidation(ns, "product-1", "catalog", func(s *v1alpha1.CacheInvalidationSpec) {
		s.Target = v1alpha1.InvalidationTarget{Tags: &v1alpha1.TagTarget{Values: []string{"product:1"}}}
	}))
	inv := waitFinished(t, ns, "product-1", v1alpha1.ConditionComplete, v1alpha1.ReasonCompleted)
	st := inv.Status
	if st.Progress != "3/3" || st.Targets != 3 || st.Succeeded != 3 || st.Sequence != 1 || st.KeysRemoved != 3 || len(st.Pods) != 3 {
		t.Fatalf("status: %s; want 3/3 succeeded, sequence 1, 3 keys", describeInvalidation(inv))
	}
	if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
		t.Fatalf("Ready = %+v; want True for kstatus", c)
	}
	if inv.Labels[v1alpha1.LabelPolicy] != "catalog" || len(inv.OwnerReferences) != 1 || inv.OwnerReferences[0].Name != "catalog" {
		t.Fatalf("metadata %+v; want the policy label and owner", inv.ObjectMeta)
	}
	for name, a := range f.agents {
		if _, err := a.data.Get(ctx, "product:1"); !agentclient.IsNotFound(err) {
			t.Errorf("agent %s still serves product:1 (%v)", name, err)
		}
		for _, key := range []string{"product:2", "home"} {
			if _, err := a.data.Get(ctx, key); err != nil {
				t.Errorf("agent %s lost %s: %v", name, key, err)
			}
		}
		if s, err := a.admin.Status(ctx); err != nil || s.LastInvalidationSeq != 1 {
			t.Errorf("agent %s status = %+v, %v; want watermark 1", name, s, err)
		}
	}

	// The next one takes the next number.
	mustCreate(t, newInvalidation(ns, "home", "catalog", func(s *v1alpha1.CacheInvalidationSpec) {
		s.Target = v1alpha1.InvalidationTarget{Keys: []string{"home"}}
	}))
	if inv := waitFinished(t, ns, "home", v1alpha1.ConditionComplete, v1alpha1.ReasonCompleted); inv.Status.Sequence != 2 {
		t.Fatalf("second invalidation has sequence %d, want 2", inv.Status.Sequence)
	}
	if p := getPolicy(t, ns, "catalog"); p.Status.Invalidation.LastSequence != 2 {
		t.Fatalf("policy ledger at %d, want 2", p.Status.Invalidation.LastSequence)
	}
}

// The shared Redis tier is invalidated once, through one agent; then every
// agent drops its own copies, including the ones it read from Redis.
func TestInvalidationPurgesRedisOnceThenEveryPod(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	redis := redistest.Start(t)
	f := startFleet(t, ns, "shop", 2, agent.Options{})
	startOperator(t, ns, Options{})
	mustCreate(t, newPolicy(ns, "catalog", "shop", func(s *v1alpha1.CachePolicySpec) {
		s.Layers.Redis = &v1alpha1.RedisLayerSpec{Enabled: true, Address: redis.Addr(), KeyPrefix: redistest.Prefix(t)}
	}))
	waitPolicyCondition(t, ns, "catalog", v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAllAgentsSynced)
	writer, reader := f.agents["shop-0"], f.agents["shop-1"]
	for key, tags := range map[string][]string{"product:1": {"product:1"}, "home": nil} {
		if err := writer.data.Set(ctx, key, json.RawMessage(`1`), agentclient.SetOptions{Tags: tags}); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := reader.data.Get(ctx, "product:1"); err != nil || v.Cache != agentapi.CacheHit {
		t.Fatalf("the other agent reads product:1 = %+v, %v; want a hit from Redis", v, err)
	}

	mustCreate(t, newInvalidation(ns, "product-1", "catalog", func(s *v1alpha1.CacheInvalidationSpec) {
		s.Target = v1alpha1.InvalidationTarget{Tags: &v1alpha1.TagTarget{Values: []string{"product:1"}}}
	}))
	inv := waitFinished(t, ns, "product-1", v1alpha1.ConditionComplete, v1alpha1.ReasonCompleted)
	if len(inv.Status.SharedLayers) != 1 {
		t.Fatalf("status: %s; want one shared-tier record", describeInvalidation(inv))
	}
	sh := inv.Status.SharedLayers[0]
	if sh.Layer != v1alpha1.LayerRedis || sh.ExecutedBy == "" || sh.KeysRemoved != 1 || sh.CompletionTime == nil || sh.Attempts != 1 {
		t.Fatalf("shared record %+v; want Redis done once by one pod, 1 key", sh)
	}
	for name, a := range f.agents {
		// A copy left in Redis would be read through and found.
		if _, err := a.data.Get(ctx, "product:1"); !agentclient.IsNotFound(err) {
			t.Errorf("agent %s still serves product:1 (%v)", name, err)
		}
		if _, err := a.data.Get(ctx, "home"); err != nil {
			t.Errorf("agent %s lost home: %v", name, err)
		}
	}
}

// fakeAgent is an admin API standing in for an agent whose answers a test
// controls: the faults a real agent cannot be made to produce on demand.
type fakeAgent struct {
	port   int
	shared bool
	// answer returns the HTTP status of the n-th request (from 1) with
	// req's uid; it may block until ctx ends. nil answers 200.
	answer func(ctx context.Context, req agentapi.InvalidationRequest, n int) int

	mu    sync.Mutex
	calls []agentapi.InvalidationRequest
	hash  string
	seq   int64
	// policyUID is the uid of the applied policy, whose sequences seq
	// counts, as a real agent's watermark does.
	policyUID string
	// refusePolicy makes the fake refuse every policy pushed to it,
	// keeping the one it runs.
	refusePolicy bool
	// legacy plays an agent older than policy uids: it refuses requests
	// with a policyUID field, as its strict decoding would.
	legacy   bool
	refusals int // requests refused for their policyUID field
	// awaiting is Status.AwaitingSync: the fake plays an agent restored
	// from a snapshot until a sync reaches its watermark.
	awaiting bool
	syncs    []int64 // the lastSequence of every sync received
}

func startFake(t *testing.T, shared bool, answer func(ctx context.Context, req agentapi.InvalidationRequest, n int) int) *fakeAgent {
	t.Helper()
	f := &fakeAgent{shared: shared, answer: answer}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+agentapi.PathStatus, f.status)
	mux.HandleFunc("PUT "+agentapi.PathPolicy, f.policy)
	mux.HandleFunc("POST "+agentapi.PathInvalidation, f.invalidate)
	mux.HandleFunc("POST "+agentapi.PathSync, f.sync)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	f.port, _ = strconv.Atoi(port)
	return f
}

func (f *fakeAgent) status(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	st := agentapi.Status{SessionID: "fake", PolicyHash: f.hash, LastInvalidationSeq: f.seq, PolicyUID: f.policyUID, Ready: !f.awaiting,
		AwaitingSync: f.awaiting, Layers: []agentapi.LayerStatus{{Name: "memory"}}}
	f.mu.Unlock()
	if f.shared {
		st.Layers = append(st.Layers, agentapi.LayerStatus{Name: "redis", Shared: true})
	}
	fakeReply(w, http.StatusOK, agentapi.Response[agentapi.Status]{Data: st})
}

func (f *fakeAgent) policy(w http.ResponseWriter, r *http.Request) {
	var p agentapi.Policy
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		fakeReply(w, http.StatusBadRequest, agentapi.Response[struct{}]{Error: &agentapi.Error{Code: agentapi.CodeBadRequest, Message: err.Error()}})
		return
	}
	f.mu.Lock()
	if f.refusePolicy {
		f.mu.Unlock()
		fakeReply(w, http.StatusUnprocessableEntity, agentapi.Response[struct{}]{Error: &agentapi.Error{Code: agentapi.CodeInvalidPolicy, Message: "refused by the test"}})
		return
	}
	f.hash = p.Hash
	if p.UID != f.policyUID {
		f.policyUID, f.seq = p.UID, 0
	}
	f.mu.Unlock()
	fakeReply(w, http.StatusOK, agentapi.Response[agentapi.PolicyResult]{Data: agentapi.PolicyResult{Generation: p.Generation, Hash: p.Hash, Changed: true}})
}

func (f *fakeAgent) invalidate(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		fakeReply(w, http.StatusBadRequest, agentapi.Response[struct{}]{Error: &agentapi.Error{Code: agentapi.CodeBadRequest, Message: err.Error()}})
		return
	}
	f.mu.Lock()
	legacy := f.legacy
	if legacy && bytes.Contains(body, []byte(`"policyUID"`)) {
		f.refusals++
		f.mu.Unlock()
		fakeReply(w, http.StatusBadRequest, agentapi.Response[struct{}]{Error: &agentapi.Error{Code: agentapi.CodeBadRequest,
			Message: `agentapi: decode: json: unknown field "policyUID"`}})
		return
	}
	f.mu.Unlock()
	var req agentapi.InvalidationRequest
	if err := json.Unmarshal(body, &req); err != nil {
		fakeReply(w, http.StatusBadRequest, agentapi.Response[struct{}]{Error: &agentapi.Error{Code: agentapi.CodeBadRequest, Message: err.Error()}})
		return
	}
	req.UID = r.PathValue("uid")
	f.mu.Lock()
	f.calls = append(f.calls, req)
	n := f.countLocked(req.UID, req.Layers)
	f.mu.Unlock()
	code := http.StatusOK
	if f.answer != nil {
		code = f.answer(r.Context(), req, n)
	}
	if code != http.StatusOK {
		ec := agentapi.CodeInternal
		if code < 500 {
			ec = agentapi.CodeInvalidRequest
		}
		fakeReply(w, code, agentapi.Response[struct{}]{Error: &agentapi.Error{Code: ec, Message: "injected by the test"}})
		return
	}
	f.mu.Lock()
	if req.Layers != agentapi.LayersShared && (req.PolicyUID == "" || req.PolicyUID == f.policyUID) {
		f.seq = max(f.seq, req.Seq)
	}
	f.mu.Unlock()
	fakeReply(w, http.StatusOK, agentapi.Response[agentapi.InvalidationResult]{Data: agentapi.InvalidationResult{
		UID: req.UID, Seq: req.Seq, Layers: req.Layers, KeysRemoved: 1}})
}

func (f *fakeAgent) sync(w http.ResponseWriter, r *http.Request) {
	var req agentapi.SyncRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fakeReply(w, http.StatusBadRequest, agentapi.Response[struct{}]{Error: &agentapi.Error{Code: agentapi.CodeBadRequest, Message: err.Error()}})
		return
	}
	f.mu.Lock()
	f.syncs = append(f.syncs, req.LastSequence)
	if f.seq >= req.LastSequence && (req.PolicyUID == "" || req.PolicyUID == f.policyUID) {
		f.awaiting = false
	}
	res := agentapi.SyncResult{Watermark: f.seq, AwaitingSync: f.awaiting}
	f.mu.Unlock()
	fakeReply(w, http.StatusOK, agentapi.Response[agentapi.SyncResult]{Data: res})
}

func (f *fakeAgent) countLocked(uid string, layers agentapi.LayerScope) int {
	n := 0
	for _, c := range f.calls {
		if c.UID == uid && c.Layers == layers {
			n++
		}
	}
	return n
}

// count is how many requests with uid on layers the fake received.
func (f *fakeAgent) count(uid string, layers agentapi.LayerScope) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.countLocked(uid, layers)
}

func fakeReply[T any](w http.ResponseWriter, code int, body agentapi.Response[T]) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body) // the client may have gone
}

// failFirst answers code to the first k requests of a uid, then 200.
func failFirst(k, code int) func(context.Context, agentapi.InvalidationRequest, int) int {
	return func(_ context.Context, _ agentapi.InvalidationRequest, n int) int {
		if n <= k {
			return code
		}
		return http.StatusOK
	}
}

// hangForever never answers: it returns when the caller gives up.
func hangForever(ctx context.Context, _ agentapi.InvalidationRequest, _ int) int {
	<-ctx.Done()
	return http.StatusServiceUnavailable
}

func TestInvalidationRetriesAnAgentThatFailsThenSucceeds(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	fake := startFake(t, false, failFirst(1, http.StatusInternalServerError))
	createPod(t, ns, "web-0", map[string]string{"app": "web"}, fake.port)
	startOperator(t, ns, Options{})
	mustCreate(t, newPolicy(ns, "web", "web", nil))
	mustCreate(t, newInvalidation(ns, "flush", "web", nil))
	inv := waitFinished(t, ns, "flush", v1alpha1.ConditionComplete, v1alpha1.ReasonCompleted)
	p := podEntry(t, inv, "web-0")
	if p.State != v1alpha1.PodSucceeded || p.Attempts != 2 || p.LastError != "" || p.NextAttemptTime != nil {
		t.Fatalf("pod %+v; want succeeded at the second attempt", p)
	}
	if n := fake.count(string(inv.UID), agentapi.LayersLocal); n != 2 {
		t.Fatalf("the agent got %d requests, want 2", n)
	}
}

func TestInvalidationOfAnAgentThatNeverAnswersFailsAtTheBackoffLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	fake := startFake(t, false, hangForever)
	createPod(t, ns, "web-0", map[string]string{"app": "web"}, fake.port)
	startOperator(t, ns, Options{})
	mustCreate(t, newPolicy(ns, "web", "web", nil))
	mustCreate(t, newInvalidation(ns, "flush", "web", func(s *v1alpha1.CacheInvalidationSpec) {
		s.PerPodTimeoutSeconds, s.BackoffLimit = ptr.To[int32](1), ptr.To[int32](1)
	}))
	inv := waitFinished(t, ns, "flush", v1alpha1.ConditionFailed, v1alpha1.ReasonBackoffLimitExceeded)
	p := podEntry(t, inv, "web-0")
	if p.State != v1alpha1.PodFailed || p.Attempts != 2 || !strings.Contains(p.LastError, "no answer within 1s") {
		t.Fatalf("pod %+v; want failed after 2 attempts that timed out", p)
	}
	if n := fake.count(string(inv.UID), agentapi.LayersLocal); n != 2 {
		t.Fatalf("the agent got %d requests, want 2 (backoffLimit 1)", n)
	}
	if meta.FindStatusCondition(inv.Status.Conditions, v1alpha1.ConditionComplete) != nil || inv.Status.Progress != "0/1" || inv.Status.Failed != 1 {
		t.Fatalf("status: %s; want 0/1 and no Complete condition", describeInvalidation(inv))
	}
	eventually(t, "a PodFailed event", func() error {
		var list eventsv1.EventList
		if err := k8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Reason == v1alpha1.ReasonPodFailed && e.Regarding.Name == "flush" && strings.Contains(e.Note, "web-0") {
				return nil
			}
		}
		return fmt.Errorf("%d events, none about web-0 failing", len(list.Items))
	})
}

func TestInvalidationRefusedByAnAgentIsNotRetried(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	fake := startFake(t, false, failFirst(1000, http.StatusUnprocessableEntity))
	createPod(t, ns, "web-0", map[string]string{"app": "web"}, fake.port)
	startOperator(t, ns, Options{})
	mustCreate(t, newPolicy(ns, "web", "web", nil))
	mustCreate(t, newInvalidation(ns, "flush", "web", nil))
	inv := waitFinished(t, ns, "flush", v1alpha1.ConditionFailed, v1alpha1.ReasonBackoffLimitExceeded)
	if p := podEntry(t, inv, "web-0"); p.State != v1alpha1.PodFailed || p.Attempts != 1 || !strings.Contains(p.LastError, "InvalidRequest") {
		t.Fatalf("pod %+v; want failed at once with the agent's reason", p)
	}
	if n := fake.count(string(inv.UID), agentapi.LayersLocal); n != 1 {
		t.Fatalf("the agent got %d requests, want 1", n)
	}
}

func TestInvalidationCountsADeletedPodAsGone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	good := startFake(t, false, nil)
	bad := startFake(t, false, failFirst(1000, http.StatusInternalServerError))
	createPod(t, ns, "web-0", map[string]string{"app": "web"}, good.port)
	doomed := createPod(t, ns, "web-1", map[string]string{"app": "web"}, bad.port)
	startOperator(t, ns, Options{})
	mustCreate(t, newPolicy(ns, "web", "web", nil))
	mustCreate(t, newInvalidation(ns, "flush", "web", func(s *v1alpha1.CacheInvalidationSpec) { s.BackoffLimit = ptr.To[int32](50) }))
	eventually(t, "web-1 retried", func() error {
		inv := getInvalidation(t, ns, "flush")
		for _, p := range inv.Status.Pods {
			if p.Name == "web-1" && p.Attempts > 0 {
				return nil
			}
		}
		return fmt.Errorf("web-1 not attempted yet: %s", describeInvalidation(inv))
	})
	if err := k8s.Delete(ctx, doomed); err != nil {
		t.Fatal(err)
	}
	inv := waitFinished(t, ns, "flush", v1alpha1.ConditionComplete, v1alpha1.ReasonCompleted)
	if p := podEntry(t, inv, "web-1"); p.State != v1alpha1.PodGone {
		t.Fatalf("web-1 %+v; want Gone", p)
	}
	if st := inv.Status; st.Progress != "2/2" || st.Gone != 1 || st.Succeeded != 1 || st.Failed != 0 {
		t.Fatalf("status: %s; want 2/2 with one gone", describeInvalidation(inv))
	}
}

func TestInvalidationFailsAtItsDeadline(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	fake := startFake(t, false, failFirst(1000, http.StatusServiceUnavailable))
	createPod(t, ns, "web-0", map[string]string{"app": "web"}, fake.port)
	startOperator(t, ns, Options{})
	mustCreate(t, newPolicy(ns, "web", "web", nil))
	mustCreate(t, newInvalidation(ns, "flush", "web", func(s *v1alpha1.CacheInvalidationSpec) {
		s.BackoffLimit, s.ActiveDeadlineSeconds = ptr.To[int32](100), ptr.To[int32](2)
	}))
	inv := waitFinished(t, ns, "flush", v1alpha1.ConditionFailed, v1alpha1.ReasonDeadlineExceeded)
	if p := podEntry(t, inv, "web-0"); p.State != v1alpha1.PodFailed || !strings.Contains(p.LastError, "activeDeadlineSeconds") || inv.Status.Pending != 0 {
		t.Fatalf("status: %s; want the pod failed for the deadline and nothing pending", describeInvalidation(inv))
	}
}

// An operator stopped mid-run is replaced by a new one that resumes the run
// from status: the same sequence, no failure, and the pod asked at most
// backoffLimit+1 times in all.
func TestInvalidationResumesAfterAnOperatorRestart(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	reached := make(chan struct{}, 1)
	fake := startFake(t, false, func(ctx context.Context, _ agentapi.InvalidationRequest, n int) int {
		if n == 1 {
			reached <- struct{}{}
			<-ctx.Done() // blocks until the first operator goes away
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	createPod(t, ns, "web-0", map[string]string{"app": "web"}, fake.port)
	first := startOperator(t, ns, Options{})
	mustCreate(t, newPolicy(ns, "web", "web", nil))
	mustCreate(t, newInvalidation(ns, "flush", "web", func(s *v1alpha1.CacheInvalidationSpec) { s.PerPodTimeoutSeconds = ptr.To[int32](3600) }))
	<-reached

	var sawFailed atomic.Bool
	stopWatch := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopWatch:
				return
			case <-tick.C:
			}
			var inv v1alpha1.CacheInvalidation
			if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "flush"}, &inv); err == nil &&
				meta.IsStatusConditionTrue(inv.Status.Conditions, v1alpha1.ConditionFailed) {
				sawFailed.Store(true)
			}
		}
	}()
	first.stop()
	startOperator(t, ns, Options{})
	inv := waitFinished(t, ns, "flush", v1alpha1.ConditionComplete, v1alpha1.ReasonCompleted)
	close(stopWatch)
	<-watched
	if sawFailed.Load() {
		t.Fatal("the invalidation was Failed at some point")
	}
	if n := fake.count(string(inv.UID), agentapi.LayersLocal); n < 2 || n > 4 {
		t.Fatalf("the agent got %d requests; want the interrupted one and a resumed one, at most 4", n)
	}
	if inv.Status.Sequence != 1 || getPolicy(t, ns, "web").Status.Invalidation.LastSequence != 1 {
		t.Fatalf("sequence %d, policy ledger %d; want the run resumed as #1, not started again",
			inv.Status.Sequence, getPolicy(t, ns, "web").Status.Invalidation.LastSequence)
	}
}

func TestSharedTierFallsBackToAnotherPodAndRunsBeforeThePods(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	// The agent first in name order cannot reach Redis.
	broken := startFake(t, true, func(_ context.Context, req agentapi.InvalidationRequest, _ int) int {
		if req.Layers == agentapi.LayersShared {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	var order []agentapi.LayerScope
	var mu sync.Mutex
	working := startFake(t, true, func(_ context.Context, req agentapi.InvalidationRequest, _ int) int {
		mu.Lock()
		order = append(order, req.Layers)
		mu.Unlock()
		return http.StatusOK
	})
	createPod(t, ns, "web-0", map[string]string{"app": "web"}, broken.port)
	createPod(t, ns, "web-1", map[string]string{"app": "web"}, working.port)
	startOperator(t, ns, Options{})
	mustCreate(t, newPolicy(ns, "web", "web", func(s *v1alpha1.CachePolicySpec) {
		s.Layers.Redis = &v1alpha1.RedisLayerSpec{Enabled: true, Address: "127.0.0.1:1", KeyPrefix: "web:"}
	}))
	mustCreate(t, newInvalidation(ns, "flush", "web", nil))
	inv := waitFinished(t, ns, "flush", v1alpha1.ConditionComplete, v1alpha1.ReasonCompleted)
	if sh := inv.Status.SharedLayers; len(sh) != 1 || sh[0].ExecutedBy != "web-1" || sh[0].Attempts != 1 {
		t.Fatalf("status: %s; want the shared tier done by web-1 in one attempt", describeInvalidation(inv))
	}
	uid := string(inv.UID)
	if broken.count(uid+"-shared", agentapi.LayersShared) != 1 || working.count(uid+"-shared", agentapi.LayersShared) != 1 {
		t.Fatalf("shared requests: web-0 %d, web-1 %d; want one each", broken.count(uid+"-shared", agentapi.LayersShared), working.count(uid+"-shared", agentapi.LayersShared))
	}
	if broken.count(uid, agentapi.LayersLocal) != 1 || working.count(uid, agentapi.LayersLocal) != 1 {
		t.Fatal("each pod must get exactly one local request")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(order) != 2 || order[0] != agentapi.LayersShared || order[1] != agentapi.LayersLocal {
		t.Fatalf("web-1 got %v; want the shared request before its local one", order)
	}
}

// More targets than status.pods can list: the run completes and lists only
// pods that did not succeed.
func TestInvalidationOfMoreThanAHundredPods(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	fake := startFake(t, false, nil)
	const n = 105
	for i := range n {
		createPod(t, ns, fmt.Sprintf("big-%03d", i), map[string]string{"app": "big"}, fake.port)
	}
	startOperator(t, ns, Options{})
	mustCreate(t, newPolicy(ns, "big", "big", nil))
	mustCreate(t, newInvalidation(ns, "flush", "big", func(s *v1alpha1.CacheInvalidationSpec) { s.Parallelism = ptr.To[int32](50) }))
	inv := waitFinished(t, ns, "flush", v1alpha1.ConditionComplete, v1alpha1.ReasonCompleted)
	if st := inv.Status; st.Progress != "105/105" || st.Succeeded != n || len(st.Pods) != 0 || st.KeysRemoved != n {
		t.Fatalf("status: %s; want 105/105 and no pod listed", describeInvalidation(inv))
	}
	if inv.Annotations[v1alpha1.AnnotationTargets] == "" {
		t.Fatal("the frozen target set is not recorded")
	}
	if got := fake.count(string(inv.UID), agentapi.LayersLocal); got != n {
		t.Fatalf("%d requests, want one per pod", got)
	}
}

func TestInvalidationWaitsForItsPolicy(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	startOperator(t, ns, Options{})
	mustCreate(t, newInvalidation(ns, "early", "later", nil))
	eventually(t, "waiting for the policy", func() error {
		inv := getInvalidation(t, ns, "early")
		c := meta.FindStatusCondition(inv.Status.Conditions, v1alpha1.ConditionReconciling)
		if c == nil || c.Reason != v1alpha1.ReasonPolicyNotFound || !strings.Contains(c.Message, `"later"`) {
			return fmt.Errorf("%s", describeInvalidation(inv))
		}
		return nil
	})
	// A policy with no pods: nothing is cached locally, nothing to do.
	mustCreate(t, newPolicy(ns, "later", "nobody", nil))
	if inv := waitFinished(t, ns, "early", v1alpha1.ConditionComplete, v1alpha1.ReasonCompleted); inv.Status.Progress != "0/0" || inv.Status.Sequence != 1 {
		t.Fatalf("status: %s; want 0/0 as #1", describeInvalidation(inv))
	}
}

func TestInvalidationFailsWhenItsPolicyNeverAppears(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	startOperator(t, ns, Options{})
	mustCreate(t, newInvalidation(ns, "orphan", "missing", func(s *v1alpha1.CacheInvalidationSpec) { s.ActiveDeadlineSeconds = ptr.To[int32](1) }))
	waitFinished(t, ns, "orphan", v1alpha1.ConditionFailed, v1alpha1.ReasonPolicyNotFound)
}

func TestInvalidationOfRedisWithNoPodToRunItFails(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	startOperator(t, ns, Options{})
	mustCreate(t, newPolicy(ns, "shared", "nobody", func(s *v1alpha1.CachePolicySpec) {
		s.Layers.Redis = &v1alpha1.RedisLayerSpec{Enabled: true, Address: "127.0.0.1:1", KeyPrefix: "s:"}
	}))
	mustCreate(t, newInvalidation(ns, "flush", "shared", nil))
	if inv := waitFinished(t, ns, "flush", v1alpha1.ConditionFailed, v1alpha1.ReasonNoTargets); inv.Status.Sequence != 0 {
		t.Fatalf("a run that did nothing took sequence %d", inv.Status.Sequence)
	}
}

func TestFinishedInvalidationsAreDeletedAfterTheirTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	startOperator(t, ns, Options{})
	mustCreate(t, newPolicy(ns, "short", "nobody", func(s *v1alpha1.CachePolicySpec) {
		s.Invalidation = &v1alpha1.InvalidationDefaults{TTLSecondsAfterFinished: ptr.To[int32](1)}
	}))
	mustCreate(t, newPolicy(ns, "keep", "nobody", nil))
	mustCreate(t, newInvalidation(ns, "by-policy-default", "short", nil))
	mustCreate(t, newInvalidation(ns, "by-own-ttl", "keep", func(s *v1alpha1.CacheInvalidationSpec) { s.TTLSecondsAfterFinished = ptr.To[int32](1) }))
	for _, name := range []string{"by-policy-default", "by-own-ttl"} {
		eventually(t, name+" deleted", func() error {
			var inv v1alpha1.CacheInvalidation
			err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &inv)
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("still there (%v): %s", err, describeInvalidation(&inv))
		})
	}
}

func TestHistoryLimitKeepsTheNewestAndNeverARunningOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	// The first invalidation the agent sees blocks until released.
	var blockUID atomic.Value
	blockUID.Store("")
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	reached := make(chan struct{}, 1)
	fake := startFake(t, false, func(ctx context.Context, req agentapi.InvalidationRequest, _ int) int {
		blockUID.CompareAndSwap("", req.UID)
		if req.UID == blockUID.Load() {
			select {
			case reached <- struct{}{}:
			default:
			}
			select {
			case <-release:
			case <-ctx.Done():
				return http.StatusServiceUnavailable
			}
		}
		return http.StatusOK
	})
	createPod(t, ns, "web-0", map[string]string{"app": "web"}, fake.port)
	startOperator(t, ns, Options{})
	mustCreate(t, newPolicy(ns, "web", "web", func(s *v1alpha1.CachePolicySpec) {
		s.Invalidation = &v1alpha1.InvalidationDefaults{HistoryLimit: 1}
	}))
	running := newInvalidation(ns, "a-running", "web", func(s *v1alpha1.CacheInvalidationSpec) {
		s.PerPodTimeoutSeconds, s.BackoffLimit = ptr.To[int32](3600), ptr.To[int32](20)
	})
	mustCreate(t, running)
	<-reached
	var last *v1alpha1.CacheInvalidation
	for _, name := range []string{"b", "c"} {
		mustCreate(t, newInvalidation(ns, name, "web", nil))
		last = waitFinished(t, ns, name, v1alpha1.ConditionComplete, v1alpha1.ReasonCompleted)
	}
	exists := func(name string) bool {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &v1alpha1.CacheInvalidation{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		return err == nil
	}
	eventually(t, "b pruned", func() error {
		if exists("b") || !exists("c") || !exists("a-running") {
			return fmt.Errorf("b %v, c %v, a-running %v; want only b gone", exists("b"), exists("c"), exists("a-running"))
		}
		return nil
	})
	// Completion times are kept to the second: let c's second pass, so that
	// a-running finishes strictly after it.
	eventually(t, "the second c finished in to pass", func() error {
		if !time.Now().After(last.Status.CompletionTime.Add(time.Second)) {
			return fmt.Errorf("still %s", time.Now())
		}
		return nil
	})
	releaseOnce.Do(func() { close(release) })
	waitFinished(t, ns, "a-running", v1alpha1.ConditionComplete, v1alpha1.ReasonCompleted)
	eventually(t, "c pruned once a-running finished after it", func() error {
		if exists("c") || !exists("a-running") {
			return fmt.Errorf("c %v, a-running %v; want only a-running kept", exists("c"), exists("a-running"))
		}
		return nil
	})
}

// Every validation rule of CacheInvalidation rejects a bad spec at the API
// server with a message that names the rule or the field.
func TestCacheInvalidationValidationRejectsBadSpecs(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	exactlyOne := "set exactly one of tags, keys, keyPrefixes, patterns or all: true"
	tests := []struct {
		name string
		mod  func(s *v1alpha1.CacheInvalidationSpec)
		want string
	}{
		{"no target", func(s *v1alpha1.CacheInvalidationSpec) { s.Target = v1alpha1.InvalidationTarget{} }, exactlyOne},
		{"two targets", func(s *v1alpha1.CacheInvalidationSpec) {
			s.Target = v1alpha1.InvalidationTarget{Keys: []string{"a"}, KeyPrefixes: []string{"b"}}
		}, exactlyOne},
		{"tags and all", func(s *v1alpha1.CacheInvalidationSpec) {
			s.Target = v1alpha1.InvalidationTarget{Tags: &v1alpha1.TagTarget{Values: []string{"t"}}, All: true}
		}, exactlyOne},
		{"all: false alone", func(s *v1alpha1.CacheInvalidationSpec) { s.Target = v1alpha1.InvalidationTarget{All: false} }, exactlyOne},
		{"too many keys", func(s *v1alpha1.CacheInvalidationSpec) {
			s.Target = v1alpha1.InvalidationTarget{Keys: make([]string, 1001)}
			for i := range s.Target.Keys {
				s.Target.Keys[i] = "k" + strconv.Itoa(i)
			}
		}, "spec.target.keys: Too many"},
		{"an empty key", func(s *v1alpha1.CacheInvalidationSpec) { s.Target = v1alpha1.InvalidationTarget{Keys: []string{""}} }, "spec.target.keys[0]"},
		{"a key too long", func(s *v1alpha1.CacheInvalidationSpec) {
			s.Target = v1alpha1.InvalidationTarget{Patterns: []string{strings.Repeat("x", 1025)}}
		}, "spec.target.patterns[0]"},
		{"tags without values", func(s *v1alpha1.CacheInvalidationSpec) {
			s.Target = v1alpha1.InvalidationTarget{Tags: &v1alpha1.TagTarget{Values: []string{}}}
		}, "spec.target.tags.values"},
		{"an unknown tag match", func(s *v1alpha1.CacheInvalidationSpec) {
			s.Target = v1alpha1.InvalidationTarget{Tags: &v1alpha1.TagTarget{Values: []string{"t"}, Match: "Some"}}
		}, "spec.target.tags.match"},
		{"an unknown layer", func(s *v1alpha1.CacheInvalidationSpec) { s.Layers = []v1alpha1.Layer{"CDN"} }, "spec.layers[0]"},
		{"too many layers", func(s *v1alpha1.CacheInvalidationSpec) {
			s.Layers = []v1alpha1.Layer{v1alpha1.LayerMemory, v1alpha1.LayerRedis, v1alpha1.LayerDisk, v1alpha1.LayerMemory}
		}, "spec.layers"},
		{"no parallelism", func(s *v1alpha1.CacheInvalidationSpec) { s.Parallelism = ptr.To[int32](0) }, "spec.parallelism"},
		{"a negative backoff limit", func(s *v1alpha1.CacheInvalidationSpec) { s.BackoffLimit = ptr.To[int32](-1) }, "spec.backoffLimit"},
		{"no policy", func(s *v1alpha1.CacheInvalidationSpec) { s.PolicyRef.Name = "" }, "spec.policyRef.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mustBeRejected(t, newInvalidation(ns, "", "p", tt.mod), tt.name, tt.want)
		})
	}
}

func TestCacheInvalidationSpecIsImmutable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	inv := newInvalidation(ns, "once", "p", func(s *v1alpha1.CacheInvalidationSpec) {
		s.Target = v1alpha1.InvalidationTarget{Keys: []string{"a"}}
	})
	mustCreate(t, inv)
	inv.Spec.Target.Keys = []string{"b"}
	if err := k8s.Update(ctx, inv); err == nil || !strings.Contains(err.Error(), "spec is immutable; create a new CacheInvalidation") {
		t.Fatalf("update of the spec = %v; want the immutability rule", err)
	}
	// Metadata stays editable.
	inv = getInvalidation(t, ns, "once")
	inv.Labels = map[string]string{"team": "shop"}
	if err := k8s.Update(ctx, inv); err != nil {
		t.Fatalf("update of the labels: %v", err)
	}
}
