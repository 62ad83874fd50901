package controller

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/pkg/agent/agentapi"
)

// Defaults of a CacheInvalidation's knobs, as its spec documents them.
const (
	defaultParallelism           = 10
	defaultPerPodTimeoutSeconds  = 10
	defaultBackoffLimit          = 3
	defaultActiveDeadlineSeconds = 300
	// defaultHistoryLimit is the policy's invalidation.historyLimit when
	// unset.
	defaultHistoryLimit = 20
)

// maxStatusPods is the CRD's cap on status.pods.
const maxStatusPods = 100

// A pod that failed is retried after 1s, 2s, 4s, … at most retryMax.
const (
	retryBase = time.Second
	retryMax  = 30 * time.Second
)

// runParams are an invalidation's knobs with the defaults applied.
type runParams struct {
	parallelism    int
	perPodTimeout  time.Duration
	backoffLimit   int32
	activeDeadline time.Duration
}

func paramsOf(spec *v1alpha1.CacheInvalidationSpec) runParams {
	p := runParams{
		parallelism:    defaultParallelism,
		perPodTimeout:  defaultPerPodTimeoutSeconds * time.Second,
		backoffLimit:   defaultBackoffLimit,
		activeDeadline: defaultActiveDeadlineSeconds * time.Second,
	}
	if v := spec.Parallelism; v != nil && *v > 0 {
		p.parallelism = int(*v)
	}
	if v := spec.PerPodTimeoutSeconds; v != nil && *v > 0 {
		p.perPodTimeout = time.Duration(*v) * time.Second
	}
	if v := spec.BackoffLimit; v != nil && *v >= 0 {
		p.backoffLimit = *v
	}
	if v := spec.ActiveDeadlineSeconds; v != nil && *v > 0 {
		p.activeDeadline = time.Duration(*v) * time.Second
	}
	return p
}

// retryDelay is the wait before the next attempt after attempts failed
// ones: 1s, 2s, 4s, … capped at retryMax.
func retryDelay(attempts int32) time.Duration {
	d := retryBase
	for i := int32(1); i < attempts; i++ {
		if d *= 2; d >= retryMax {
			return retryMax
		}
	}
	return d
}

// retryAt is when the next attempt is due after attempts failed ones, the
// last of them ending at end: retryDelay later, rounded up to a whole
// second, since status keeps times to the second and rounding down would
// cut the wait short.
func retryAt(end time.Time, attempts int32) *metav1.Time {
	t := metav1.NewTime(end.Add(retryDelay(attempts) + time.Second - 1).Truncate(time.Second))
	return &t
}

// layerPlan says which parts of an invalidation run.
type layerPlan struct {
	// shared is the Redis tier, purged once through one agent.
	shared bool
	// local is the memory and disk tiers of every target pod. The agent
	// purges them together (agentapi.LayersLocal): asking for Disk alone
	// also drops the memory copies, which only costs a refill.
	local bool
}

// planLayers reads spec.layers against what the policy enables; no
// layers means every enabled one.
func planLayers(spec *v1alpha1.CacheInvalidationSpec, policy *v1alpha1.CachePolicy) layerPlan {
	l := policy.Spec.Layers
	redis := l.Redis != nil && l.Redis.Enabled
	disk := l.Disk != nil && l.Disk.Enabled
	if len(spec.Layers) == 0 {
		return layerPlan{shared: redis, local: true}
	}
	var p layerPlan
	for _, layer := range spec.Layers {
		switch layer {
		case v1alpha1.LayerRedis:
			p.shared = p.shared || redis
		case v1alpha1.LayerMemory:
			p.local = true
		case v1alpha1.LayerDisk:
			p.local = p.local || disk
		}
	}
	return p
}

// agentTarget is the agent's form of a target.
func agentTarget(t v1alpha1.InvalidationTarget) agentapi.InvalidationTarget {
	var out agentapi.InvalidationTarget
	switch {
	case t.Tags != nil:
		match := agentapi.MatchAny
		if t.Tags.Match == "All" {
			match = agentapi.MatchAll
		}
		out.Tags = &agentapi.TagTarget{Values: slices.Clone(t.Tags.Values), Match: match}
	case t.Keys != nil:
		out.Keys = slices.Clone(t.Keys)
	case t.KeyPrefixes != nil:
		out.Prefixes = slices.Clone(t.KeyPrefixes)
	case t.Patterns != nil:
		out.Patterns = slices.Clone(t.Patterns)
	default:
		out.All = t.All
	}
	return out
}

