package cache

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Snapshot format (version 1):
//
//	"LCSNAP" | version (1) | uvarint created (Unix ns) | uvarint watermark
//	| uvarint len | codec name
//	| records: 0x01 | uvarint len | key | uvarint len | envelope (AppendEntry)
//	| 0x00 | uvarint record count | SHA-256 of every byte before it (32)
//
// Keys are relative to the Stack's namespace and generation, so a snapshot
// restores into a later generation. Deadlines are absolute at export and
// are shifted by the time between export and restore, so a restored entry
// keeps the TTL it had left (the reference library restored absolute
// deadlines).
const (
	snapshotMagic   = "LCSNAP"
	snapshotVersion = 1
	recordEntry     = 0x01
	recordEnd       = 0x00
)

// Defaults of SnapshotOptions and RestoreOptions.
const (
	DefaultSnapshotMaxEntries = 1_000_000
	DefaultSnapshotMaxBytes   = 1 << 30
)

// ErrSnapshot is wrapped by every error about a malformed snapshot.
var ErrSnapshot = errors.New("cache: bad snapshot")

// SnapshotOptions configures Snapshot.
type SnapshotOptions struct {
	// MaxEntries stops the export with an error past this many entries.
	// default: 1,000,000
	MaxEntries int
	// MaxBytes stops the export with an error past this many bytes.
	// default: 1 GiB
	MaxBytes int64
	// Watermark records the invalidation position the snapshot includes
	// (for example the last invalidation sequence an agent applied), so a
	// restore can replay newer invalidations. The cache stores it and
	// reports it back; it does not interpret it. default: 0
	Watermark uint64
}

// SnapshotInfo describes a snapshot.
type SnapshotInfo struct {
	Entries   int
	Bytes     int64
	Checksum  string // hex SHA-256 of the snapshot body
	Watermark uint64
	Created   time.Time
}

// RestoreOptions configures Restore.
type RestoreOptions struct {
	// MaxEntries rejects snapshots with more entries. default: 1,000,000
	MaxEntries int
	// MaxBytes rejects snapshots larger than this. default: 1 GiB
	MaxBytes int64
	// Skip, when set, is called with each key (relative to the namespace)
	// before it is restored; returning true leaves it out — for example a
	// key invalidated after the snapshot's watermark.
	Skip func(key string) bool
	// Layers names the layers written (LayerInfo.Name); the others are left
	// alone, for example a shared Redis layer that other instances keep
	// current, when a process warms its own tiers. Tags are recorded either
	// way. default: every layer
	Layers []string
}

func snapshotLimits(entries int, size int64) (int, int64, error) {
	if entries < 0 || size < 0 {
		return 0, 0, errors.New("cache: snapshot limits must not be negative")
	}
	if entries == 0 {
		entries = DefaultSnapshotMaxEntries
	}
	if size == 0 {
		size = DefaultSnapshotMaxBytes
	}
	return entries, size, nil
}

