package disk

import (
	"strings"
	"testing"
)

func TestOptionsInvalid(t *testing.T) {
	dir := t.TempDir()
	key32 := make([]byte, 32)
	tests := []struct {
		name  string
		opts  Options
		field string
	}{
		{"no dir", Options{}, "Options.Dir"},
		{"blank dir", Options{Dir: "  "}, "Options.Dir"},
		{"NUL in dir", Options{Dir: "a\x00b"}, "Options.Dir"},
		{"negative MaxBytes", Options{Dir: dir, MaxBytes: -1}, "Options.MaxBytes"},
		{"negative MaxEntries", Options{Dir: dir, MaxEntries: -1}, "Options.MaxEntries"},
		{"negative MaxValueBytes", Options{Dir: dir, MaxValueBytes: -1}, "Options.MaxValueBytes"},
		{"MaxValueBytes over MaxBytes", Options{Dir: dir, MaxBytes: 100, MaxValueBytes: 101}, "Options.MaxValueBytes"},
		{"short encryption key", Options{Dir: dir, EncryptionKey: make([]byte, 16)}, "Options.EncryptionKey"},
		{"empty encryption key", Options{Dir: dir, EncryptionKey: []byte{}}, "Options.EncryptionKey"},
		{"short signing key", Options{Dir: dir, SigningKey: make([]byte, 8)}, "Options.SigningKey"},
		{"empty signing key", Options{Dir: dir, SigningKey: []byte{}}, "Options.SigningKey"},
		{"both keys", Options{Dir: dir, EncryptionKey: key32, SigningKey: key32}, "Options.EncryptionKey"},
	}
	for _, tc := range tests {
		l, err := New(tc.opts)
		if err == nil {
			if err := l.Close(); err != nil {
				t.Error(err)
			}
			t.Errorf("%s: New(%+v) = nil error, want one naming %s", tc.name, tc.opts, tc.field)
			continue
		}
		if !strings.Contains(err.Error(), tc.field) || !strings.HasPrefix(err.Error(), "disk layer: ") {
			t.Errorf("%s: New error %q does not start with \"disk layer: \" and name %s", tc.name, err, tc.field)
		}
	}
}

func TestOptionsDefaults(t *testing.T) {
	s, err := (&Options{Dir: "rel"}).resolve()
	if err != nil {
		t.Fatal(err)
	}
	if s.name != DefaultName || s.maxBytes != DefaultMaxBytes || s.maxEntries != DefaultMaxEntries ||
		s.maxValueBytes != DefaultMaxValueBytes || s.clock == nil || !strings.HasPrefix(s.dir, "/") {
		t.Errorf("resolved defaults = %+v", s)
	}
	s, err = (&Options{Dir: "rel", MaxBytes: 1000}).resolve()
	if err != nil {
		t.Fatal(err)
	}
	if s.maxValueBytes != 1000 {
		t.Errorf("MaxValueBytes default with MaxBytes 1000 = %d, want 1000", s.maxValueBytes)
	}
}

func TestOptionsKeysAreCopied(t *testing.T) {
	key := make([]byte, 32)
	o := Options{Dir: "x", EncryptionKey: key}
	s, err := o.resolve()
	if err != nil {
		t.Fatal(err)
	}
	key[0] = 1
	if s.encryptionKey[0] != 0 {
		t.Error("resolve kept a reference to the caller's key")
	}
}