// isFinished reports whether an invalidation is over (Complete or Failed).
func isFinished(st *v1alpha1.CacheInvalidationStatus) bool {
	return conditionTrue(st.Conditions, v1alpha1.ConditionComplete) || conditionTrue(st.Conditions, v1alpha1.ConditionFailed)
}

func conditionTrue(conds []metav1.Condition, typ string) bool {
	c := findCondition(conds, typ)
	return c != nil && c.Status == metav1.ConditionTrue
}

// markRunning records a run in progress: Reconciling (abnormal-true, kstatus)
// and Ready=False.
func markRunning(inv *v1alpha1.CacheInvalidation, reason, msg string) {
	st, gen := &inv.Status, inv.Generation
	st.ObservedGeneration = gen
	setCondition(&st.Conditions, gen, v1alpha1.ConditionReconciling, metav1.ConditionTrue, reason, msg)
	setCondition(&st.Conditions, gen, v1alpha1.ConditionReady, metav1.ConditionFalse, reason, msg)
}

// markComplete finishes a run successfully: Complete and Ready are True,
// Reconciling goes.
func markComplete(inv *v1alpha1.CacheInvalidation, now time.Time, msg string) {
	st, gen := &inv.Status, inv.Generation
	stampFinish(st, gen, now)
	setCondition(&st.Conditions, gen, v1alpha1.ConditionComplete, metav1.ConditionTrue, v1alpha1.ReasonCompleted, msg)
	setCondition(&st.Conditions, gen, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonCompleted, msg)
}

// markFailed finishes a run without success: Failed is True, Ready False,
// and Stalled True so that kstatus-based tools (Flux, Argo CD) see a
// terminal failure rather than work in progress.
func markFailed(inv *v1alpha1.CacheInvalidation, now time.Time, reason, msg string) {
	st, gen := &inv.Status, inv.Generation
	stampFinish(st, gen, now)
	setCondition(&st.Conditions, gen, v1alpha1.ConditionFailed, metav1.ConditionTrue, reason, msg)
	setCondition(&st.Conditions, gen, v1alpha1.ConditionReady, metav1.ConditionFalse, reason, msg)
	setCondition(&st.Conditions, gen, v1alpha1.ConditionStalled, metav1.ConditionTrue, reason, msg)
}

func stampFinish(st *v1alpha1.CacheInvalidationStatus, gen int64, now time.Time) {
	st.ObservedGeneration = gen
	done := metav1.NewTime(now)
	st.CompletionTime = &done
	if st.StartTime != nil {
		st.Duration = runDuration(st).String()
	}
	removeCondition(&st.Conditions, v1alpha1.ConditionReconciling)
}

// runDuration is how long a finished run took, to the second: the API
// server keeps times to the second.
func runDuration(st *v1alpha1.CacheInvalidationStatus) time.Duration {
	if st.StartTime == nil || st.CompletionTime == nil {
		return 0
	}
	return max(0, st.CompletionTime.Sub(st.StartTime.Time)).Round(time.Second)
}

// podCounts counts target pods by state.
type podCounts struct {
	succeeded, failed, pending, gone int32
}

func (c podCounts) plus(o podCounts) podCounts {
	return podCounts{c.succeeded + o.succeeded, c.failed + o.failed, c.pending + o.pending, c.gone + o.gone}
}

func countPods(pods []v1alpha1.PodInvalidationResult) podCounts {
	var c podCounts
	for i := range pods {
		switch pods[i].State {
		case v1alpha1.PodSucceeded:
			c.succeeded++
		case v1alpha1.PodFailed:
			c.failed++
		case v1alpha1.PodGone:
			c.gone++
		default:
			c.pending++
		}
	}
	return c
}

// sharedResult is the record of the shared tier, or nil when the run has
// none.
func sharedResult(st *v1alpha1.CacheInvalidationStatus) *v1alpha1.SharedLayerResult {
	for i := range st.SharedLayers {
		if st.SharedLayers[i].Layer == v1alpha1.LayerRedis {
			return &st.SharedLayers[i]
		}
	}
	return nil
}

// verdict is how a pass leaves a run.
type verdict struct {
	done   bool
	failed bool
	reason string
	msg    string
}

