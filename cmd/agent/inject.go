package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/internal/inject"
)

// injectUsage is the help of `agent inject`.
const injectUsage = `usage: agent inject -f FILE|- [flags]

Adds the layercache agent to the pod templates of the Kubernetes objects in
FILE (multi-document YAML; - is standard input) and writes every document to
standard output, in order. Pods, Deployments, StatefulSets, DaemonSets,
ReplicaSets, Jobs and CronJobs are injected as the operator's webhook would
inject their pods; an injected document is written back with its keys
sorted and without its comments. Other documents pass through byte for
byte, and so do pod templates already injected or labelled
cache.layercache.io/inject=false.

The policy of each workload is, in order: --policy, the pod template's
cache.layercache.io/policy annotation, or the one policy of --policy-file
whose selector matches the pod template's labels (a workload no policy of
the file selects is left unchanged, with a warning). With only a name, the
agent's disk, snapshot and Secret volumes cannot be known: give
--policy-file when the policy uses them.

flags:
`

// templatePath returns where the pod template of the kinds `agent inject`
// rewrites is (empty for a pod, which is its own template), and false for
// other kinds.
func templatePath(apiVersion, kind string) ([]string, bool) {
	switch apiVersion + "/" + kind {
	case "v1/Pod":
		return nil, true
	case "apps/v1/Deployment", "apps/v1/StatefulSet", "apps/v1/DaemonSet", "apps/v1/ReplicaSet", "batch/v1/Job":
		return []string{"spec", "template"}, true
	case "batch/v1/CronJob":
		return []string{"spec", "jobTemplate", "spec", "template"}, true
	}
	return nil, false
}

// injector rewrites documents for `agent inject`.
type injector struct {
	cfg      inject.Config
	policy   string                 // --policy
	policies []v1alpha1.CachePolicy // from --policy-file
	warn     func(format string, args ...any)
}

// runInject is `agent inject`.
func runInject(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("agent inject", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		_, _ = fmt.Fprint(fs.Output(), injectUsage) // stderr: nowhere to report a failed write
		fs.PrintDefaults()
	}
	var in injector
	file := fs.String("f", "", "YAML file to inject, - for standard input (required)")
	policyFile := fs.String("policy-file", "", "YAML file holding the CachePolicy (or several)")
	fs.StringVar(&in.policy, "policy", "", "name of the CachePolicy the agents follow")
	fs.StringVar(&in.cfg.AgentImage, "image", defaultAgentImage(), "agent container image")
	fs.BoolVar(&in.cfg.NativeSidecars, "native-sidecars", true, "inject a native sidecar (Kubernetes 1.29 or later); false: a regular container")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("inject: unexpected arguments %q", fs.Args())
	case *file == "":
		return errors.New("inject: -f FILE (or - for standard input) is required")
	}
	in.warn = func(format string, args ...any) {
		_, _ = fmt.Fprintf(stderr, "agent inject: warning: "+format+"\n", args...) // nowhere to report a failed write
	}
	if *policyFile != "" {
		var err error
		if in.policies, err = readPolicies(*policyFile); err != nil {
			return err
		}
	}
	src := stdin
	if *file != "-" {
		f, err := os.Open(*file)
		if err != nil {
			return fmt.Errorf("inject: %w", err)
		}
		defer func() { _ = f.Close() }() // read-only
		src = f
	}
	return in.stream(src, stdout)
}

