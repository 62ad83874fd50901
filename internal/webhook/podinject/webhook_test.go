package podinject

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/internal/inject"
)

// TestWebhookThroughTheAPIServer creates pods through a real API server
// that calls the injector, and checks what was stored.
func TestWebhookThroughTheAPIServer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		policies    []string // names; each selects app=web
		tlsSecret   bool
		pod         func(ns string) *corev1.Pod
		wantAgent   bool
		wantPolicy  string // the policy annotation, when injected
		wantWarning string // in a warning; empty: no warning at all
		wantRefusal string // in the error of a refused creation
	}{
		{
			name: "a labelled pod one policy selects gets the agent", policies: []string{"web-cache"}, tlsSecret: true,
			pod: func(ns string) *corev1.Pod { return labelledPod(ns, nil) }, wantAgent: true, wantPolicy: "web-cache",
		},
		{
			name: "an unlabelled pod is left alone", policies: []string{"web-cache"}, tlsSecret: true,
			pod: func(ns string) *corev1.Pod {
				p := labelledPod(ns, nil)
				delete(p.Labels, v1alpha1.LabelInject)
				return p
			},
		},
		{
			name: "a pod labelled inject=false is left alone", policies: []string{"web-cache"}, tlsSecret: true,
			pod: func(ns string) *corev1.Pod { return labelledPod(ns, map[string]string{v1alpha1.LabelInject: "false"}) },
		},
		{
			name: "a labelled pod no policy selects is admitted without the agent and with a warning", tlsSecret: true,
			pod:         func(ns string) *corev1.Pod { return labelledPod(ns, nil) },
			wantWarning: "no CachePolicy in namespace",
		},
		{
			name:     "a labelled pod two policies select is admitted without the agent and with a warning naming both",
			policies: []string{"b-cache", "a-cache"}, tlsSecret: true,
			pod:         func(ns string) *corev1.Pod { return labelledPod(ns, nil) },
			wantWarning: "CachePolicies a-cache, b-cache all select this pod",
		},
		{
			name: "the policy annotation chooses among several policies", policies: []string{"a-cache", "b-cache"}, tlsSecret: true,
			pod: func(ns string) *corev1.Pod {
				p := labelledPod(ns, nil)
				p.Annotations = map[string]string{v1alpha1.AnnotationPolicy: "b-cache"}
				return p
			},
			wantAgent: true, wantPolicy: "b-cache",
		},
		{
			name: "a pod naming a missing policy is admitted without the agent and with a warning", policies: []string{"web-cache"}, tlsSecret: true,
			pod: func(ns string) *corev1.Pod {
				p := labelledPod(ns, nil)
				p.Annotations = map[string]string{v1alpha1.AnnotationPolicy: "nope"}
				return p
			},
			wantWarning: `CachePolicy "nope"`,
		},
		{
			name: "a labelled pod in a namespace without the agent TLS Secret is admitted without the agent", policies: []string{"web-cache"},
			pod:         func(ns string) *corev1.Pod { return labelledPod(ns, nil) },
			wantWarning: "Secret layercache-agent-tls not found",
		},
		{
			name: "a pod already marked injected is left alone", policies: []string{"web-cache"}, tlsSecret: true,
			pod: func(ns string) *corev1.Pod {
				p := labelledPod(ns, nil)
				p.Annotations = map[string]string{v1alpha1.AnnotationInjectStatus: inject.InjectedStatus}
				return p
			},
		},
		{
			name: "a pod whose container takes the agent's name is refused", policies: []string{"web-cache"}, tlsSecret: true,
			pod: func(ns string) *corev1.Pod {
				p := labelledPod(ns, nil)
				p.Spec.Containers[0].Name = inject.ContainerName
				return p
			},
			wantRefusal: "conflicts with the agent",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ns := newNamespace(t)
			for _, name := range tc.policies {
				createPolicy(t, ns, name, "web")
			}
			if tc.tlsSecret {
				createTLSSecret(t, ns)
			}
			c, w := newWarningClient(t)
			pod := tc.pod(ns)
			err := c.Create(t.Context(), pod)
			if tc.wantRefusal != "" {
				if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), tc.wantRefusal) {
					t.Fatalf("create = %v; want a refusal mentioning %q", err, tc.wantRefusal)
				}
				return
			}
			if err != nil {
				t.Fatalf("create pod: %v", err)
			}
			var stored corev1.Pod
			if err := suite.client.Get(t.Context(), client.ObjectKeyFromObject(pod), &stored); err != nil {
				t.Fatalf("get pod: %v", err)
			}
			checkAgent(t, &stored, tc.wantAgent, tc.wantPolicy)
			switch got := w.all(); {
			case tc.wantWarning == "" && len(got) > 0:
				t.Errorf("warnings %q; want none", got)
			case tc.wantWarning != "" && !w.has(tc.wantWarning):
				t.Errorf("warnings %q; want one containing %q", got, tc.wantWarning)
			}
		})
	}
}

