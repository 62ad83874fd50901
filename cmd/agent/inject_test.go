package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/layercache/layercache/internal/golden"
)

const testAgentImage = "registry.example/layercache/agent:v1.2.3"

func TestInjectGolden(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "inject")
	in := func(name string) string { return filepath.Join(dir, name) }
	for _, tc := range []struct {
		name       string
		args       []string
		stdin      string // a file fed to standard input
		golden     string
		wantStderr string // in standard error; empty: nothing written
	}{
		{
			name:       "a manifest injected with the policies of a file",
			args:       []string{"-f", in("workloads.yaml"), "--policy-file", in("policies.yaml")},
			golden:     "workloads.policy-file.golden.yaml",
			wantStderr: "Deployment redis: no CachePolicy of --policy-file selects its pods; left unchanged",
		},
		{
			name:       "a manifest read from standard input",
			args:       []string{"-f", "-", "--policy-file", in("policies.yaml")},
			stdin:      in("workloads.yaml"),
			golden:     "workloads.policy-file.golden.yaml",
			wantStderr: "Deployment redis: no CachePolicy",
		},
		{
			name:   "a pod given only a policy name, as a regular container",
			args:   []string{"-f", in("pod.yaml"), "--policy", "debug-cache", "--native-sidecars=false"},
			golden: "pod.named-regular.golden.yaml",
		},
		{
			name:       "a pod given a policy of the file that does not select it, with a warning",
			args:       []string{"-f", in("pod.yaml"), "--policy-file", in("policies.yaml"), "--policy", "web-cache"},
			golden:     "pod.unselected.golden.yaml",
			wantStderr: `Pod debug: CachePolicy "web-cache" does not select its pods`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdin bytes.Reader
			if tc.stdin != "" {
				b, err := os.ReadFile(tc.stdin)
				if err != nil {
					t.Fatal(err)
				}
				stdin.Reset(b)
			}
			var stdout, stderr bytes.Buffer
			args := append([]string{"--image", testAgentImage}, tc.args...)
			if err := runInject(args, &stdin, &stdout, &stderr); err != nil {
				t.Fatalf("inject %q: %v (stderr %q)", args, err, stderr.String())
			}
			golden.Check(t, filepath.Join(dir, tc.golden), stdout.Bytes())
			if got := stderr.String(); tc.wantStderr == "" && got != "" || !strings.Contains(got, tc.wantStderr) {
				t.Errorf("stderr %q, want %q", got, tc.wantStderr)
			}
		})
	}
}

func TestInjectOutputIsStable(t *testing.T) {
	t.Parallel()
	// Injecting the output again changes nothing: the pod templates
	// injected the first time are marked so.
	golden := filepath.Join("testdata", "inject", "workloads.policy-file.golden.yaml")
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	policies := filepath.Join("testdata", "inject", "policies.yaml")
	args := []string{"--image", "registry.example/other:v9", "-f", golden, "--policy-file", policies}
	if err := runInject(args, nil, &stdout, &stderr); err != nil {
		t.Fatalf("inject %q: %v", args, err)
	}
	if !bytes.Equal(stdout.Bytes(), want) {
		t.Errorf("re-injecting changed the output:\n%s", stdout.String())
	}
}

func TestInjectErrors(t *testing.T) {
	t.Parallel()
	in := func(name string) string { return filepath.Join("testdata", "inject", name) }
	for _, tc := range []struct {
		name string
		args []string
		want string // in the error
	}{
		{"no input file", []string{"--policy", "p"}, "-f FILE"},
		{"stray arguments", []string{"-f", in("pod.yaml"), "extra"}, "unexpected arguments"},
		{"a missing input file", []string{"-f", in("missing.yaml"), "--policy", "p"}, "no such file"},
		{"no way to choose a policy", []string{"-f", in("pod.yaml")}, "Pod debug: no policy"},
		{"a template with an unknown field", []string{"-f", in("unknown-field.yaml"), "--policy", "p"}, `unknown field "imagePullPolicyy"`},
		{"a named policy absent from the file", []string{"-f", in("pod.yaml"), "--policy-file", in("policies.yaml"), "--policy", "nope"}, `CachePolicy "nope" is not in --policy-file`},
		{"several policies of the file select the pod", []string{"-f", in("pod.yaml"), "--policy-file", in("ambiguous-policies.yaml")}, "several CachePolicies"},
		{"a policy file without policies", []string{"-f", in("pod.yaml"), "--policy-file", in("pod.yaml")}, "holds no CachePolicy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := runInject(tc.args, nil, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("inject %q = %v; want an error containing %q", tc.args, err, tc.want)
			}
		})
	}
}

func TestRunDispatchesInject(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	// Without -f, the injector refuses before touching standard input or
	// output: this only proves run handed the arguments to it.
	err := run(t.Context(), []string{"inject", "--policy", "p"}, &stderr)
	if err == nil || !strings.Contains(err.Error(), "inject: -f FILE") {
		t.Fatalf("run inject = %v; want the injector's error", err)
	}
}
