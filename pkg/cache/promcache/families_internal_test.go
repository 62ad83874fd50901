package promcache

import (
	"reflect"
	"testing"

	"github.com/layercache/layercache/pkg/cache"
)

// TestEveryStatsCounterIsExported fails when cache.Stats gains a counter
// this package does not export, or a getter reads the wrong field.
func TestEveryStatsCounterIsExported(t *testing.T) {
	// Fields exported another way, with the reason.
	elsewhere := map[string]string{
		"LayerErrors": "the sum of layer_errors_total over layers",
		"Layers":      "the layer_* families",
	}
	var st cache.Stats
	v := reflect.ValueOf(&st).Elem()
	want := map[string]uint64{}
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if _, ok := elsewhere[f.Name]; ok {
			continue
		}
		if f.Type.Kind() != reflect.Uint64 {
			t.Fatalf("cache.Stats.%s is a %s; this test only knows uint64 counters", f.Name, f.Type)
		}
		val := uint64(1000 + i) // distinct per field
		v.Field(i).SetUint(val)
		want[f.Name] = val
	}
	seen := map[string]bool{}
	for _, sp := range stackCounterSpecs() {
		w, ok := want[sp.field]
		if !ok {
			t.Errorf("family %q names field %q, which cache.Stats does not have as a counter", sp.name, sp.field)
			continue
		}
		if got := sp.get(&st); got != w {
			t.Errorf("family %q reads %d; want Stats.%s = %d", sp.name, got, sp.field, w)
		}
		if seen[sp.field] {
			t.Errorf("field %q is exported twice", sp.field)
		}
		seen[sp.field] = true
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("cache.Stats.%s is not exported by any family", name)
		}
	}
}
