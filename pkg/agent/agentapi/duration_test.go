package agentapi_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/agent/agentapi"
)

func TestDurationJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{`"90s"`, 90 * time.Second, true},
		{`"1h30m"`, 90 * time.Minute, true},
		{`"0s"`, 0, true},
		{`"-5m"`, -5 * time.Minute, true}, // decodes; Validate refuses it
		{`90`, 0, false},
		{`"soon"`, 0, false},
		{`null`, 0, false},
		{`{"s":1}`, 0, false},
	} {
		var d agentapi.Duration
		err := json.Unmarshal([]byte(tc.in), &d)
		if (err == nil) != tc.ok || (tc.ok && d.Std() != tc.want) {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v, ok=%v", tc.in, d, err, tc.want, tc.ok)
		}
	}
	b, err := json.Marshal(agentapi.Duration(2*time.Minute + 500*time.Millisecond))
	if err != nil || string(b) != `"2m0.5s"` {
		t.Fatalf("Marshal = %s, %v; want \"2m0.5s\"", b, err)
	}
}
