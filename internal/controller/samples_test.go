package controller

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// The samples users copy from config/samples are accepted by the API
// server as they are.
func TestSamplesAreAccepted(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	files, err := filepath.Glob(filepath.Join("..", "..", "config", "samples", "cache_*.yaml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("samples: %v, %v; want one per kind", files, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var obj unstructured.Unstructured
		if err := yaml.Unmarshal(data, &obj.Object); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		obj.SetNamespace(ns)
		if err := k8s.Create(context.Background(), &obj, client.DryRunAll); err != nil {
			t.Errorf("%s refused: %v", filepath.Base(f), err)
		}
	}
}