// Snapshot writes every live entry of s (its namespace, when s is one) with
// its tags and deadlines to w. Each key is exported once, from the fastest
// layer that holds it; negative entries are left out.
func (s *Stack) Snapshot(ctx context.Context, w io.Writer, opts SnapshotOptions) (SnapshotInfo, error) {
	c := s.c
	if c.closed.Load() {
		return SnapshotInfo{}, ErrClosed
	}
	maxEntries, maxBytes, err := snapshotLimits(opts.MaxEntries, opts.MaxBytes)
	if err != nil {
		return SnapshotInfo{}, err
	}
	now := c.clock.NowNano()
	sum := sha256.New()
	cw := &countingWriter{w: io.MultiWriter(w, sum)}
	bw := bufio.NewWriter(cw)
	var hdr []byte
	hdr = append(hdr, snapshotMagic...)
	hdr = append(hdr, snapshotVersion)
	hdr = binary.AppendUvarint(hdr, uint64(now))
	hdr = binary.AppendUvarint(hdr, opts.Watermark)
	hdr = binary.AppendUvarint(hdr, uint64(len(c.codec.Name())))
	hdr = append(hdr, c.codec.Name()...)
	if _, err := bw.Write(hdr); err != nil {
		return SnapshotInfo{}, fmt.Errorf("cache: snapshot: %w", err)
	}
	prefix := s.fullPrefix()
	seen := make(map[string]struct{})
	var rec []byte
	var werr error
	for i := range c.layers {
		l := &c.layers[i]
		err := l.Scan(ctx, prefix, func(qk string) bool {
			if _, dup := seen[qk]; dup {
				return true
			}
			e, ok, err := l.Get(ctx, qk)
			if err != nil || !ok || e.Negative || e.State(now) == StateExpired {
				return true
			}
			if l.info.Values && e.Payload == nil {
				if e.Payload, err = c.codec.Marshal(e.Value); err != nil {
					werr = fmt.Errorf("cache: snapshot: encode %q: %w", qk, err)
					return false
				}
			}
			if len(seen) >= maxEntries {
				werr = fmt.Errorf("%w: snapshot has more than %d entries (SnapshotOptions.MaxEntries)", ErrTooLarge, maxEntries)
				return false
			}
			seen[qk] = struct{}{}
			key := qk[len(prefix):]
			rec = append(rec[:0], recordEntry)
			rec = binary.AppendUvarint(rec, uint64(len(key)))
			rec = append(rec, key...)
			rec = binary.AppendUvarint(rec, uint64(EntrySize(&e)))
			rec = AppendEntry(rec, &e)
			if cw.n+int64(bw.Buffered())+int64(len(rec)) > maxBytes {
				werr = fmt.Errorf("%w: snapshot exceeds %d bytes (SnapshotOptions.MaxBytes)", ErrTooLarge, maxBytes)
				return false
			}
			if _, werr = bw.Write(rec); werr != nil {
				return false
			}
			return ctx.Err() == nil
		})
		if werr != nil {
			return SnapshotInfo{}, werr
		}
		if err != nil {
			return SnapshotInfo{}, c.layerErr(l, "snapshot-scan", prefix, err)
		}
		if err := ctx.Err(); err != nil {
			return SnapshotInfo{}, err
		}
	}
	trailer := binary.AppendUvarint([]byte{recordEnd}, uint64(len(seen)))
	if _, err := bw.Write(trailer); err != nil {
		return SnapshotInfo{}, fmt.Errorf("cache: snapshot: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return SnapshotInfo{}, fmt.Errorf("cache: snapshot: %w", err)
	}
	digest := sum.Sum(nil)
	if _, err := w.Write(digest); err != nil {
		return SnapshotInfo{}, fmt.Errorf("cache: snapshot: %w", err)
	}
	return SnapshotInfo{
		Entries: len(seen), Bytes: cw.n + int64(len(digest)), Checksum: hex.EncodeToString(digest),
		Watermark: opts.Watermark, Created: time.Unix(0, now).UTC(),
	}, nil
}

// SnapshotTempPrefix starts the name of the temporary file SnapshotFile
// writes before renaming it into place. A process killed during the write
// leaves it behind; whoever owns the directory may remove old ones.
const SnapshotTempPrefix = ".snapshot-"

// SnapshotFile writes a snapshot to path atomically: into a temporary file
// in the same directory (named SnapshotTempPrefix and a random suffix),
// synced, then renamed.
func (s *Stack) SnapshotFile(ctx context.Context, path string, opts SnapshotOptions) (SnapshotInfo, error) {
	f, err := os.CreateTemp(filepath.Dir(path), SnapshotTempPrefix+"*")
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("cache: snapshot: %w", err)
	}
	tmp := f.Name()
	info, err := s.Snapshot(ctx, f, opts)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return SnapshotInfo{}, fmt.Errorf("cache: snapshot %s: %w", path, err)
	}
	return info, nil
}

// RestoreInfo describes a finished restore.
type RestoreInfo struct {
	Restored  int // entries written
	Skipped   int // entries left out by RestoreOptions.Skip
	Watermark uint64
	Checksum  string
}

