package disk

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/layercache/layercache/pkg/cache"
)

// Defaults applied by New to zero-valued Options fields.
const (
	// DefaultName is the layer name used when Options.Name is empty.
	DefaultName = "disk"
	// DefaultMaxBytes bounds the bytes of all records (1 GiB).
	DefaultMaxBytes = 1 << 30
	// DefaultMaxEntries bounds the number of records.
	DefaultMaxEntries = 100_000
	// DefaultMaxValueBytes bounds one encoded entry (16 MiB).
	DefaultMaxValueBytes = 16 << 20
)

// Key sizes accepted by Options.
const (
	// EncryptionKeySize is the length of Options.EncryptionKey (AES-256).
	EncryptionKeySize = 32
	// MinSigningKeySize is the shortest Options.SigningKey accepted, the
	// output size of SHA-256 (RFC 2104 discourages shorter HMAC keys).
	MinSigningKeySize = 32
)

// Options configure a Layer. New does not modify them and keeps no
// reference to the slices it is given (keys are copied).
type Options struct {
	// Dir is the directory that holds the records. New creates it (mode
	// 0700) when missing and makes it absolute. One Layer at a time may use
	// a directory: New takes an exclusive lock on Dir/LOCK (Unix only) and
	// fails with ErrDirInUse when another Layer, in this or another process,
	// holds it. Files under Dir that do not look like records are never
	// touched.
	// default: none, required.
	Dir string

	// Name identifies the layer in metrics, events and per-layer options.
	// default: "disk".
	Name string

	// MaxBytes bounds the total size of all record files (file sizes, not
	// filesystem blocks). Past it, New and Set evict records (see the
	// package doc for the order). Negative values are an error.
	// default: 1 GiB (DefaultMaxBytes).
	MaxBytes int64

	// MaxEntries bounds the number of records. Past it, records are evicted
	// as for MaxBytes. Negative values are an error.
	// default: 100_000 (DefaultMaxEntries).
	MaxEntries int

	// MaxValueBytes bounds one entry as the Stack encoded it: the envelope
	// (payload, tags and deadlines; see cache.EntrySize). Set rejects larger
	// entries with an error wrapping cache.ErrTooLarge, as it does entries
	// whose record (the entry, the key and a few dozen bytes of header and
	// checksums) would exceed MaxBytes. A record file larger
	// than this limit plus the record overhead is treated as corrupt, so
	// lowering the limit discards bigger records written earlier. It must not
	// exceed MaxBytes. Negative values are an error.
	// default: 16 MiB (DefaultMaxValueBytes), or MaxBytes when that is smaller.
	MaxValueBytes int

	// EncryptionKey, when set, seals every record with AES-256-GCM under
	// keys derived from it (HKDF-SHA256) and names files by an HMAC of the
	// cache key, so neither keys nor values can be read from the directory.
	// A record that fails authentication, or that is not sealed at all, is
	// treated as corrupt: a miss, counted and removed. It must be exactly 32
	// bytes; a non-nil empty slice is an error, not "no encryption". It
	// cannot be combined with SigningKey.
	// default: nil (records are not encrypted).
	EncryptionKey []byte

	// SigningKey, when set, appends an HMAC-SHA256 to every record so that
	// tampered records are rejected (a miss, counted and removed) while
	// values stay readable on disk; unsigned records are rejected too. Use
	// it when integrity is wanted without encryption. It must be at least 32
	// bytes; a non-nil empty slice is an error. It cannot be combined with
	// EncryptionKey (which already authenticates every record).
	// default: nil (records carry only a CRC-32C checksum).
	SigningKey []byte

	// Clock tells the time in Unix nanoseconds, the unit of cache.Entry
	// deadlines; it exists to make expiry testable without sleeping. The
	// Stack's clock (cache.Options.Clock) can be passed as is.
	// default: the system clock, read on every call (a file operation costs
	// far more than reading the time).
	Clock cache.Clock

	// Sync fsyncs every record before it replaces the old one, and its
	// directory after, so a record Set wrote survives a power loss (removals
	// are not fsynced one by one; see the package doc). Without it, a process crash still never
	// tears a record (the rename is atomic), and a record cut short by a
	// power loss fails its checksum and is a miss: a cache can refetch it.
	// Sync costs one fsync (milliseconds on most disks) per write.
	//
	// default: false
	Sync bool
}

