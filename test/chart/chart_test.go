package chart_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"github.com/layercache/layercache/pkg/cache/promcache"
	"github.com/layercache/layercache/test/e2e"
)

const (
	release   = "lc"
	namespace = "layercache-system"
	// fullname is the resource name prefix for release "lc".
	fullname = "lc-layercache"
	chartRel = "charts/layercache"
)

// repoRoot is the module root, two levels above this package.
var repoRoot = sync.OnceValues(func() (string, error) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return "", fmt.Errorf("no go.mod at %s: %w", root, err)
	}
	return root, nil
})

// helmPath is $HELM, or the helm that hack/tools-bins.sh builds from the Go
// module proxy (once, cached outside the repository).
var helmPath = sync.OnceValues(func() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	return e2e.HelmPath(root)
})

func root(t *testing.T) string {
	t.Helper()
	r, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// helm runs helm in the repository root and returns its stdout, or an
// error holding its stderr. A helm that cannot be built fails the test.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin, err := helmPath()
	if err != nil {
		t.Fatalf("helm is required for the chart tests: %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = root(t)
	// Keep helm away from the user's repositories, plugins and cache.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w\n%s%s", strings.Join(args, " "), err, stderr.String(), stdout.String())
	}
	return stdout.String(), nil
}

// object is one rendered document.
type object struct {
	Kind, Name, Namespace string
	Annotations, Labels   map[string]string
	Doc                   []byte // the YAML document
}

type manifest []object

// render runs helm template for release "lc" in namespace
// "layercache-system" with extra arguments (--set ...).
func render(t *testing.T, args ...string) manifest {
	t.Helper()
	out, err := helm(t, append([]string{"template", release, chartRel, "--namespace", namespace}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return parse(t, out)
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

func parse(t *testing.T, out string) manifest {
	t.Helper()
	var m manifest
	for _, doc := range docSeparator.Split(out, -1) {
		var meta struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name        string            `json:"name"`
				Namespace   string            `json:"namespace"`
				Annotations map[string]string `json:"annotations"`
				Labels      map[string]string `json:"labels"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("rendered document is not YAML: %v\n%s", err, doc)
		}
		if meta.Kind == "" {
			if strings.TrimSpace(stripComments(doc)) != "" {
				t.Fatalf("rendered document has no kind:\n%s", doc)
			}
			continue
		}
		m = append(m, object{Kind: meta.Kind, Name: meta.Metadata.Name, Namespace: meta.Metadata.Namespace,
			Annotations: meta.Metadata.Annotations, Labels: meta.Metadata.Labels, Doc: []byte(doc)})
	}
	return m
}

func stripComments(doc string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func (m manifest) ofKind(kind string) []object {
	var out []object
	for _, o := range m {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

func (m manifest) find(kind, name string) (object, bool) {
	for _, o := range m {
		if o.Kind == kind && o.Name == name {
			return o, true
		}
	}
	return object{}, false
}

// get decodes the one object of kind and name strictly (unknown fields
// fail) into T.
func get[T any](t *testing.T, m manifest, kind, name string) *T {
	t.Helper()
	o, ok := m.find(kind, name)
	if !ok {
		t.Fatalf("no %s %q rendered; have %v", kind, name, m.names())
	}
	return decode[T](t, o)
}

func decode[T any](t *testing.T, o object) *T {
	t.Helper()
	v := new(T)
	if err := yaml.UnmarshalStrict(o.Doc, v); err != nil {
		t.Fatalf("%s %s does not decode strictly: %v\n%s", o.Kind, o.Name, err, o.Doc)
	}
	return v
}

func (m manifest) names() []string {
	var out []string
	for _, o := range m {
		out = append(out, o.Kind+"/"+o.Name)
	}
	return out
}

// typed decodes a rendered object of a built-in kind strictly, so that a
// misspelt field in a template fails; other kinds report false.
func typed(t *testing.T, o object) bool {
	t.Helper()
	switch o.Kind {
	case "Deployment":
		decode[appsv1.Deployment](t, o)
	case "Service":
		decode[corev1.Service](t, o)
	case "ServiceAccount":
		decode[corev1.ServiceAccount](t, o)
	case "ConfigMap":
		decode[corev1.ConfigMap](t, o)
	case "ClusterRole":
		decode[rbacv1.ClusterRole](t, o)
	case "ClusterRoleBinding":
		decode[rbacv1.ClusterRoleBinding](t, o)
	case "Role":
		decode[rbacv1.Role](t, o)
	case "RoleBinding":
		decode[rbacv1.RoleBinding](t, o)
	case "MutatingWebhookConfiguration":
		decode[admissionv1.MutatingWebhookConfiguration](t, o)
	case "PodDisruptionBudget":
		decode[policyv1.PodDisruptionBudget](t, o)
	case "NetworkPolicy":
		decode[networkingv1.NetworkPolicy](t, o)
	case "CustomResourceDefinition":
		decode[apiextensionsv1.CustomResourceDefinition](t, o)
	default:
		return false
	}
	return true
}

// clusterScoped are the kinds without a namespace.
var clusterScoped = map[string]bool{
	"ClusterRole": true, "ClusterRoleBinding": true, "MutatingWebhookConfiguration": true, "CustomResourceDefinition": true,
}

// everything turns every optional feature on.
var everything = []string{
	"--set", "webhook.certManager.enabled=true",
	"--set", "networkPolicy.enabled=true",
	"--set", "serviceMonitor.enabled=true",
	"--set", "grafanaDashboard.enabled=true",
}

func readFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLint(t *testing.T) {
	t.Parallel()
	for name, args := range map[string][]string{
		"defaults":        nil,
		"everything":      everything,
		"no CRDs":         {"--set", "crds.install=false"},
		"no webhook":      {"--set", "webhook.enabled=false"},
		"single replica":  {"--set", "manager.replicas=1", "--set", "leaderElection.enabled=false"},
		"existing issuer": {"--set", "webhook.certManager.enabled=true", "--set", "webhook.certManager.issuerRef.name=ca", "--set", "webhook.certManager.issuerRef.kind=ClusterIssuer"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if out, err := helm(t, append([]string{"lint", "--strict", chartRel, "--namespace", namespace}, args...)...); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

// TestRenderedObjects checks every object of every value combination:
// built-in kinds decode strictly, namespaced objects land in the release
// namespace, names are unique.
func TestRenderedObjects(t *testing.T) {
	t.Parallel()
	others := map[string]bool{"Certificate": true, "Issuer": true, "ServiceMonitor": true}
	for name, args := range map[string][]string{
		"defaults":   nil,
		"everything": everything,
		"minimal": {"--set", "webhook.enabled=false", "--set", "crds.install=false", "--set", "manager.replicas=1",
			"--set", "leaderElection.enabled=false", "--set", "rbac.aggregateToDefaultRoles=false"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			seen := map[string]bool{}
			for _, o := range render(t, args...) {
				if !typed(t, o) && !others[o.Kind] {
					t.Errorf("unexpected kind %s (%s)", o.Kind, o.Name)
				}
				key := o.Kind + "/" + o.Name
				if seen[key] {
					t.Errorf("%s rendered twice", key)
				}
				seen[key] = true
				switch {
				case clusterScoped[o.Kind] && o.Namespace != "":
					t.Errorf("%s is cluster-scoped but has namespace %q", key, o.Namespace)
				case !clusterScoped[o.Kind] && o.Namespace != namespace:
					t.Errorf("%s is in namespace %q, want %q", key, o.Namespace, namespace)
				}
				if o.Labels["app.kubernetes.io/instance"] != release || o.Labels["app.kubernetes.io/part-of"] != "layercache" {
					t.Errorf("%s lacks the chart's labels: %v", key, o.Labels)
				}
			}
		})
	}
}

// sourceCRDs reads config/crd/bases.
func sourceCRDs(t *testing.T) map[string]*apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root(t), "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in config/crd/bases (%v)", err)
	}
	crds := map[string]*apiextensionsv1.CustomResourceDefinition{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		crd := new(apiextensionsv1.CustomResourceDefinition)
		if err := yaml.UnmarshalStrict(b, crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		crds[crd.Name] = crd
	}
	return crds
}

func TestCRDs(t *testing.T) {
	t.Parallel()
	want := sourceCRDs(t)
	t.Run("defaults: every CRD, kept on uninstall, equal to config/crd/bases", func(t *testing.T) {
		t.Parallel()
		m := render(t)
		got := m.ofKind("CustomResourceDefinition")
		if len(got) != len(want) {
			t.Errorf("rendered %d CRDs, config/crd/bases has %d (run 'make helm-sync')", len(got), len(want))
		}
		for _, o := range got {
			crd := decode[apiextensionsv1.CustomResourceDefinition](t, o)
			if crd.Annotations["helm.sh/resource-policy"] != "keep" {
				t.Errorf("CRD %s lacks helm.sh/resource-policy: keep: %v", crd.Name, crd.Annotations)
			}
			src, ok := want[crd.Name]
			switch {
			case !ok:
				t.Errorf("CRD %s is not in config/crd/bases (run 'make helm-sync')", crd.Name)
			case !reflect.DeepEqual(crd.Spec, src.Spec):
				t.Errorf("CRD %s differs from config/crd/bases (run 'make helm-sync')", crd.Name)
			}
			for k, v := range src.Annotations {
				if crd.Annotations[k] != v {
					t.Errorf("CRD %s lost annotation %s=%s", crd.Name, k, v)
				}
			}
		}
	})
	t.Run("crds.keep=false", func(t *testing.T) {
		t.Parallel()
		for _, o := range render(t, "--set", "crds.keep=false").ofKind("CustomResourceDefinition") {
			if _, ok := o.Annotations["helm.sh/resource-policy"]; ok {
				t.Errorf("CRD %s has helm.sh/resource-policy with crds.keep=false", o.Name)
			}
		}
	})
	t.Run("crds.install=false", func(t *testing.T) {
		t.Parallel()
		if got := render(t, "--set", "crds.install=false").ofKind("CustomResourceDefinition"); len(got) != 0 {
			t.Errorf("crds.install=false rendered %d CRDs", len(got))
		}
	})
	t.Run("not in crds/, which helm never upgrades", func(t *testing.T) {
		t.Parallel()
		if _, err := os.Stat(filepath.Join(root(t), chartRel, "crds")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s/crds exists (err %v): CRDs belong in templates/crds", chartRel, err)
		}
	})
}

func chartAppVersion(t *testing.T) string {
	t.Helper()
	var c struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(readFile(t, filepath.Join(chartRel, "Chart.yaml")), &c); err != nil || c.AppVersion == "" {
		t.Fatalf("Chart.yaml appVersion: %q, %v", c.AppVersion, err)
	}
	return c.AppVersion
}

func managerContainer(t *testing.T, d *appsv1.Deployment) *corev1.Container {
	t.Helper()
	for i := range d.Spec.Template.Spec.Containers {
		if c := &d.Spec.Template.Spec.Containers[i]; c.Name == "manager" {
			return c
		}
	}
	t.Fatal("the Deployment has no manager container")
	return nil
}

func TestDeployment(t *testing.T) {
	t.Parallel()
	m := render(t)
	d := get[appsv1.Deployment](t, m, "Deployment", fullname)
	pod := d.Spec.Template.Spec
	c := managerContainer(t, d)

	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas = %v, want 2", d.Spec.Replicas)
	}
	if want := "ghcr.io/layercache/layercache:" + chartAppVersion(t); c.Image != want {
		t.Errorf("image = %q, want %q (the tag defaults to appVersion)", c.Image, want)
	}
	for _, arg := range []string{"--leader-elect", "--metrics-bind-address=:8080", "--health-probe-bind-address=:8081",
		"--log-level=info", "--agent-image=ghcr.io/layercache/agent:" + chartAppVersion(t)} {
		if !slices.Contains(c.Args, arg) {
			t.Errorf("args %q lack %q", c.Args, arg)
		}
	}

	var podNamespace *corev1.EnvVar
	for i := range c.Env {
		if c.Env[i].Name == "POD_NAMESPACE" {
			podNamespace = &c.Env[i]
		}
	}
	if podNamespace == nil || podNamespace.ValueFrom == nil || podNamespace.ValueFrom.FieldRef == nil ||
		podNamespace.ValueFrom.FieldRef.FieldPath != "metadata.namespace" {
		t.Errorf("POD_NAMESPACE is not the downward API's metadata.namespace: %+v", c.Env)
	}

	// Restricted Pod Security Standard.
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext is not restricted: %+v", psc)
	}
	sc := c.SecurityContext
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.Capabilities == nil || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container securityContext is not restricted: %+v", sc)
	}
	if sc != nil && sc.Privileged != nil && *sc.Privileged {
		t.Error("the manager runs privileged")
	}

	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if want := map[string]int32{"metrics": 8080, "health": 8081, "webhook": 9443}; !reflect.DeepEqual(ports, want) {
		t.Errorf("ports = %v, want %v", ports, want)
	}
	for probe, p := range map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != probe || p.HTTPGet.Port.String() != "health" {
			t.Errorf("probe %s: %+v", probe, p)
		}
	}
	if c.Resources.Limits.Memory().IsZero() {
		t.Error("no memory limit by default")
	}

	// The ServiceAccount exists and is the one bound to the manager's role.
	get[corev1.ServiceAccount](t, m, "ServiceAccount", pod.ServiceAccountName)
	crb := get[rbacv1.ClusterRoleBinding](t, m, "ClusterRoleBinding", fullname+"-manager")
	if crb.RoleRef.Name != fullname+"-manager" || len(crb.Subjects) != 1 ||
		crb.Subjects[0].Name != pod.ServiceAccountName || crb.Subjects[0].Namespace != namespace {
		t.Errorf("ClusterRoleBinding does not bind the manager's ServiceAccount: %+v", crb)
	}
	role := get[rbacv1.Role](t, m, "Role", fullname+"-leader-election")
	if !hasRule(role.Rules, "coordination.k8s.io", "leases", "update") || !hasRule(role.Rules, "events.k8s.io", "events", "create") {
		t.Errorf("leader election Role lacks leases or events: %+v", role.Rules)
	}
	rb := get[rbacv1.RoleBinding](t, m, "RoleBinding", fullname+"-leader-election")
	if rb.RoleRef.Name != role.Name || rb.Subjects[0].Name != pod.ServiceAccountName {
		t.Errorf("leader election RoleBinding: %+v", rb)
	}

	// The PDB selects the operator pods.
	pdb := get[policyv1.PodDisruptionBudget](t, m, "PodDisruptionBudget", fullname)
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 {
		t.Errorf("PDB minAvailable = %v, want 1", pdb.Spec.MinAvailable)
	}
	if !reflect.DeepEqual(pdb.Spec.Selector.MatchLabels, d.Spec.Selector.MatchLabels) {
		t.Errorf("PDB selector %v != Deployment selector %v", pdb.Spec.Selector.MatchLabels, d.Spec.Selector.MatchLabels)
	}
	for k, v := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("pod template lacks selector label %s=%s", k, v)
		}
	}

	// Optional resources are off by default.
	for _, kind := range []string{"NetworkPolicy", "ServiceMonitor", "ConfigMap", "Issuer", "Certificate"} {
		if got := m.ofKind(kind); len(got) != 0 {
			t.Errorf("%s rendered by default", kind)
		}
	}
}

func hasRule(rules []rbacv1.PolicyRule, group, resource, verb string) bool {
	return slices.ContainsFunc(rules, func(r rbacv1.PolicyRule) bool {
		return slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb)
	})
}

func TestReplicasAndLeaderElection(t *testing.T) {
	t.Parallel()
	t.Run("several replicas need leader election", func(t *testing.T) {
		t.Parallel()
		_, err := helm(t, "template", release, chartRel, "--set", "leaderElection.enabled=false")
		if err == nil || !strings.Contains(err.Error(), "needs leaderElection.enabled") {
			t.Errorf("2 replicas without leader election: err = %v", err)
		}
	})
	t.Run("one replica without leader election", func(t *testing.T) {
		t.Parallel()
		m := render(t, "--set", "manager.replicas=1", "--set", "leaderElection.enabled=false")
		c := managerContainer(t, get[appsv1.Deployment](t, m, "Deployment", fullname))
		if slices.Contains(c.Args, "--leader-elect") {
			t.Errorf("args %q have --leader-elect", c.Args)
		}
		for _, kind := range []string{"Role", "RoleBinding", "PodDisruptionBudget"} {
			if len(m.ofKind(kind)) != 0 {
				t.Errorf("%s rendered with one replica and no leader election", kind)
			}
		}
	})
	t.Run("extraArgs and logLevel", func(t *testing.T) {
		t.Parallel()
		m := render(t, "--set", "manager.logLevel=debug", "--set-json", `manager.extraArgs=["--agent-timeout=10s","--resync=1m"]`)
		c := managerContainer(t, get[appsv1.Deployment](t, m, "Deployment", fullname))
		if n := len(c.Args); n < 2 || c.Args[n-2] != "--agent-timeout=10s" || c.Args[n-1] != "--resync=1m" {
			t.Errorf("extraArgs not appended: %q", c.Args)
		}
		if !slices.Contains(c.Args, "--log-level=debug") {
			t.Errorf("args %q lack --log-level=debug", c.Args)
		}
	})
}

func TestWebhook(t *testing.T) {
	t.Parallel()
	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		m := render(t, "--set-json", `webhook.excludeNamespaces=["kube-system"]`)
		mwc := get[admissionv1.MutatingWebhookConfiguration](t, m, "MutatingWebhookConfiguration", fullname)
		if len(mwc.Webhooks) != 1 {
			t.Fatalf("%d webhooks, want 1", len(mwc.Webhooks))
		}
		w := mwc.Webhooks[0]
		if w.Name != "inject.cache.layercache.io" {
			t.Errorf("name = %q", w.Name)
		}
		if w.ObjectSelector == nil || !reflect.DeepEqual(w.ObjectSelector.MatchLabels, map[string]string{"cache.layercache.io/inject": "true"}) ||
			len(w.ObjectSelector.MatchExpressions) != 0 {
			t.Errorf("objectSelector = %+v, want matchLabels cache.layercache.io/inject: \"true\"", w.ObjectSelector)
		}
		if w.FailurePolicy == nil || *w.FailurePolicy != admissionv1.Fail {
			t.Errorf("failurePolicy = %v, want Fail", w.FailurePolicy)
		}
		if w.SideEffects == nil || *w.SideEffects != admissionv1.SideEffectClassNone {
			t.Errorf("sideEffects = %v, want None", w.SideEffects)
		}
		if w.ReinvocationPolicy == nil || *w.ReinvocationPolicy != admissionv1.IfNeededReinvocationPolicy {
			t.Errorf("reinvocationPolicy = %v, want IfNeeded", w.ReinvocationPolicy)
		}
		wantRules := []admissionv1.RuleWithOperations{{
			Operations: []admissionv1.OperationType{admissionv1.Create},
			Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}, Scope: ptr(admissionv1.NamespacedScope)},
		}}
		if !reflect.DeepEqual(w.Rules, wantRules) {
			t.Errorf("rules = %+v, want CREATE pods", w.Rules)
		}
		excluded := false
		if w.NamespaceSelector != nil {
			for _, e := range w.NamespaceSelector.MatchExpressions {
				if e.Key == "kubernetes.io/metadata.name" && e.Operator == "NotIn" {
					excluded = slices.Equal(e.Values, []string{namespace, "kube-system"})
				}
			}
		}
		if !excluded {
			t.Errorf("namespaceSelector %+v does not exclude exactly %s and kube-system", w.NamespaceSelector, namespace)
		}

		svc := w.ClientConfig.Service
		if svc == nil || svc.Namespace != namespace || svc.Path == nil || *svc.Path != "/mutate-v1-pod" || svc.Port == nil {
			t.Fatalf("clientConfig.service = %+v", svc)
		}
		if len(w.ClientConfig.CABundle) != 0 {
			t.Error("caBundle set: the operator writes it, and a chart value would fight it on upgrade")
		}
		if _, ok := mwc.Annotations["cert-manager.io/inject-ca-from"]; ok {
			t.Error("cert-manager annotation without cert-manager mode")
		}
		// The Service routes the webhook port to the manager's 9443.
		s := get[corev1.Service](t, m, "Service", svc.Name)
		var target string
		for _, p := range s.Spec.Ports {
			if p.Port == *svc.Port {
				target = p.TargetPort.String()
			}
		}
		c := managerContainer(t, get[appsv1.Deployment](t, m, "Deployment", fullname))
		if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == target && p.ContainerPort == 9443 }) {
			t.Errorf("Service port %d targets %q, not the manager's 9443", *svc.Port, target)
		}
	})
	t.Run("failurePolicy Ignore", func(t *testing.T) {
		t.Parallel()
		m := render(t, "--set", "webhook.failurePolicy=Ignore")
		w := get[admissionv1.MutatingWebhookConfiguration](t, m, "MutatingWebhookConfiguration", fullname).Webhooks[0]
		if *w.FailurePolicy != admissionv1.Ignore {
			t.Errorf("failurePolicy = %v, want Ignore", *w.FailurePolicy)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		m := render(t, "--set", "webhook.enabled=false")
		if len(m.ofKind("MutatingWebhookConfiguration")) != 0 {
			t.Error("webhook.enabled=false rendered a MutatingWebhookConfiguration")
		}
		s := get[corev1.Service](t, m, "Service", fullname)
		if slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == "webhook" }) {
			t.Error("webhook.enabled=false kept the Service's webhook port")
		}
	})
}

func ptr[T any](v T) *T { return &v }

func TestCertManager(t *testing.T) {
	t.Parallel()
	t.Run("self-signed issuer", func(t *testing.T) {
		t.Parallel()
		m := render(t, "--set", "webhook.certManager.enabled=true")
		issuers := m.ofKind("Issuer")
		certs := m.ofKind("Certificate")
		if len(issuers) != 1 || len(certs) != 1 {
			t.Fatalf("rendered %d Issuers and %d Certificates, want 1 and 1", len(issuers), len(certs))
		}
		var cert struct {
			Spec struct {
				SecretName string   `json:"secretName"`
				DNSNames   []string `json:"dnsNames"`
				IssuerRef  struct {
					Name, Kind, Group string
				} `json:"issuerRef"`
				RevisionHistoryLimit int `json:"revisionHistoryLimit"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(certs[0].Doc, &cert); err != nil {
			t.Fatal(err)
		}
		if cert.Spec.IssuerRef.Name != issuers[0].Name || cert.Spec.IssuerRef.Kind != "Issuer" {
			t.Errorf("Certificate issuerRef %+v is not the Issuer %s", cert.Spec.IssuerRef, issuers[0].Name)
		}
		if !slices.Contains(cert.Spec.DNSNames, fullname+"."+namespace+".svc") {
			t.Errorf("Certificate dnsNames %v lack the Service's name", cert.Spec.DNSNames)
		}
		if cert.Spec.RevisionHistoryLimit != 1 {
			t.Errorf("revisionHistoryLimit = %d, want 1", cert.Spec.RevisionHistoryLimit)
		}

		mwc := get[admissionv1.MutatingWebhookConfiguration](t, m, "MutatingWebhookConfiguration", fullname)
		if got, want := mwc.Annotations["cert-manager.io/inject-ca-from"], namespace+"/"+certs[0].Name; got != want {
			t.Errorf("inject-ca-from = %q, want %q", got, want)
		}
		// The manager serves the certificate's Secret.
		d := get[appsv1.Deployment](t, m, "Deployment", fullname)
		vol := ""
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Secret != nil && v.Secret.SecretName == cert.Spec.SecretName {
				vol = v.Name
			}
		}
		c := managerContainer(t, d)
		if vol == "" || !slices.ContainsFunc(c.VolumeMounts, func(vm corev1.VolumeMount) bool {
			return vm.Name == vol && vm.MountPath == "/tmp/k8s-webhook-server/serving-certs"
		}) {
			t.Errorf("Secret %s is not mounted at the webhook server's cert dir: %+v %+v",
				cert.Spec.SecretName, d.Spec.Template.Spec.Volumes, c.VolumeMounts)
		}
	})
	t.Run("existing issuer", func(t *testing.T) {
		t.Parallel()
		m := render(t, "--set", "webhook.certManager.enabled=true",
			"--set", "webhook.certManager.issuerRef.name=corp-ca", "--set", "webhook.certManager.issuerRef.kind=ClusterIssuer")
		if n := len(m.ofKind("Issuer")); n != 0 {
			t.Errorf("rendered %d Issuers with an existing issuer", n)
		}
		certs := m.ofKind("Certificate")
		if len(certs) != 1 {
			t.Fatalf("rendered %d Certificates, want 1", len(certs))
		}
		if doc := string(certs[0].Doc); !strings.Contains(doc, "name: corp-ca") || !strings.Contains(doc, "kind: ClusterIssuer") {
			t.Errorf("Certificate does not use the ClusterIssuer corp-ca:\n%s", doc)
		}
	})
	t.Run("webhook disabled", func(t *testing.T) {
		t.Parallel()
		m := render(t, "--set", "webhook.certManager.enabled=true", "--set", "webhook.enabled=false")
		if len(m.ofKind("Issuer"))+len(m.ofKind("Certificate")) != 0 {
			t.Error("cert-manager objects without a webhook")
		}
	})
}

// TestManagerRBAC proves hack/helm-sync.sh ran: the chart's ClusterRole has
// exactly config/rbac/role.yaml's rules.
func TestManagerRBAC(t *testing.T) {
	t.Parallel()
	var src rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(readFile(t, "config/rbac/role.yaml"), &src); err != nil {
		t.Fatalf("config/rbac/role.yaml: %v", err)
	}
	m := render(t)
	got := get[rbacv1.ClusterRole](t, m, "ClusterRole", fullname+"-manager")
	if !reflect.DeepEqual(got.Rules, src.Rules) {
		t.Errorf("the chart's ClusterRole differs from config/rbac/role.yaml (run 'make helm-sync'):\n got %+v\nwant %+v", got.Rules, src.Rules)
	}

	// The aggregated roles cover every CRD.
	edit := get[rbacv1.ClusterRole](t, m, "ClusterRole", fullname+"-edit")
	view := get[rbacv1.ClusterRole](t, m, "ClusterRole", fullname+"-view")
	if edit.Labels["rbac.authorization.k8s.io/aggregate-to-edit"] != "true" || view.Labels["rbac.authorization.k8s.io/aggregate-to-view"] != "true" {
		t.Error("aggregated ClusterRoles lack their aggregate-to labels")
	}
	for _, crd := range sourceCRDs(t) {
		if !hasRule(edit.Rules, crd.Spec.Group, crd.Spec.Names.Plural, "create") ||
			!hasRule(view.Rules, crd.Spec.Group, crd.Spec.Names.Plural, "list") ||
			hasRule(view.Rules, crd.Spec.Group, crd.Spec.Names.Plural, "create") {
			t.Errorf("aggregated roles do not cover %s.%s", crd.Spec.Names.Plural, crd.Spec.Group)
		}
	}
	if n := len(render(t, "--set", "rbac.aggregateToDefaultRoles=false").ofKind("ClusterRole")); n != 1 {
		t.Errorf("rbac.aggregateToDefaultRoles=false rendered %d ClusterRoles, want 1", n)
	}
}

func TestNetworkPolicy(t *testing.T) {
	t.Parallel()
	m := render(t, "--set", "networkPolicy.enabled=true", "--set-json", `networkPolicy.apiServer.cidrs=["10.0.0.1/32"]`)
	np := get[networkingv1.NetworkPolicy](t, m, "NetworkPolicy", fullname)
	d := get[appsv1.Deployment](t, m, "Deployment", fullname)
	if !reflect.DeepEqual(np.Spec.PodSelector.MatchLabels, d.Spec.Selector.MatchLabels) {
		t.Errorf("podSelector %v does not select the operator %v", np.Spec.PodSelector.MatchLabels, d.Spec.Selector.MatchLabels)
	}
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}) {
		t.Errorf("policyTypes = %v", np.Spec.PolicyTypes)
	}
	ingressOn := func(port string) *networkingv1.NetworkPolicyIngressRule {
		for i, r := range np.Spec.Ingress {
			if slices.ContainsFunc(r.Ports, func(p networkingv1.NetworkPolicyPort) bool { return p.Port.String() == port }) {
				return &np.Spec.Ingress[i]
			}
		}
		return nil
	}
	if r := ingressOn("webhook"); r == nil || len(r.From) != 0 {
		t.Errorf("webhook ingress is not open to the API server: %+v", r)
	}
	if r := ingressOn("metrics"); r == nil || len(r.From) != 1 || r.From[0].NamespaceSelector == nil ||
		r.From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "monitoring" {
		t.Errorf("metrics ingress is not limited to the monitoring namespace: %+v", r)
	}
	egressOn := func(port string) *networkingv1.NetworkPolicyEgressRule {
		for i, r := range np.Spec.Egress {
			if slices.ContainsFunc(r.Ports, func(p networkingv1.NetworkPolicyPort) bool { return p.Port.String() == port }) {
				return &np.Spec.Egress[i]
			}
		}
		return nil
	}
	if r := egressOn("7443"); r == nil || len(r.To) != 1 || r.To[0].PodSelector == nil ||
		r.To[0].PodSelector.MatchLabels["cache.layercache.io/inject"] != "true" {
		t.Errorf("egress to the agents' admin port is not to injected pods: %+v", r)
	}
	if r := egressOn("6443"); r == nil || len(r.To) != 1 || r.To[0].IPBlock == nil || r.To[0].IPBlock.CIDR != "10.0.0.1/32" {
		t.Errorf("egress to the API server: %+v", r)
	}
	if egressOn("53") == nil {
		t.Error("no DNS egress")
	}
}

