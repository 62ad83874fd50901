package redistest

import (
	"strings"
	"testing"
)

func TestMissingBinarySaysRunMakeTest(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := startLocal(t.TempDir(), false)
	if err == nil || !strings.Contains(err.Error(), "make test") {
		t.Fatalf("startLocal without redis-server = %v; want an error telling to run make test", err)
	}
}

func TestExternalURL(t *testing.T) {
	srv := Shared(t)
	ext, err := external("redis://" + srv.Addr() + "/3")
	if err != nil {
		t.Fatalf("external(%s): %v", srv.Addr(), err)
	}
	if o := ext.Options(); o.Addr != srv.Addr() || o.DB != 3 {
		t.Errorf("Options() = %s db %d, want %s db 3", o.Addr, o.DB, srv.Addr())
	}
	if err := ext.controllable(); err == nil {
		t.Error("an external server can be stopped, want an error")
	}
	if _, err := external("redis://127.0.0.1:1/0"); err == nil {
		t.Error("external(closed port) succeeded, want an error")
	}
}

func TestSharedServerCannotBeStopped(t *testing.T) {
	if err := Shared(t).controllable(); err == nil {
		t.Error("the shared server can be stopped, want an error")
	}
}