// decide says whether a run is over, from its counts and its shared-tier
// record (nil when it has none). It is a pure function.
func decide(c podCounts, targets int32, shared *v1alpha1.SharedLayerResult, backoffLimit int32) verdict {
	if shared != nil && shared.CompletionTime == nil {
		if shared.Attempts > backoffLimit {
			return verdict{done: true, failed: true, reason: v1alpha1.ReasonBackoffLimitExceeded,
				msg: fmt.Sprintf("the shared Redis tier failed %d times; last error: %s", shared.Attempts, shared.LastError)}
		}
		msg := "invalidating the shared Redis tier"
		if shared.Attempts > 0 {
			msg = fmt.Sprintf("retrying the shared Redis tier after %d failed attempt(s) of %d allowed; last error: %s",
				shared.Attempts, backoffLimit+1, shared.LastError)
		}
		return verdict{reason: v1alpha1.ReasonRunning, msg: msg}
	}
	if c.pending > 0 {
		return verdict{reason: v1alpha1.ReasonRunning,
			msg: fmt.Sprintf("%d/%d pods purged, %d pending, %d failed", c.succeeded+c.gone, targets, c.pending, c.failed)}
	}
	if c.failed > 0 {
		return verdict{done: true, failed: true, reason: v1alpha1.ReasonBackoffLimitExceeded,
			msg: fmt.Sprintf("%d of %d pods failed; see status.pods", c.failed, targets)}
	}
	msg := fmt.Sprintf("purged %d pods (%d gone)", c.succeeded, c.gone)
	if targets == 0 {
		msg = "no target pod, so nothing cached locally"
	}
	if shared != nil {
		msg += " and the shared Redis tier"
	}
	return verdict{done: true, reason: v1alpha1.ReasonCompleted, msg: msg}
}

// podBook is the per-pod ledger of a run: read from status at the start of
// a pass, written back at its end.
//
// All progress lives in status, so that a restarted operator resumes a run
// exactly; what differs with the size of the run is where the frozen
// target set lives:
//
//   - Up to maxStatusPods targets, status.pods lists every target with its
//     state: it is the frozen set.
//   - Beyond, status.pods cannot hold them all. The frozen set (names and
//     uid prefixes, in name order) is written once, when the run starts,
//     compressed into the AnnotationTargets annotation. Pods are admitted
//     into status.pods in that order, at most maxStatusPods Pending at a
//     time. Every admitted pod is counted in succeeded, failed or gone, or
//     is listed as Pending, so the first succeeded+failed+gone+(listed
//     Pending) pods of the frozen set are the admitted ones and the rest
//     are not. An admitted pod that is not listed as Pending is finished;
//     its state lives in the counts. Succeeded pods leave the list; Failed
//     and Gone ones stay while there is room, for people to read.
//
// A pod's whole state is thus written in one status update, with the
// counts, and never needs to be redone after a restart.
type podBook struct {
	targets int32
	// pods are the pods tracked one by one, sorted by name.
	pods []v1alpha1.PodInvalidationResult
	// retired counts the finished pods that status no longer lists, and
	// retiredKeys the keys their agents removed (large runs only).
	retired     podCounts
	retiredKeys int64
	// frozen is the target set of a large run; nil for a small one.
	frozen []frozenPod
	// next is how many of frozen have been admitted.
	next int
}

// readBook reads the ledger of a started run.
func readBook(inv *v1alpha1.CacheInvalidation) (*podBook, error) {
	st := &inv.Status
	b := &podBook{targets: st.Targets}
	for i := range st.Pods {
		b.pods = append(b.pods, *st.Pods[i].DeepCopy())
	}
	sortPods(b.pods)
	if st.Targets <= maxStatusPods {
		return b, nil
	}
	frozen, err := decodeTargets(inv.Annotations[v1alpha1.AnnotationTargets])
	if err != nil {
		return nil, fmt.Errorf("annotation %s: %w", v1alpha1.AnnotationTargets, err)
	}
	if len(frozen) != int(st.Targets) {
		return nil, fmt.Errorf("annotation %s holds %d pods, status.targets says %d", v1alpha1.AnnotationTargets, len(frozen), st.Targets)
	}
	listed := countPods(b.pods)
	b.frozen = frozen
	b.retired = podCounts{succeeded: st.Succeeded - listed.succeeded, failed: st.Failed - listed.failed, gone: st.Gone - listed.gone}
	b.next = int(st.Succeeded + st.Failed + st.Gone + listed.pending)
	if b.retired.succeeded < 0 || b.retired.failed < 0 || b.retired.gone < 0 || b.next > len(frozen) ||
		b.next+int(st.Pending-listed.pending) != len(frozen) {
		return nil, fmt.Errorf("status counts (%d succeeded, %d failed, %d gone, %d pending) disagree with status.pods and %d targets",
			st.Succeeded, st.Failed, st.Gone, st.Pending, st.Targets)
	}
	b.retiredKeys = max(0, st.KeysRemoved-sumKeys(b.pods)-sharedKeys(st))
	return b, nil
}