// stream injects every document of r and writes them to w, separated by
// "---".
func (in *injector) stream(r io.Reader, w io.Writer) error {
	docs := k8syaml.NewYAMLReader(bufio.NewReader(r))
	for i := 0; ; {
		doc, err := docs.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("inject: read document %d: %w", i+1, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		out, err := in.document(doc)
		if err != nil {
			return fmt.Errorf("inject: document %d: %w", i+1, err)
		}
		if i > 0 {
			out = append([]byte("---\n"), out...)
		}
		if !bytes.HasSuffix(out, []byte("\n")) {
			out = append(out, '\n')
		}
		if _, err := w.Write(out); err != nil {
			return fmt.Errorf("inject: write: %w", err)
		}
		i++
	}
}

// document returns doc with the agent injected into its pod template, or
// doc itself when it has none or it is already injected.
func (in *injector) document(doc []byte) ([]byte, error) {
	var obj map[string]any
	if err := yaml.Unmarshal(doc, &obj, useNumber); err != nil {
		return nil, err
	}
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	path, ok := templatePath(apiVersion, kind)
	if !ok {
		return doc, nil
	}
	meta, _ := obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	ns, _ := meta["namespace"].(string)
	what := kind + " " + name

	tmplObj, setTemplate, err := templateOf(obj, path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var tmpl corev1.PodTemplateSpec
	if err := decodeStrict(tmplObj, &tmpl); err != nil {
		return nil, fmt.Errorf("%s: pod template: %w", what, err)
	}
	if tmpl.Annotations[v1alpha1.AnnotationInjectStatus] == inject.InjectedStatus || tmpl.Labels[v1alpha1.LabelInject] == "false" {
		return doc, nil
	}
	pod := &corev1.Pod{ObjectMeta: *tmpl.ObjectMeta.DeepCopy(), Spec: tmpl.Spec}
	pod.Namespace = ns
	policy, err := in.policyFor(what, pod)
	if err != nil {
		return nil, err
	}
	if policy == nil {
		return doc, nil
	}
	changed, err := inject.Inject(pod, policy, in.cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if !changed {
		return doc, nil
	}
	pod.Namespace = tmpl.Namespace
	tmpl.ObjectMeta, tmpl.Spec = pod.ObjectMeta, pod.Spec
	injected, err := encodeTemplate(&tmpl)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	setTemplate(injected)
	return yaml.Marshal(obj)
}

// policyFor chooses the policy of the workload what, whose pod template
// (with the workload's namespace) is pod; nil, nil means the workload is
// left as it is (a policy file whose selectors do not match it).
func (in *injector) policyFor(what string, pod *corev1.Pod) (*v1alpha1.CachePolicy, error) {
	name := in.policy
	if name == "" {
		name = pod.Annotations[v1alpha1.AnnotationPolicy]
	}
	if len(in.policies) == 0 {
		if name == "" {
			return nil, fmt.Errorf("%s: no policy: give --policy or --policy-file, or annotate the pod template with %s", what, v1alpha1.AnnotationPolicy)
		}
		// All the injector needs from a policy it cannot read is its name:
		// the bootstrap ConfigMap is named after it.
		return &v1alpha1.CachePolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: pod.Namespace}}, nil
	}
	var found []*v1alpha1.CachePolicy
	for i := range in.policies {
		p := &in.policies[i]
		if p.Namespace != "" && pod.Namespace != "" && p.Namespace != pod.Namespace {
			continue
		}
		if name != "" && p.Name == name || name == "" && p.Selects(pod.Labels) {
			found = append(found, p)
		}
	}
	switch {
	case len(found) == 1 && name != "" && !found[0].Selects(pod.Labels):
		in.warn("%s: CachePolicy %q does not select its pods, so the operator will not update or purge their agents", what, name)
	case len(found) == 0 && name != "":
		return nil, fmt.Errorf("%s: CachePolicy %q is not in --policy-file", what, name)
	case len(found) == 0:
		in.warn("%s: no CachePolicy of --policy-file selects its pods; left unchanged", what)
		return nil, nil
	case len(found) > 1:
		return nil, fmt.Errorf("%s: several CachePolicies of --policy-file apply; name one with --policy", what)
	}
	return found[0], nil
}

// templateOf returns obj's pod template (at path; a pod's metadata and
// spec when path is empty) and a function that replaces it.
func templateOf(obj map[string]any, path []string) (map[string]any, func(map[string]any), error) {
	if len(path) == 0 {
		set := func(t map[string]any) { obj["metadata"], obj["spec"] = t["metadata"], t["spec"] }
		return map[string]any{"metadata": obj["metadata"], "spec": obj["spec"]}, set, nil
	}
	holder := obj
	for _, k := range path[:len(path)-1] {
		next, ok := holder[k].(map[string]any)
		if !ok {
			return nil, nil, fmt.Errorf("no %s", strings.Join(path, "."))
		}
		holder = next
	}
	key := path[len(path)-1]
	tmpl, ok := holder[key].(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("no %s", strings.Join(path, "."))
	}
	return tmpl, func(t map[string]any) { holder[key] = t }, nil
}

// decodeStrict decodes the JSON-like value v into out, refusing unknown
// fields: a field the typed round trip would drop is better reported than
// silently lost.
func decodeStrict(v any, out any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(out)
}

// encodeTemplate returns tmpl as a JSON-like map, without the empty
// "resources: {}" the typed containers add, so only the injection shows
// up in a diff.
func encodeTemplate(tmpl *corev1.PodTemplateSpec) (map[string]any, error) {
	raw, err := json.Marshal(tmpl)
	if err != nil {
		return nil, fmt.Errorf("encode pod template: %w", err)
	}
	var out map[string]any
	if err := useNumber(json.NewDecoder(bytes.NewReader(raw))).Decode(&out); err != nil {
		return nil, fmt.Errorf("encode pod template: %w", err)
	}
	spec, _ := out["spec"].(map[string]any)
	for _, list := range []string{"initContainers", "containers", "ephemeralContainers"} {
		cs, _ := spec[list].([]any)
		for _, c := range cs {
			if c, ok := c.(map[string]any); ok {
				if r, ok := c["resources"].(map[string]any); ok && len(r) == 0 {
					delete(c, "resources")
				}
			}
		}
	}
	return out, nil
}

// readPolicies reads the CachePolicies of a YAML file; other documents in
// it are skipped, so a whole rendered manifest can be given.
func readPolicies(file string) ([]v1alpha1.CachePolicy, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("inject: policy file: %w", err)
	}
	defer func() { _ = f.Close() }() // read-only
	docs := k8syaml.NewYAMLReader(bufio.NewReader(f))
	var out []v1alpha1.CachePolicy
	for {
		doc, err := docs.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("inject: policy file %s: %w", file, err)
		}
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return nil, fmt.Errorf("inject: policy file %s: %w", file, err)
		}
		if meta.GroupVersionKind() != v1alpha1.GroupVersion.WithKind("CachePolicy") {
			continue
		}
		var p v1alpha1.CachePolicy
		if err := yaml.UnmarshalStrict(doc, &p); err != nil {
			return nil, fmt.Errorf("inject: policy file %s: %w", file, err)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("inject: policy file %s holds no CachePolicy", file)
	}
	return out, nil
}

// useNumber keeps numbers as written (json.Number) instead of float64.
func useNumber(d *json.Decoder) *json.Decoder {
	d.UseNumber()
	return d
}

// defaultAgentImage is the agent image matching this binary's version,
// or the latest one for a development build.
func defaultAgentImage() string {
	tag := "latest"
	if v := version(); strings.HasPrefix(v, "v") {
		tag = v
	}
	return agentImageRepository + ":" + tag
}

// agentImageRepository is where release images of the agent are published.
const agentImageRepository = "ghcr.io/layercache/agent"