// systemClock is the default Clock.
type systemClock struct{}

func (systemClock) NowNano() int64 { return time.Now().UnixNano() }

// settings are the resolved, validated Options.
type settings struct {
	dir           string
	name          string
	maxBytes      int64
	maxEntries    int
	maxValueBytes int
	encryptionKey []byte
	signingKey    []byte
	clock         cache.Clock
	sync          bool
}

// resolve validates o and fills in defaults. Every error names the field.
func (o *Options) resolve() (settings, error) {
	s := settings{
		dir:           o.Dir,
		name:          o.Name,
		maxBytes:      o.MaxBytes,
		maxEntries:    o.MaxEntries,
		maxValueBytes: o.MaxValueBytes,
		clock:         o.Clock,
		sync:          o.Sync,
	}
	if strings.TrimSpace(s.dir) == "" {
		return s, fmt.Errorf("disk layer: Options.Dir is required")
	}
	if strings.ContainsRune(s.dir, 0) {
		return s, fmt.Errorf("disk layer: Options.Dir %q contains a NUL byte", s.dir)
	}
	abs, err := filepath.Abs(s.dir)
	if err != nil {
		return s, fmt.Errorf("disk layer: Options.Dir %q: %w", s.dir, err)
	}
	s.dir = abs
	if s.name == "" {
		s.name = DefaultName
	}
	if s.maxBytes < 0 {
		return s, fmt.Errorf("disk layer: Options.MaxBytes is %d, must not be negative", s.maxBytes)
	}
	if s.maxBytes == 0 {
		s.maxBytes = DefaultMaxBytes
	}
	if s.maxEntries < 0 {
		return s, fmt.Errorf("disk layer: Options.MaxEntries is %d, must not be negative", s.maxEntries)
	}
	if s.maxEntries == 0 {
		s.maxEntries = DefaultMaxEntries
	}
	switch {
	case s.maxValueBytes < 0:
		return s, fmt.Errorf("disk layer: Options.MaxValueBytes is %d, must not be negative", s.maxValueBytes)
	case s.maxValueBytes == 0:
		s.maxValueBytes = int(min(int64(DefaultMaxValueBytes), s.maxBytes))
	case int64(s.maxValueBytes) > s.maxBytes:
		return s, fmt.Errorf("disk layer: Options.MaxValueBytes (%d) exceeds Options.MaxBytes (%d)", s.maxValueBytes, s.maxBytes)
	}
	if o.EncryptionKey != nil && o.SigningKey != nil {
		return s, fmt.Errorf("disk layer: Options.EncryptionKey and Options.SigningKey are mutually exclusive (encryption already authenticates records)")
	}
	if o.EncryptionKey != nil {
		if len(o.EncryptionKey) != EncryptionKeySize {
			return s, fmt.Errorf("disk layer: Options.EncryptionKey is %d bytes, must be %d (AES-256)", len(o.EncryptionKey), EncryptionKeySize)
		}
		s.encryptionKey = append([]byte(nil), o.EncryptionKey...)
	}
	if o.SigningKey != nil {
		if len(o.SigningKey) < MinSigningKeySize {
			return s, fmt.Errorf("disk layer: Options.SigningKey is %d bytes, must be at least %d", len(o.SigningKey), MinSigningKeySize)
		}
		s.signingKey = append([]byte(nil), o.SigningKey...)
	}
	if s.clock == nil {
		s.clock = systemClock{}
	}
	return s, nil
}