// Restore reads a snapshot written by Snapshot and writes its entries into
// every layer, with the TTL each had left at export. The snapshot is
// verified, and every entry decoded and its key checked, before anything is
// written: a truncated, corrupt or oversized snapshot, or one holding an
// entry that does not decode or an invalid key, restores nothing and returns
// an error wrapping ErrSnapshot or ErrTooLarge. (A layer failing during the
// writes can still leave a partial restore.) The codec must be the one that
// wrote it.
func (v *View[T]) Restore(ctx context.Context, r io.Reader, opts RestoreOptions) (RestoreInfo, error) {
	c := v.s.c
	if c.closed.Load() {
		return RestoreInfo{}, ErrClosed
	}
	maxEntries, maxBytes, err := snapshotLimits(opts.MaxEntries, opts.MaxBytes)
	if err != nil {
		return RestoreInfo{}, err
	}
	data, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return RestoreInfo{}, fmt.Errorf("cache: restore: read: %w", err)
	}
	if int64(len(data)) > maxBytes {
		return RestoreInfo{}, fmt.Errorf("%w: snapshot is larger than %d bytes (RestoreOptions.MaxBytes)", ErrTooLarge, maxBytes)
	}
	snap, err := parseSnapshot(data, maxEntries)
	if err != nil {
		return RestoreInfo{}, err
	}
	if snap.codec != c.codec.Name() {
		return RestoreInfo{}, fmt.Errorf("%w: written with codec %q, this stack uses %q", ErrSnapshot, snap.codec, c.codec.Name())
	}
	mask, err := c.layerMask(opts.Layers)
	if err != nil {
		return RestoreInfo{}, err
	}
	info := RestoreInfo{Watermark: snap.watermark, Checksum: snap.checksum}
	now := c.clock.NowNano()
	shift := now - snap.created
	// Decode and check every entry before writing any, so that a bad
	// entry or key anywhere in the snapshot restores nothing.
	var kvs []KeyValue[T]
	var ents [][]Entry
	for _, rec := range snap.records {
		if opts.Skip != nil && opts.Skip(rec.key) {
			info.Skipped++
			continue
		}
		if _, err := v.s.qualify(rec.key); err != nil {
			return RestoreInfo{}, fmt.Errorf("%w: %w", ErrSnapshot, err)
		}
		// Every exported entry was live at export, so after the shift it is
		// live now, with the time it had left then.
		e := rec.entry
		if e.FreshUntil != 0 {
			e.FreshUntil += shift
			if e.StaleUntil != 0 {
				e.StaleUntil += shift
			}
			if e.ErrorUntil != 0 {
				e.ErrorUntil += shift
			}
		}
		val := new(T)
		if err := c.codec.Unmarshal(e.Payload, val); err != nil {
			return RestoreInfo{}, fmt.Errorf("%w: entry %q does not decode: %w", ErrSnapshot, rec.key, err)
		}
		kvs = append(kvs, KeyValue[T]{Key: rec.key, Value: *val})
		ents = append(ents, c.entriesFrom(e, *val))
	}
	for i := 0; i < len(kvs); i += invalidateBatch {
		j := min(i+invalidateBatch, len(kvs))
		if err := v.restoreBatch(ctx, kvs[i:j], ents[i:j], mask); err != nil {
			return info, err
		}
		info.Restored += j - i
	}
	return info, nil
}

// RestoreFile is Restore from a file.
func (v *View[T]) RestoreFile(ctx context.Context, path string, opts RestoreOptions) (RestoreInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return RestoreInfo{}, fmt.Errorf("cache: restore: %w", err)
	}
	defer func() { _ = f.Close() }() // read-only: nothing to lose on close
	return v.Restore(ctx, f, opts)
}

// entriesFrom builds the per-layer entries of a restored entry e.
func (c *core) entriesFrom(e Entry, val any) []Entry {
	out := make([]Entry, len(c.layers))
	for i := range c.layers {
		l := &c.layers[i]
		le := e
		le.Value = nil
		if l.info.Values {
			le.Value = val
			if !l.info.NeedsPayload {
				le.Payload = nil
			}
		}
		out[i] = le
	}
	return out
}