// newBook starts the ledger of a run over pods (sorted by name).
func newBook(pods []corev1.Pod) *podBook {
	b := &podBook{targets: int32(len(pods))}
	if len(pods) > maxStatusPods {
		b.frozen = freeze(pods)
		return b
	}
	for i := range pods {
		b.pods = append(b.pods, v1alpha1.PodInvalidationResult{Name: pods[i].Name, UID: string(pods[i].UID), State: v1alpha1.PodPending})
	}
	return b
}

// admit moves pods of a large run from the frozen set into the list, in
// order, while fewer than maxStatusPods are Pending.
func (b *podBook) admit() {
	pending := countPods(b.pods).pending
	for b.next < len(b.frozen) && pending < maxStatusPods {
		f := b.frozen[b.next]
		b.pods = append(b.pods, v1alpha1.PodInvalidationResult{Name: f.name, UID: f.uid, State: v1alpha1.PodPending})
		b.next++
		pending++
	}
	sortPods(b.pods)
}

// abandon fails every pod not finished yet, admitted or not, with why.
func (b *podBook) abandon(now time.Time, why string) {
	t := metav1.NewTime(now)
	for i := range b.pods {
		if p := &b.pods[i]; p.State == v1alpha1.PodPending {
			p.State, p.LastError, p.NextAttemptTime, p.CompletionTime = v1alpha1.PodFailed, truncate(why, maxMessage), nil, &t
		}
	}
	b.retired.failed += int32(len(b.frozen) - b.next)
	b.next = len(b.frozen)
}

// counts counts every target; pods of a large run not admitted yet are
// pending.
func (b *podBook) counts() podCounts {
	c := b.retired.plus(countPods(b.pods))
	c.pending += int32(len(b.frozen) - b.next)
	return c
}

// render writes the ledger into st: counts, progress, keys removed (shared
// tier included) and the capped list of pods.
func (b *podBook) render(st *v1alpha1.CacheInvalidationStatus) {
	if b.frozen != nil {
		b.retire()
	}
	c := b.counts()
	st.Targets = b.targets
	st.Succeeded, st.Failed, st.Pending, st.Gone = c.succeeded, c.failed, c.pending, c.gone
	st.Progress = fmt.Sprintf("%d/%d", c.succeeded+c.gone, b.targets)
	st.KeysRemoved = b.retiredKeys + sumKeys(b.pods) + sharedKeys(st)
	st.Pods = nil
	if len(b.pods) > 0 {
		st.Pods = slices.Clone(b.pods)
	}
}

// retire drops from the list of a large run the pods it need not show:
// every Succeeded one, then Gone and Failed ones (Gone first) beyond the
// cap. Pending pods always stay: they are the run's memory.
func (b *podBook) retire() {
	keep := make([]v1alpha1.PodInvalidationResult, 0, len(b.pods))
	var rest []v1alpha1.PodInvalidationResult
	for _, p := range b.pods {
		switch p.State {
		case v1alpha1.PodPending:
			keep = append(keep, p)
		case v1alpha1.PodSucceeded:
			b.retire1(p)
		default:
			rest = append(rest, p)
		}
	}
	// Failed pods are the ones people look for; Gone ones go first.
	slices.SortStableFunc(rest, func(x, y v1alpha1.PodInvalidationResult) int {
		if x.State != y.State {
			if x.State == v1alpha1.PodFailed {
				return -1
			}
			return 1
		}
		return strings.Compare(x.Name, y.Name)
	})
	room := max(0, maxStatusPods-len(keep))
	for i, p := range rest {
		if i < room {
			keep = append(keep, p)
		} else {
			b.retire1(p)
		}
	}
	sortPods(keep)
	b.pods = keep
}

func (b *podBook) retire1(p v1alpha1.PodInvalidationResult) {
	b.retired = b.retired.plus(countPods([]v1alpha1.PodInvalidationResult{p}))
	b.retiredKeys += p.KeysRemoved
}

func sortPods(pods []v1alpha1.PodInvalidationResult) {
	slices.SortFunc(pods, func(x, y v1alpha1.PodInvalidationResult) int { return strings.Compare(x.Name, y.Name) })
}

