package podinject

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/layercache/layercache/api/v1alpha1"
)

func TestResolvePolicy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		policies    map[string]string // name -> the app label it selects ("" = empty selector)
		annotation  string            // the pod's policy annotation
		want        string            // the policy found; empty: none
		wantWarning string            // in the warning; empty: no warning
	}{
		{name: "the one policy that selects the pod", policies: map[string]string{"web-cache": "web", "api-cache": "api"}, want: "web-cache"},
		{
			name: "none selects the pod", policies: map[string]string{"api-cache": "api"},
			wantWarning: "no CachePolicy in namespace",
		},
		{
			name: "an empty selector selects nothing", policies: map[string]string{"all": ""},
			wantWarning: "no CachePolicy in namespace",
		},
		{
			name: "several select the pod", policies: map[string]string{"b": "web", "a": "web"},
			wantWarning: "CachePolicies a, b all select this pod; choose one with annotation " + v1alpha1.AnnotationPolicy,
		},
		{
			name: "more than three are elided", policies: map[string]string{"p1": "web", "p2": "web", "p3": "web", "p4": "web"},
			wantWarning: "CachePolicies p1, p2, p3, ... all select",
		},
		{name: "the annotation names one of several", policies: map[string]string{"a": "web", "b": "web"}, annotation: "b", want: "b"},
		{
			name: "the annotation names a missing policy", policies: map[string]string{"web-cache": "web"}, annotation: "gone",
			wantWarning: `CachePolicy "gone" (annotation cache.layercache.io/policy) not found`,
		},
		{
			name: "the annotation names a policy that does not select the pod", policies: map[string]string{"api-cache": "api"},
			annotation: "api-cache", want: "api-cache", wantWarning: "will not update or purge its agent",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ns := newNamespace(t)
			for name, app := range tc.policies {
				p := &v1alpha1.CachePolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
				if app != "" {
					p.Spec.Selector.MatchLabels = map[string]string{"app": app}
				}
				if err := suite.client.Create(t.Context(), p); err != nil {
					t.Fatalf("create CachePolicy %s: %v", name, err)
				}
			}
			pod := labelledPod(ns, nil)
			if tc.annotation != "" {
				pod.Annotations = map[string]string{v1alpha1.AnnotationPolicy: tc.annotation}
			}
			got, warning, err := ResolvePolicy(t.Context(), suite.client, pod)
			if err != nil {
				t.Fatalf("ResolvePolicy: %v", err)
			}
			if name := policyName(got); name != tc.want {
				t.Errorf("policy = %q, want %q", name, tc.want)
			}
			if tc.wantWarning == "" && warning != "" || !strings.Contains(warning, tc.wantWarning) {
				t.Errorf("warning %q, want one containing %q", warning, tc.wantWarning)
			}
			if len(warning) > 256 {
				t.Errorf("warning is %d characters; the API server may truncate it past 256", len(warning))
			}
		})
	}
}

// failingReader fails every read with err.
type failingReader struct{ err error }

func (f failingReader) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	return f.err
}

func (f failingReader) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return f.err
}

func TestResolvePolicyReportsAFailedRead(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
	}{
		{"listing policies", labelledPod("shop", nil)},
		{"getting the named policy", func() *corev1.Pod {
			p := labelledPod("shop", nil)
			p.Annotations = map[string]string{v1alpha1.AnnotationPolicy: "web-cache"}
			return p
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, warning, err := ResolvePolicy(t.Context(), failingReader{boom}, tc.pod)
			if !errors.Is(err, boom) || p != nil || warning != "" {
				t.Fatalf("ResolvePolicy = %v, %q, %v; want nil, no warning, an error wrapping %v", p, warning, err, boom)
			}
		})
	}
}

func policyName(p *v1alpha1.CachePolicy) string {
	if p == nil {
		return ""
	}
	return p.Name
}
