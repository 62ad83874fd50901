package disk

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	encKeyA  = bytes.Repeat([]byte{0xa1}, EncryptionKeySize)
	encKeyB  = bytes.Repeat([]byte{0xb2}, EncryptionKeySize)
	signKeyA = bytes.Repeat([]byte{0xc3}, MinSigningKeySize)
	signKeyB = bytes.Repeat([]byte{0xd4}, MinSigningKeySize)
)

const (
	secretKey   = "user:4242:session"
	secretValue = "credit card 4111-1111-1111-1111"
)

func TestEncryptedRecordsHideKeysAndValues(t *testing.T) {
	now := time.Now()
	l := open(t, Options{EncryptionKey: encKeyA})
	e := entryAt(now, secretValue)
	e.Tags = []string{"tag-visible-if-plain"}
	set(t, l, secretKey, e)
	if v, ok := get(t, l, secretKey); !ok || v != secretValue {
		t.Fatalf("Get = %q, %v; want the value back", v, ok)
	}
	files := recordFiles(t, l.dir)
	if len(files) != 1 {
		t.Fatalf("record files = %v, want 1", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, plain := range []string{secretKey, secretValue, "tag-visible-if-plain"} {
		if bytes.Contains(b, []byte(plain)) {
			t.Errorf("record file contains %q in plaintext", plain)
		}
	}
	sum := sha256.Sum256([]byte(secretKey))
	if strings.Contains(filepath.Base(files[0]), hex.EncodeToString(sum[:16])) {
		t.Error("file name is the unkeyed SHA-256 of the key; anyone could confirm a guessed key")
	}
}

func TestWrongEncryptionKeyIsMiss(t *testing.T) {
	now := time.Now()
	l := open(t, Options{EncryptionKey: encKeyA})
	set(t, l, secretKey, entryAt(now, secretValue))
	l = reopen(t, l, Options{EncryptionKey: encKeyB})
	if _, ok := get(t, l, secretKey); ok {
		t.Error("Get with the wrong key found an entry")
	}
	if got := len(keys(t, l)); got != 0 {
		t.Errorf("Scan with the wrong key reports %d keys, want 0", got)
	}
	if l.CorruptEntries() != 1 || len(recordFiles(t, l.dir)) != 0 {
		t.Errorf("CorruptEntries %d, files %d; want 1, 0 (records failing authentication are removed)",
			l.CorruptEntries(), len(recordFiles(t, l.dir)))
	}
}

func TestWrongKeyAtRuntimeIsMiss(t *testing.T) {
	now := time.Now()
	l := open(t, Options{EncryptionKey: encKeyA})
	set(t, l, secretKey, entryAt(now, secretValue))
	other, err := newProtector(encKeyB, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := entryAt(now, "forged")
	forged := other.encodeRecord(secretKey, &e, e.ExpiresAt())
	if err := os.WriteFile(fileOf(l, secretKey), forged, fileMode); err != nil {
		t.Fatal(err)
	}
	if v, ok := get(t, l, secretKey); ok {
		t.Errorf("Get = %q from a record sealed with another key, want a miss", v)
	}
	if l.CorruptEntries() != 1 || exists(t, fileOf(l, secretKey)) {
		t.Errorf("CorruptEntries %d, file exists %v; want 1, false", l.CorruptEntries(), exists(t, fileOf(l, secretKey)))
	}
}

// TestUnprotectedRecordRejected plants a plaintext (or unsigned) record where
// a protected layer expects its own; it must never be accepted.
func TestUnprotectedRecordRejected(t *testing.T) {
	tests := []struct {
		name   string
		layer  Options
		forger func() (*protector, error)
	}{
		{"plaintext into encrypted", Options{EncryptionKey: encKeyA}, func() (*protector, error) { return newProtector(nil, nil) }},
		{"signed into encrypted", Options{EncryptionKey: encKeyA}, func() (*protector, error) { return newProtector(nil, signKeyA) }},
		{"plaintext into signed", Options{SigningKey: signKeyA}, func() (*protector, error) { return newProtector(nil, nil) }},
		{"other signing key", Options{SigningKey: signKeyA}, func() (*protector, error) { return newProtector(nil, signKeyB) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Now()
			l := open(t, tc.layer)
			set(t, l, "k", entryAt(now, "genuine"))
			forger, err := tc.forger()
			if err != nil {
				t.Fatal(err)
			}
			e := entryAt(now, "forged")
			if err := os.WriteFile(fileOf(l, "k"), forger.encodeRecord("k", &e, e.ExpiresAt()), fileMode); err != nil {
				t.Fatal(err)
			}
			if v, ok := get(t, l, "k"); ok {
				t.Errorf("Get(k) = %q from a forged record, want a miss", v)
			}
			if l.CorruptEntries() != 1 || exists(t, fileOf(l, "k")) {
				t.Errorf("CorruptEntries %d, file exists %v; want 1, false", l.CorruptEntries(), exists(t, fileOf(l, "k")))
			}
		})
	}
}

func TestPlaintextRecordsRejectedAfterEnablingEncryption(t *testing.T) {
	now := time.Now()
	l := open(t, Options{})
	set(t, l, "k", entryAt(now, "plain"))
	l = reopen(t, l, Options{EncryptionKey: encKeyA})
	if _, ok := get(t, l, "k"); ok {
		t.Error("an encrypted layer returned a plaintext record")
	}
	if l.CorruptEntries() != 1 || len(recordFiles(t, l.dir)) != 0 {
		t.Errorf("CorruptEntries %d, files %d; want 1, 0", l.CorruptEntries(), len(recordFiles(t, l.dir)))
	}
}

func TestSignedRecordTamperedIsMiss(t *testing.T) {
	now := time.Now()
	l := open(t, Options{SigningKey: signKeyA})
	set(t, l, "k", entryAt(now, "hello world"))
	path := fileOf(l, "k")
	mutate(t, path, func(b []byte) []byte {
		i := bytes.Index(b, []byte("hello world"))
		if i < 0 {
			t.Fatal("signed record does not hold the value in plaintext")
		}
		b[i] = 'j'
		return b
	})
	if v, ok := get(t, l, "k"); ok {
		t.Errorf("Get(k) = %q from a tampered record, want a miss", v)
	}
	if l.CorruptEntries() != 1 || exists(t, path) {
		t.Errorf("CorruptEntries %d, file exists %v; want 1, false", l.CorruptEntries(), exists(t, path))
	}
}

func TestSignedRecordsSurviveRestart(t *testing.T) {
	now := time.Now()
	l := open(t, Options{SigningKey: signKeyA})
	set(t, l, "k", entryAt(now, "v"))
	l = reopen(t, l, Options{SigningKey: signKeyA})
	if v, ok := get(t, l, "k"); !ok || v != "v" {
		t.Errorf("Get(k) after restart = %q, %v; want v, true", v, ok)
	}
}