// checkAgent checks that pod has the agent as a native sidecar, marked
// and bound to policy, or that it has neither the agent nor the marks.
func checkAgent(t *testing.T, pod *corev1.Pod, want bool, policy string) {
	t.Helper()
	has := len(pod.Spec.InitContainers) > 0 && pod.Spec.InitContainers[0].Name == inject.ContainerName
	if has != want {
		t.Fatalf("agent injected = %v, want %v (init containers %v)", has, want, names(pod.Spec.InitContainers))
	}
	if !want {
		if _, marked := pod.Annotations[v1alpha1.AnnotationAgentVersion]; marked {
			t.Errorf("pod without the agent has annotation %s", v1alpha1.AnnotationAgentVersion)
		}
		return
	}
	for k, v := range map[string]string{
		v1alpha1.AnnotationInjectStatus: inject.InjectedStatus,
		v1alpha1.AnnotationAgentVersion: suiteConfig.AgentImage,
		v1alpha1.AnnotationPolicy:       policy,
	} {
		if got := pod.Annotations[k]; got != v {
			t.Errorf("annotation %s = %q, want %q", k, got, v)
		}
	}
	if got := *pod.Spec.InitContainers[0].RestartPolicy; got != corev1.ContainerRestartPolicyAlways {
		t.Errorf("agent restartPolicy = %s, want Always", got)
	}
}

func names(cs []corev1.Container) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

// TestHandle calls the handler directly, for the requests the API server
// configuration never sends it, and for events.
func TestHandle(t *testing.T) {
	t.Parallel()
	owned := func(ns string) *corev1.Pod {
		p := labelledPod(ns, nil)
		p.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-7d9f", UID: "uid-rs", Controller: ptr.To(true),
		}}
		return p
	}
	for _, tc := range []struct {
		name      string
		req       func(t *testing.T, ns string) admission.Request
		allowed   bool
		patched   bool
		code      int32  // of a failed request
		wantEvent string // the start of the event recorded; empty: none
	}{
		{
			name: "an UPDATE is allowed untouched",
			req: func(t *testing.T, ns string) admission.Request {
				createPolicy(t, ns, "web-cache", "web")
				return podRequest(t, admissionv1.Update, ns, labelledPod(ns, nil), false)
			},
			allowed: true,
		},
		{
			name: "another kind is allowed untouched",
			req: func(t *testing.T, ns string) admission.Request {
				createPolicy(t, ns, "web-cache", "web")
				r := podRequest(t, admissionv1.Create, ns, labelledPod(ns, nil), false)
				r.Kind = metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
				return r
			},
			allowed: true,
		},
		{
			name: "a malformed pod is a bad request",
			req: func(t *testing.T, ns string) admission.Request {
				r := podRequest(t, admissionv1.Create, ns, labelledPod(ns, nil), false)
				r.Object.Raw = []byte("{")
				return r
			},
			code: http.StatusBadRequest,
		},
		{
			name: "a pod without a policy records an event on its controller",
			req: func(t *testing.T, ns string) admission.Request {
				return podRequest(t, admissionv1.Create, ns, owned(ns), false)
			},
			allowed:   true,
			wantEvent: "Warning PolicyNotResolved",
		},
		{
			name: "a dry run records no event",
			req: func(t *testing.T, ns string) admission.Request {
				return podRequest(t, admissionv1.Create, ns, owned(ns), true)
			},
			allowed: true,
		},
		{
			name: "a pod without a controller records no event",
			req: func(t *testing.T, ns string) admission.Request {
				return podRequest(t, admissionv1.Create, ns, labelledPod(ns, nil), false)
			},
			allowed: true,
		},
		{
			name: "a pod posted without its namespace is resolved in the request's and patched",
			req: func(t *testing.T, ns string) admission.Request {
				createPolicy(t, ns, "web-cache", "web")
				p := labelledPod(ns, nil)
				p.Namespace = ""
				return podRequest(t, admissionv1.Create, ns, p, false)
			},
			allowed: true, patched: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ns := newNamespace(t)
			createTLSSecret(t, ns)
			rec := events.NewFakeRecorder(4)
			wh := &Webhook{Client: suite.client, Config: suiteConfig, Recorder: rec}
			resp := wh.Handle(t.Context(), tc.req(t, ns))
			if resp.Allowed != tc.allowed {
				t.Fatalf("allowed = %v (%+v), want %v", resp.Allowed, resp.Result, tc.allowed)
			}
			if tc.code != 0 && (resp.Result == nil || resp.Result.Code != tc.code) {
				t.Errorf("result %+v, want code %d", resp.Result, tc.code)
			}
			if got := len(resp.Patches) > 0; got != tc.patched {
				t.Errorf("patched = %v (%d operations), want %v", got, len(resp.Patches), tc.patched)
			}
			select {
			case ev := <-rec.Events:
				if tc.wantEvent == "" || !strings.HasPrefix(ev, tc.wantEvent) {
					t.Errorf("event %q, want %q", ev, tc.wantEvent)
				}
			default:
				if tc.wantEvent != "" {
					t.Errorf("no event, want %q", tc.wantEvent)
				}
			}
		})
	}
}

// podRequest is the admission request for op on pod, in namespace ns.
func podRequest(t *testing.T, op admissionv1.Operation, ns string, pod *corev1.Pod, dryRun bool) admission.Request {
	t.Helper()
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatalf("marshal pod: %v", err)
	}
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID:       "req-1",
		Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
		Namespace: ns,
		Operation: op,
		Object:    runtime.RawExtension{Raw: raw},
		DryRun:    ptr.To(dryRun),
	}}
}
