package e2e

import (
	"fmt"
	"strings"
)

// Table is kubectl's default (tabular) output: a header and rows, each a
// map from column header (as printed, e.g. "SYNCED") to its cell.
type Table []map[string]string

// ParseTable reads the output of `kubectl get` without -o. Cells are cut
// at the offsets of the header words, so that empty cells stay empty
// instead of shifting the ones after them.
func ParseTable(out string) (Table, error) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 || strings.TrimSpace(lines[0]) == "" {
		return nil, fmt.Errorf("no table in %q", out)
	}
	header := lines[0]
	var names []string
	var starts []int
	for i := 0; i < len(header); {
		if header[i] == ' ' {
			i++
			continue
		}
		j := i
		for j < len(header) && header[j] != ' ' {
			j++
		}
		names, starts = append(names, header[i:j]), append(starts, i)
		i = j
	}
	var t Table
	for _, line := range lines[1:] {
		row := map[string]string{}
		for k, name := range names {
			if starts[k] >= len(line) {
				row[name] = ""
				continue
			}
			end := len(line)
			if k+1 < len(starts) && starts[k+1] < end {
				end = starts[k+1]
			}
			row[name] = strings.TrimSpace(line[starts[k]:end])
		}
		t = append(t, row)
	}
	return t, nil
}

// Row returns the row whose NAME is name.
func (t Table) Row(name string) (map[string]string, error) {
	for _, r := range t {
		if r["NAME"] == name {
			return r, nil
		}
	}
	return nil, fmt.Errorf("no row %q in %v", name, t)
}
