package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Tools are the programs the harness runs.
type Tools struct {
	// Manager and Agent are built from this repository (cmd/manager,
	// cmd/agent).
	Manager, Agent string
	// Kubectl is the one in KUBEBUILDER_ASSETS (hack/envtest-bins.sh).
	Kubectl string
	// Helm is $HELM or the one hack/tools-bins.sh builds.
	Helm string
}

// RepoRoot finds the module root from the working directory upwards.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			bytes.HasPrefix(data, []byte("module github.com/layercache/layercache\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("e2e: not inside the layercache module (no go.mod found)")
		}
		dir = parent
	}
}

// AssetsHelp says how to get the control plane binaries.
const AssetsHelp = "the end-to-end tests need kube-apiserver, etcd and kubectl: run them with `make test`, " +
	"or export KUBEBUILDER_ASSETS=$(bash hack/envtest-bins.sh)"

// BuildTools builds the manager and the agent into dir and finds kubectl
// and helm. It takes a while on a cold build cache (go build), once.
func BuildTools(root, dir string) (Tools, error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return Tools{}, errors.New(AssetsHelp)
	}
	t := Tools{
		Manager: filepath.Join(dir, "manager"),
		Agent:   filepath.Join(dir, "agent"),
		Kubectl: filepath.Join(assets, "kubectl"),
	}
	if _, err := os.Stat(t.Kubectl); err != nil {
		return Tools{}, fmt.Errorf("no kubectl in KUBEBUILDER_ASSETS (%v): rerun hack/envtest-bins.sh, which builds it", err)
	}
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./cmd/manager", "./cmd/agent")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return Tools{}, fmt.Errorf("go build ./cmd/manager ./cmd/agent: %w\n%s", err, out)
	}
	helm, err := HelmPath(root)
	if err != nil {
		return Tools{}, err
	}
	t.Helm = helm
	return t, nil
}

// HelmPath is $HELM, or the helm hack/tools-bins.sh builds from the Go
// module proxy (once, cached outside the repository).
func HelmPath(root string) (string, error) {
	if h := os.Getenv("HELM"); h != "" {
		return h, nil
	}
	cmd := exec.Command("bash", filepath.Join(root, "hack", "tools-bins.sh"), "helm")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("cannot build helm with hack/tools-bins.sh (it needs the Go module proxy; "+
			"or set HELM to a helm v3 binary): %w\n%s", err, stderr.String())
	}
	fields := strings.Fields(string(out))
	if len(fields) == 0 {
		return "", errors.New("hack/tools-bins.sh helm printed no path")
	}
	return fields[len(fields)-1], nil
}
