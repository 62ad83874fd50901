package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// output prints a command's result: indented JSON with --json, otherwise
// the table the command draws.
type output struct {
	w    io.Writer
	json bool
}

// emit prints v as JSON, or calls table with a tabwriter whose columns are
// separated by tabs.
func (o output) emit(v any, table func(w io.Writer)) error {
	if o.json {
		enc := json.NewEncoder(o.w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("write JSON: %w", err)
		}
		return nil
	}
	tw := tabwriter.NewWriter(o.w, 0, 8, 2, ' ', 0)
	table(tw)
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// row writes one table row: cells joined by tabs.
func row(w io.Writer, cells ...any) {
	for i, c := range cells {
		if i > 0 {
			_, _ = io.WriteString(w, "\t")
		}
		_, _ = fmt.Fprint(w, c)
	}
	_, _ = io.WriteString(w, "\n")
}

// safe returns s as it may be printed on a terminal: unchanged when every
// rune is printable, otherwise Go-quoted, so that keys and values read from
// Redis cannot carry escape sequences or tabs into the output.
func safe(s string) string {
	for _, r := range s {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// formatTTL renders a remaining time to live; a negative one means none.
func formatTTL(d time.Duration) string {
	switch {
	case d < 0:
		return "none"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

// formatDeadline renders an envelope deadline (Unix ns) with how far it is
// from now.
func formatDeadline(ns int64, now time.Time) string {
	t := time.Unix(0, ns).UTC()
	d := t.Sub(now)
	rel := "in " + d.Round(time.Second).String()
	if d < 0 {
		rel = (-d).Round(time.Second).String() + " ago"
	}
	return t.Format(time.RFC3339Nano) + " (" + rel + ")"
}

// joinSafe prints a list of strings for a table cell.
func joinSafe(ss []string) string {
	if len(ss) == 0 {
		return "-"
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = safe(s)
	}
	return strings.Join(out, ", ")
}

// showPrefix prints a layer prefix for a table: `""` when empty, so that it
// is visible.
func showPrefix(p string) string {
	if p == "" {
		return `""`
	}
	return safe(p)
}

// printf writes formatted text to w. A failed write to stdout or stderr has
// nowhere to be reported; writes into a table surface at its Flush.
func printf(w io.Writer, format string, args ...any) {
	_, _ = fmt.Fprintf(w, format, args...)
}