func TestServiceMonitor(t *testing.T) {
	t.Parallel()
	m := render(t, "--set", "serviceMonitor.enabled=true", "--set", "serviceMonitor.labels.release=prom")
	sms := m.ofKind("ServiceMonitor")
	if len(sms) != 1 {
		t.Fatalf("rendered %d ServiceMonitors, want 1", len(sms))
	}
	var sm struct {
		APIVersion string `json:"apiVersion"`
		Spec       struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			Endpoints []struct {
				Port string `json:"port"`
				Path string `json:"path"`
			} `json:"endpoints"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(sms[0].Doc, &sm); err != nil {
		t.Fatal(err)
	}
	if sm.APIVersion != "monitoring.coreos.com/v1" || sms[0].Labels["release"] != "prom" {
		t.Errorf("ServiceMonitor apiVersion %q labels %v", sm.APIVersion, sms[0].Labels)
	}
	svc := get[corev1.Service](t, m, "Service", fullname)
	for k, v := range sm.Spec.Selector.MatchLabels {
		if svc.Labels[k] != v {
			t.Errorf("ServiceMonitor selector %v does not select the Service (labels %v)", sm.Spec.Selector.MatchLabels, svc.Labels)
		}
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "metrics" || sm.Spec.Endpoints[0].Path != "/metrics" ||
		!slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == "metrics" }) {
		t.Errorf("ServiceMonitor endpoints %+v do not scrape the Service's metrics port", sm.Spec.Endpoints)
	}
}

// dashboard is the part of a Grafana dashboard the test reads.
type dashboard struct {
	UID    string `json:"uid"`
	Title  string `json:"title"`
	Panels []struct {
		Type    string `json:"type"`
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func TestGrafanaDashboard(t *testing.T) {
	t.Parallel()
	m := render(t, "--set", "grafanaDashboard.enabled=true", "--set", "grafanaDashboard.namespace=monitoring")
	cms := m.ofKind("ConfigMap")
	if len(cms) != 1 {
		t.Fatalf("rendered %d ConfigMaps, want 1", len(cms))
	}
	cm := decode[corev1.ConfigMap](t, cms[0])
	if cm.Labels["grafana_dashboard"] != "1" || cm.Namespace != "monitoring" {
		t.Errorf("dashboard ConfigMap labels %v namespace %q", cm.Labels, cm.Namespace)
	}
	raw, ok := cm.Data["layercache.json"]
	if !ok {
		t.Fatalf("ConfigMap keys %v lack layercache.json", cm.Data)
	}
	if raw != strings.TrimRight(string(readFile(t, filepath.Join(chartRel, "dashboards", "layercache.json"))), "\n") {
		t.Error("the ConfigMap's dashboard differs from dashboards/layercache.json")
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(raw))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard uid %q title %q", d.UID, d.Title)
	}

	known := knownMetrics(t)
	metric := regexp.MustCompile(`\b(?:layercache|controller_runtime|workqueue|leader_election)_[a-z0-9_]+\b`)
	used := map[string]bool{}
	for _, p := range d.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		for _, tg := range p.Targets {
			names := metric.FindAllString(tg.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q: no metric in %q", p.Title, tg.Expr)
			}
			for _, n := range names {
				used[n] = true
				if !known[n] {
					t.Errorf("panel %q uses %s, which nothing exports (expr %q)", p.Title, n, tg.Expr)
				}
			}
		}
	}
	// Every family of the operator and the agents is on the dashboard.
	for _, n := range exported(t) {
		if !used[n] && !used[n+"_bucket"] && !used[n+"_sum"] {
			t.Errorf("%s is exported but not on the dashboard", n)
		}
	}
}

// exported lists the metric families of the operator and the agent:
// promcache's, read from its descriptors, and the ones the operator
// (internal/controller/metrics.go, cachepolicy_metrics.go) and agent
// (pkg/agent/metrics.go)
// register, each checked against its source file so that a rename fails
// here.
func exported(t *testing.T) []string {
	t.Helper()
	var names []string
	descs := make(chan *prometheus.Desc, 256)
	promcache.New(promcache.Options{}).Describe(descs)
	close(descs)
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	for d := range descs {
		m := fq.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read the name of %s", d)
		}
		names = append(names, m[1])
	}
	for _, src := range []struct {
		file, prefix string
		names        []string
	}{
		{"internal/controller/metrics.go", "layercache_operator_", []string{
			"invalidation_duration_seconds", "invalidations_finished_total", "invalidation_agent_errors_total"}},
		{"internal/controller/cachepolicy_metrics.go", "layercache_operator_", []string{"agents"}},
		{"pkg/agent/metrics.go", "layercache_agent_", []string{
			"ready", "policy_generation", "last_invalidation_seq", "policy_rejected", "warming_keys",
			"warming_done_keys", "warming_failed_keys", "breakers_open", "shared_tag_index_errors_total"}},
	} {
		code := string(readFile(t, src.file))
		for _, n := range src.names {
			if !strings.Contains(code, `"`+n+`"`) {
				t.Errorf("%s no longer registers %s%s: update the dashboard and this list", src.file, src.prefix, n)
			}
			names = append(names, src.prefix+n)
		}
	}
	sort.Strings(names)
	return names
}

// knownMetrics are the series names a dashboard query may use: exported
// families (with the _bucket, _sum and _count series of histograms and
// summaries) and controller-runtime's own.
func knownMetrics(t *testing.T) map[string]bool {
	t.Helper()
	known := map[string]bool{
		"controller_runtime_reconcile_total":               true,
		"controller_runtime_reconcile_errors_total":        true,
		"controller_runtime_reconcile_time_seconds_bucket": true,
		"workqueue_depth":               true,
		"leader_election_master_status": true,
	}
	for _, n := range exported(t) {
		for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
			known[n+suffix] = true
		}
	}
	return known
}

// TestValuesSchema rejects typos and bad values, and checks that every
// object in the schema says what extra keys it takes.
func TestValuesSchema(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ set, want string }{
		{"manager.replica=3", "additional properties 'replica' not allowed"},
		{"replicas=3", "additional properties 'replicas' not allowed"},
		{"podSecurityContext.runAsNonroot=true", "additional properties 'runAsNonroot' not allowed"},
		{"webhook.certManager.enable=true", "additional properties 'enable' not allowed"},
		{"manager.replicas=0", "/manager/replicas"},
		{"webhook.failurePolicy=Sometimes", "/webhook/failurePolicy"},
		{"webhook.timeoutSeconds=60", "/webhook/timeoutSeconds"},
		{"manager.logLevel=verbose", "/manager/logLevel"},
		{"image.pullPolicy=Sometimes", "/image/pullPolicy"},
		{"podDisruptionBudget.minAvailable=half", "/podDisruptionBudget/minAvailable"},
		{"serviceMonitor.interval=often", "/serviceMonitor/interval"},
		{"crds.install=maybe", "/crds/install"},
	} {
		t.Run(tc.set, func(t *testing.T) {
			t.Parallel()
			_, err := helm(t, "template", release, chartRel, "--set", tc.set)
			if err == nil {
				t.Fatalf("--set %s rendered", tc.set)
			}
			if msg := err.Error(); !strings.Contains(msg, "schema") || !strings.Contains(msg, tc.want) {
				t.Errorf("--set %s: error does not mention the schema and %q:\n%v", tc.set, tc.want, err)
			}
		})
	}
	t.Run("percentage minAvailable", func(t *testing.T) {
		t.Parallel()
		m := render(t, "--set", "podDisruptionBudget.minAvailable=50%")
		if pdb := get[policyv1.PodDisruptionBudget](t, m, "PodDisruptionBudget", fullname); pdb.Spec.MinAvailable.String() != "50%" {
			t.Errorf("minAvailable = %v", pdb.Spec.MinAvailable)
		}
	})
	t.Run("closed objects", func(t *testing.T) {
		t.Parallel()
		var schema map[string]any
		if err := json.Unmarshal(readFile(t, filepath.Join(chartRel, "values.schema.json")), &schema); err != nil {
			t.Fatal(err)
		}
		if schema["$schema"] != "http://json-schema.org/draft-07/schema#" {
			t.Errorf("$schema = %v, want draft-07", schema["$schema"])
		}
		walkSchema(t, "", schema)
	})
}

// walkSchema fails for an object schema that does not state
// additionalProperties, or that lists properties yet allows others.
func walkSchema(t *testing.T, path string, node map[string]any) {
	t.Helper()
	if node["type"] == "object" {
		ap, ok := node["additionalProperties"]
		switch {
		case !ok:
			t.Errorf("schema %s: object without additionalProperties", or(path, "/"))
		case node["properties"] != nil && ap != false:
			t.Errorf("schema %s: object with properties must set additionalProperties: false", or(path, "/"))
		}
	}
	if props, ok := node["properties"].(map[string]any); ok {
		for k, v := range props {
			walkSchema(t, path+"/"+k, asSchema(t, path+"/"+k, v))
		}
	}
	for _, k := range []string{"items", "additionalProperties"} {
		if sub, ok := node[k].(map[string]any); ok {
			walkSchema(t, path+"/"+k, sub)
		}
	}
	if alts, ok := node["oneOf"].([]any); ok {
		for i, a := range alts {
			p := fmt.Sprintf("%s/oneOf/%d", path, i)
			walkSchema(t, p, asSchema(t, p, a))
		}
	}
}

func asSchema(t *testing.T, path string, v any) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Errorf("schema %s: %T, want an object", path, v)
	}
	return m
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// TestHelmSyncUpToDate runs hack/helm-sync.sh on a copy of the chart: the
// copy must not change (else the chart is stale: run make helm-sync), and
// a second run must not change it either.
func TestHelmSyncUpToDate(t *testing.T) {
	t.Parallel()
	r := root(t)
	src := filepath.Join(r, chartRel)
	dst := filepath.Join(t.TempDir(), "layercache")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	runSync := func() {
		t.Helper()
		cmd := exec.Command("bash", filepath.Join(r, "hack", "helm-sync.sh"), dst)
		cmd.Dir = r
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("hack/helm-sync.sh: %v\n%s", err, out)
		}
	}
	runSync()
	if diff := diffTrees(t, src, dst); len(diff) > 0 {
		t.Errorf("%s is stale: run 'make helm-sync' and commit the result; differences:\n  %s", chartRel, strings.Join(diff, "\n  "))
	}
	before := snapshot(t, dst)
	runSync()
	if !reflect.DeepEqual(before, snapshot(t, dst)) {
		t.Error("a second hack/helm-sync.sh run changed the chart")
	}

	// Every generated file says so on its first line.
	for _, f := range append(globRel(t, dst, "templates/crds/*.yaml"), "templates/rbac-generated.yaml") {
		b, err := os.ReadFile(filepath.Join(dst, f))
		if err != nil {
			t.Fatal(err)
		}
		if first, _, _ := strings.Cut(string(b), "\n"); first != "# Code generated by hack/helm-sync.sh. DO NOT EDIT." {
			t.Errorf("%s starts with %q", f, first)
		}
	}
}

func globRel(t *testing.T, dir, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil || len(files) == 0 {
		t.Fatalf("nothing matches %s in %s (%v)", pattern, dir, err)
	}
	for i, f := range files {
		files[i], _ = filepath.Rel(dir, f)
	}
	return files
}

// snapshot maps each file under dir to its content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// diffTrees lists the files that differ between two directories.
func diffTrees(t *testing.T, a, b string) []string {
	t.Helper()
	fa, fb := snapshot(t, a), snapshot(t, b)
	var diff []string
	for name, content := range fa {
		switch other, ok := fb[name]; {
		case !ok:
			diff = append(diff, name+": removed by helm-sync")
		case other != content:
			diff = append(diff, name+": changed by helm-sync")
		}
	}
	for name := range fb {
		if _, ok := fa[name]; !ok {
			diff = append(diff, name+": added by helm-sync")
		}
	}
	sort.Strings(diff)
	return diff
}

// TestHelmSyncInputs feeds hack/helm-sync.sh inputs controller-gen does
// not produce today: a CRD without annotations or labels whose text holds
// "{{", a CRD directory that lost a file, and a role.yaml with two
// documents.
func TestHelmSyncInputs(t *testing.T) {
	t.Parallel()
	r := root(t)
	const crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names:
    kind: Widget
    listKind: WidgetList
    plural: widgets
    singular: widget
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        description: 'A widget; {{ .Values.secret }} stays literal.'
        type: object
`
	runSync := func(t *testing.T, crdDir, role string) (string, string, error) {
		t.Helper()
		chart := filepath.Join(t.TempDir(), "layercache")
		if err := os.CopyFS(chart, os.DirFS(filepath.Join(r, chartRel))); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("bash", filepath.Join(r, "hack", "helm-sync.sh"), chart)
		cmd.Dir = r
		cmd.Env = append(os.Environ(), "CRD_DIR="+crdDir, "RBAC_ROLE="+role)
		out, err := cmd.CombinedOutput()
		return chart, string(out), err
	}
	write := func(t *testing.T, name, content string) string {
		t.Helper()
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("bare CRD", func(t *testing.T) {
		t.Parallel()
		crdDir := filepath.Dir(write(t, "example.com_widgets.yaml", crd))
		chart, out, err := runSync(t, crdDir, filepath.Join(r, "config", "rbac", "role.yaml"))
		if err != nil {
			t.Fatalf("hack/helm-sync.sh: %v\n%s", err, out)
		}
		if got := globRel(t, chart, "templates/crds/*.yaml"); !slices.Equal(got, []string{"templates/crds/example.com_widgets.yaml"}) {
			t.Errorf("templates/crds = %v: CRDs whose source is gone must be removed", got)
		}
		stdout, err := helm(t, "template", release, chart, "--namespace", namespace)
		if err != nil {
			t.Fatal(err)
		}
		m := parse(t, stdout)
		got := get[apiextensionsv1.CustomResourceDefinition](t, m, "CustomResourceDefinition", "widgets.example.com")
		if got.Annotations["helm.sh/resource-policy"] != "keep" || got.Labels["app.kubernetes.io/part-of"] != "layercache" {
			t.Errorf("annotations %v, labels %v: keep or the chart's labels missing", got.Annotations, got.Labels)
		}
		if d := got.Spec.Versions[0].Schema.OpenAPIV3Schema.Description; d != "A widget; {{ .Values.secret }} stays literal." {
			t.Errorf("description = %q", d)
		}
		edit := get[rbacv1.ClusterRole](t, m, "ClusterRole", fullname+"-edit")
		if !hasRule(edit.Rules, "example.com", "widgets", "create") {
			t.Errorf("edit role does not cover widgets: %+v", edit.Rules)
		}
		stdout, err = helm(t, "template", release, chart, "--namespace", namespace, "--set", "crds.keep=false")
		if err != nil {
			t.Fatal(err)
		}
		if o, _ := parse(t, stdout).find("CustomResourceDefinition", "widgets.example.com"); o.Annotations["helm.sh/resource-policy"] != "" {
			t.Errorf("crds.keep=false: annotations %v", o.Annotations)
		}
	})
	t.Run("two roles", func(t *testing.T) {
		t.Parallel()
		role := string(readFile(t, "config/rbac/role.yaml"))
		two := write(t, "role.yaml", role+"\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: manager-role\n  namespace: x\nrules: []\n")
		_, out, err := runSync(t, filepath.Join(r, "config", "crd", "bases"), two)
		if err == nil || !strings.Contains(out, "more than one YAML document") {
			t.Errorf("role.yaml with two documents: err %v, output:\n%s", err, out)
		}
	})
	t.Run("no CRDs", func(t *testing.T) {
		t.Parallel()
		_, out, err := runSync(t, t.TempDir(), filepath.Join(r, "config", "rbac", "role.yaml"))
		if err == nil || !strings.Contains(out, "no CRDs") {
			t.Errorf("empty CRD directory: err %v, output:\n%s", err, out)
		}
	})
}