func sumKeys(pods []v1alpha1.PodInvalidationResult) int64 {
	var n int64
	for i := range pods {
		n += pods[i].KeysRemoved
	}
	return n
}

func sharedKeys(st *v1alpha1.CacheInvalidationStatus) int64 {
	var n int64
	for i := range st.SharedLayers {
		n += st.SharedLayers[i].KeysRemoved
	}
	return n
}

// goneReason says why a target pod no longer needs purging (its local
// tiers went with it), or "" if pod is still the pod that was frozen and
// runs. uid is the frozen uid, or its prefix for a pod of a large run not
// seen since it was frozen.
func goneReason(pod *corev1.Pod, uid string) string {
	switch {
	case pod == nil:
		return "pod deleted"
	case uid != "" && !strings.HasPrefix(string(pod.UID), uid):
		return "pod replaced by another of the same name"
	case !isActive(pod):
		return "pod no longer running"
	}
	return ""
}

// nextWake is how long a run can sleep before its next pass: until the
// earliest retry of a pending pod, at the latest until its deadline.
func nextWake(now, deadline time.Time, pods []v1alpha1.PodInvalidationResult) time.Duration {
	wake := deadline
	for i := range pods {
		p := &pods[i]
		switch {
		case p.State != v1alpha1.PodPending:
		case p.NextAttemptTime == nil:
			return soon // due now, left for the next pass
		case p.NextAttemptTime.Time.Before(wake):
			wake = p.NextAttemptTime.Time
		}
	}
	return max(soon, wake.Sub(now))
}

// frozenPod is one target of a large run, as the AnnotationTargets
// annotation records it.
type frozenPod struct {
	name string
	// uid is the pod's uid cut to uidPrefixLen characters.
	uid string
}

// The frozen target set of a large run is "name uid-prefix" lines,
// gzipped and base64-encoded. Keeping 8 characters of each uid tells a pod
// from a successor of the same name (a StatefulSet's) while keeping some
// ten thousand pods within maxTargetsAnnotation.
const (
	uidPrefixLen = 8
	// maxTargetsAnnotation leaves room, within the API server's 256 KiB
	// for all annotations, for the others (kubectl's last-applied one).
	maxTargetsAnnotation = 200 << 10
	// maxTargetsDecoded bounds decompression, should the annotation be
	// edited into a zip bomb.
	maxTargetsDecoded = 16 << 20
)

func freeze(pods []corev1.Pod) []frozenPod {
	out := make([]frozenPod, len(pods))
	for i := range pods {
		uid := string(pods[i].UID)
		out[i] = frozenPod{name: pods[i].Name, uid: uid[:min(len(uid), uidPrefixLen)]}
	}
	return out
}

// encodeTargets returns the annotation value for a frozen set, or an
// error when it would not fit.
func encodeTargets(pods []frozenPod) (string, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return "", fmt.Errorf("compress targets: %w", err)
	}
	for _, p := range pods {
		if _, err := fmt.Fprintf(zw, "%s %s\n", p.name, p.uid); err != nil {
			return "", fmt.Errorf("compress targets: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("compress targets: %w", err)
	}
	s := base64.StdEncoding.EncodeToString(buf.Bytes())
	if len(s) > maxTargetsAnnotation {
		return "", fmt.Errorf("%d target pods take %d bytes compressed, more than the %d an annotation may hold", len(pods), len(s), maxTargetsAnnotation)
	}
	return s, nil
}

// decodeTargets reads what encodeTargets wrote.
func decodeTargets(s string) ([]frozenPod, error) {
	if s == "" {
		return nil, errors.New("missing")
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not base64: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("not gzip: %w", err)
	}
	text, err := io.ReadAll(io.LimitReader(zr, maxTargetsDecoded+1))
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	if len(text) > maxTargetsDecoded {
		return nil, fmt.Errorf("decompresses to more than %d bytes", maxTargetsDecoded)
	}
	var out []frozenPod
	for i, line := range strings.Split(strings.TrimSuffix(string(text), "\n"), "\n") {
		name, uid, ok := strings.Cut(line, " ")
		if !ok || name == "" || uid == "" || strings.Contains(uid, " ") {
			return nil, fmt.Errorf("line %d: want \"name uid\", got %.80q", i+1, line)
		}
		out = append(out, frozenPod{name: name, uid: uid})
	}
	return out, nil
}
