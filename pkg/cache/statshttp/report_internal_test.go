package statshttp

import (
	"reflect"
	"testing"

	"github.com/layercache/layercache/pkg/cache"
)

// TestCountersMirrorStats fails when cache.Stats gains a counter the report
// lacks, or counters copies a field into the wrong place.
func TestCountersMirrorStats(t *testing.T) {
	var st cache.Stats
	sv := reflect.ValueOf(&st).Elem()
	n := 0
	for i := range sv.NumField() {
		if sv.Field(i).Kind() == reflect.Uint64 {
			sv.Field(i).SetUint(uint64(100 + i))
			n++
		}
	}
	c := counters(&st)
	cv := reflect.ValueOf(c)
	if cv.NumField() != n {
		t.Errorf("Counters has %d fields; cache.Stats has %d counters", cv.NumField(), n)
	}
	for i := range sv.NumField() {
		f := sv.Type().Field(i)
		if f.Type.Kind() != reflect.Uint64 {
			continue
		}
		got := cv.FieldByName(f.Name)
		if !got.IsValid() {
			t.Errorf("Counters lacks %s", f.Name)
			continue
		}
		if got.Uint() != sv.Field(i).Uint() {
			t.Errorf("Counters.%s = %d; want %d", f.Name, got.Uint(), sv.Field(i).Uint())
		}
	}
}
