package controller

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/internal/policycompile"
	"github.com/layercache/layercache/pkg/agent/agentapi"
)

// CachePolicyReconciler pushes each CachePolicy to the agents of the pods it
// selects and reports how many run it.
//
// It is level-triggered: every pass polls every selected agent, pushes the
// compiled policy to those whose applied hash differs (at most
// rollout.maxConcurrent at once), and writes status only when it changed.
// It re-runs on policy and pod changes and every Options.Resync.
type CachePolicyReconciler struct {
	client.Client
	Recorder events.EventRecorder
	Options  Options

	// metrics exports agent counts; SetupWithManager sets it.
	metrics *policyMetrics
}

// +kubebuilder:rbac:groups=cache.layercache.io,resources=cachepolicies,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=cache.layercache.io,resources=cachepolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one policy's agents to its compiled form.
func (r *CachePolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var policy v1alpha1.CachePolicy
	if err := r.Get(ctx, req.NamespacedName, &policy); err != nil {
		if apierrors.IsNotFound(err) {
			r.metrics.forget(req.Namespace, req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if paused(&policy) {
		return ctrl.Result{}, nil
	}
	before := policy.Status.DeepCopy()
	st := &policy.Status
	gen := policy.Generation
	st.ObservedGeneration = gen

	if policy.Spec.Suspend {
		setCondition(&st.Conditions, gen, v1alpha1.ConditionReconciling, metav1.ConditionFalse, v1alpha1.ReasonSuspended, "spec.suspend is true: the policy is neither pushed nor polled")
		return ctrl.Result{}, r.writeStatus(ctx, &policy, before)
	}

	compiled, err := r.compile(ctx, &policy)
	if err != nil {
		return r.reconcileUncompiled(ctx, &policy, before, err)
	}
	removeCondition(&st.Conditions, v1alpha1.ConditionStalled)
	st.PolicyHash = compiled.Hash
	if err := r.writeBootstrap(ctx, &policy, compiled); err != nil {
		return ctrl.Result{}, err
	}

	agents, err := r.reachAgents(ctx, &policy)
	if err != nil {
		return ctrl.Result{}, err
	}
	r.catchUp(ctx, &policy, agents)
	r.rollOut(ctx, &policy, compiled, agents)
	aggregate(&policy, agents)
	r.metrics.observe(&policy)

	if err := r.writeStatus(ctx, &policy, before); err != nil {
		return ctrl.Result{}, err
	}
	r.announce(&policy, before)
	if st.Agents.Synced < st.Agents.Selected {
		// Still rolling out: look again soon rather than at the resync.
		return ctrl.Result{RequeueAfter: min(r.Options.Resync, 2*time.Second)}, nil
	}
	return ctrl.Result{RequeueAfter: r.Options.Resync}, nil
}

// reachAgents polls the agents of the pods policy selects, once their TLS
// material exists.
func (r *CachePolicyReconciler) reachAgents(ctx context.Context, policy *v1alpha1.CachePolicy) ([]*agentView, error) {
	if r.Options.EnsureAgentTLS != nil {
		if err := r.Options.EnsureAgentTLS(ctx, policy.Namespace); err != nil {
			return nil, fmt.Errorf("agent TLS Secret: %w", err)
		}
	}
	pods, err := selectedPods(ctx, r, policy, nil)
	if err != nil {
		return nil, err
	}
	return r.observe(ctx, policy, pods), nil
}

// compile reads the warming key list, if any, and compiles the policy.
func (r *CachePolicyReconciler) compile(ctx context.Context, policy *v1alpha1.CachePolicy) (agentapi.Policy, error) {
	var in policycompile.Inputs
	if w := policy.Spec.Warming; w != nil && w.FromSnapshot != nil {
		var snap v1alpha1.CacheSnapshot
		key := types.NamespacedName{Namespace: policy.Namespace, Name: w.FromSnapshot.Name}
		if err := r.Get(ctx, key, &snap); err != nil {
			return agentapi.Policy{}, fmt.Errorf("spec.warming.fromSnapshot: CacheSnapshot %s: %w", w.FromSnapshot.Name, err)
		}
		if !meta.IsStatusConditionTrue(snap.Status.Conditions, v1alpha1.ConditionComplete) || snap.Status.Path == "" {
			return agentapi.Policy{}, fmt.Errorf("spec.warming.fromSnapshot: CacheSnapshot %s is not complete", w.FromSnapshot.Name)
		}
		if snap.DeletionTimestamp != nil {
			return agentapi.Policy{}, fmt.Errorf("spec.warming.fromSnapshot: CacheSnapshot %s is being deleted, and its file with it", w.FromSnapshot.Name)
		}
		// The snapshot's watermark counts its policy's invalidations: one
		// taken under a deleted CachePolicy of the same name would make
		// restored agents look current to this one's.
		if !ownedBy(&snap, policy) {
			return agentapi.Policy{}, fmt.Errorf("spec.warming.fromSnapshot: CacheSnapshot %s was not taken under this CachePolicy (uid %s)",
				w.FromSnapshot.Name, policy.UID)
		}
		in.SnapshotPath = snap.Status.Path
	}
	if w := policy.Spec.Warming; w != nil && w.KeysFrom != nil {
		var cm corev1.ConfigMap
		key := types.NamespacedName{Namespace: policy.Namespace, Name: w.KeysFrom.Name}
		if err := r.Get(ctx, key, &cm); err != nil {
			return agentapi.Policy{}, fmt.Errorf("spec.warming.keysFrom: ConfigMap %s: %w", w.KeysFrom.Name, err)
		}
		text, ok := cm.Data[w.KeysFrom.Key]
		if !ok {
			return agentapi.Policy{}, fmt.Errorf("spec.warming.keysFrom: ConfigMap %s has no key %q", w.KeysFrom.Name, w.KeysFrom.Key)
		}
		in.WarmKeys = policycompile.ParseKeyList(text)
	}
	return policycompile.Compile(policy, in)
}

// stalled records a spec the agents cannot be given.
func (r *CachePolicyReconciler) stalled(policy *v1alpha1.CachePolicy, err error) {
	st, gen := &policy.Status, policy.Generation
	setCondition(&st.Conditions, gen, v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonInvalidSpec, err.Error())
	setCondition(&st.Conditions, gen, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec, "the policy cannot be compiled: "+err.Error())
	removeCondition(&st.Conditions, v1alpha1.ConditionReconciling)
	if r.Recorder != nil {
		r.Recorder.Eventf(policy, nil, corev1.EventTypeWarning, v1alpha1.ReasonInvalidSpec, "Compile", "%s", truncate(err.Error(), maxMessage))
	}
}

// writeStatus updates status when it differs from before. A conflict
// (another writer, such as the invalidation controller recording a
// sequence) is returned so the pass runs again on fresh data.
func (r *CachePolicyReconciler) writeStatus(ctx context.Context, policy *v1alpha1.CachePolicy, before *v1alpha1.CachePolicyStatus) error {
	if equality.Semantic.DeepEqual(before, &policy.Status) {
		return nil
	}
	if err := r.Status().Update(ctx, policy); err != nil {
		if apierrors.IsConflict(err) {
			log.FromContext(ctx).V(1).Info("status conflict; retrying", "policy", policy.Name)
		}
		return fmt.Errorf("update status: %w", err)
	}
	return nil
}

// announce emits events on the transitions users care about.
func (r *CachePolicyReconciler) announce(policy *v1alpha1.CachePolicy, before *v1alpha1.CachePolicyStatus) {
	if r.Recorder == nil {
		return
	}
	for _, typ := range []string{v1alpha1.ConditionReady, v1alpha1.ConditionDegraded} {
		now := findCondition(policy.Status.Conditions, typ)
		was := findCondition(before.Conditions, typ)
		if now == nil || (was != nil && was.Status == now.Status && was.Reason == now.Reason) {
			continue
		}
		kind := corev1.EventTypeNormal
		if (typ == v1alpha1.ConditionReady && now.Status != metav1.ConditionTrue) || (typ == v1alpha1.ConditionDegraded && now.Status == metav1.ConditionTrue) {
			kind = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(policy, nil, kind, now.Reason, typ, "%s", now.Message)
	}
}

// SetupWithManager watches policies, the pods they select and the
// ConfigMaps they read warming keys from.
func (r *CachePolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	m, err := newPolicyMetrics(crmetrics.Registry)
	if err != nil {
		return err
	}
	r.metrics = m
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.CachePolicy{}).
		Owns(&corev1.ConfigMap{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.policiesForPod)).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.policiesForConfigMap)).
		Watches(&v1alpha1.CacheSnapshot{}, handler.EnqueueRequestsFromMapFunc(r.policiesForSnapshot)).
		Named("cachepolicy").
		Complete(r)
}

func (r *CachePolicyReconciler) policiesForPod(ctx context.Context, obj client.Object) []reconcile.Request {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil
	}
	policies, err := policiesSelecting(ctx, r, pod)
	if err != nil {
		log.FromContext(ctx).Error(err, "map pod to policies", "pod", pod.Name)
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(policies))
	for _, p := range policies {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: p.Namespace, Name: p.Name}})
	}
	return reqs
}

func (r *CachePolicyReconciler) policiesForConfigMap(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.policiesReferencing(ctx, obj, func(w *v1alpha1.WarmingSpec) bool {
		return w.KeysFrom != nil && w.KeysFrom.Name == obj.GetName()
	})
}

func (r *CachePolicyReconciler) policiesForSnapshot(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.policiesReferencing(ctx, obj, func(w *v1alpha1.WarmingSpec) bool {
		return w.FromSnapshot != nil && w.FromSnapshot.Name == obj.GetName()
	})
}

// policiesReferencing returns the policies of obj's namespace whose warming
// refers to obj, as refers says.
func (r *CachePolicyReconciler) policiesReferencing(ctx context.Context, obj client.Object, refers func(*v1alpha1.WarmingSpec) bool) []reconcile.Request {
	var list v1alpha1.CachePolicyList
	if err := r.List(ctx, &list, client.InNamespace(obj.GetNamespace())); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for _, p := range list.Items {
		if w := p.Spec.Warming; w != nil && refers(w) {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: p.Namespace, Name: p.Name}})
		}
	}
	return reqs
}