func (v *View[T]) restoreBatch(ctx context.Context, batch []KeyValue[T], entries [][]Entry, mask []bool) error {
	c := v.s.c
	perLayer := make([][]Item, len(c.layers))
	qkeys := make([]string, len(batch))
	for j, kv := range batch {
		qk, err := v.s.qualify(kv.Key)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrSnapshot, err)
		}
		qkeys[j] = qk
		for li := range perLayer {
			perLayer[li] = append(perLayer[li], Item{Key: qk, Entry: entries[j][li]})
		}
	}
	var err error
	c.fences.writeMany(qkeys, func() { err = c.writeManyLayersTo(ctx, perLayer, nil, mask) })
	for _, k := range qkeys {
		c.flight.Forget(k)
	}
	return err
}

// layerMask returns which layers names selects (nil: all of them), or an
// error naming a layer the stack does not have.
func (c *core) layerMask(names []string) ([]bool, error) {
	if len(names) == 0 {
		return nil, nil
	}
	mask := make([]bool, len(c.layers))
next:
	for _, n := range names {
		for i := range c.layers {
			if c.layers[i].info.Name == n {
				mask[i] = true
				continue next
			}
		}
		return nil, fmt.Errorf("cache: restore: no layer named %q", n)
	}
	return mask, nil
}

type snapshotRecord struct {
	key   string
	entry Entry
}

type parsedSnapshot struct {
	created   int64
	watermark uint64
	codec     string
	checksum  string
	records   []snapshotRecord
}

// parseSnapshot verifies and decodes a whole snapshot. It trusts no length.
func parseSnapshot(data []byte, maxEntries int) (*parsedSnapshot, error) {
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrSnapshot, what) }
	if len(data) < len(snapshotMagic)+1+sha256.Size {
		return nil, bad("too short")
	}
	body, digest := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], digest) {
		return nil, bad("checksum mismatch (truncated or corrupt)")
	}
	if !strings.HasPrefix(string(body), snapshotMagic) {
		return nil, bad("not a layercache snapshot")
	}
	p := body[len(snapshotMagic):]
	if p[0] != snapshotVersion {
		return nil, bad(fmt.Sprintf("unsupported version %d", p[0]))
	}
	p = p[1:]
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return 0, false
		}
		p = p[n:]
		return v, true
	}
	bytesOf := func(limit uint64) ([]byte, bool) {
		n, ok := next()
		if !ok || n > limit || n > uint64(len(p)) {
			return nil, false
		}
		b := p[:n]
		p = p[n:]
		return b, true
	}
	created, ok1 := next()
	watermark, ok2 := next()
	codecName, ok3 := bytesOf(64)
	if !ok1 || !ok2 || !ok3 || created > 1<<62 {
		return nil, bad("bad header")
	}
	s := &parsedSnapshot{created: int64(created), watermark: watermark, codec: string(codecName),
		checksum: hex.EncodeToString(digest)}
	for {
		if len(p) == 0 {
			return nil, bad("missing end record")
		}
		kind := p[0]
		p = p[1:]
		if kind == recordEnd {
			count, ok := next()
			if !ok || count != uint64(len(s.records)) || len(p) != 0 {
				return nil, bad("end record does not match the entries")
			}
			return s, nil
		}
		if kind != recordEntry {
			return nil, bad(fmt.Sprintf("unknown record kind %#x", kind))
		}
		if len(s.records) >= maxEntries {
			return nil, fmt.Errorf("%w: snapshot has more than %d entries (RestoreOptions.MaxEntries)", ErrTooLarge, maxEntries)
		}
		key, ok := bytesOf(MaxKeyLen)
		if !ok || ValidateKey(string(key)) != nil {
			return nil, bad("bad key")
		}
		env, ok := bytesOf(uint64(len(p)))
		if !ok {
			return nil, bad("bad entry length")
		}
		e, err := ParseEntry(env)
		if err != nil || e.Negative {
			return nil, bad(fmt.Sprintf("entry %q: %v", key, err))
		}
		s.records = append(s.records, snapshotRecord{key: string(key), entry: e})
	}
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
