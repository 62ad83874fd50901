package ttlpolicy_test

import (
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache/ttlpolicy"
)

// referenceNext finds the next wall-clock boundary after now by brute
// force, one minute of real time at a time: a minute is a boundary when
// the clock shows an aligned time, or when the clock jumped forward past
// one since the previous minute. now must be on a whole minute, period a
// whole number of minutes dividing 24h, and loc must change offset only on
// whole minutes.
func referenceNext(now time.Time, period time.Duration, loc *time.Location) time.Time {
	// wall is the local clock reading as seconds since the local epoch,
	// so that local midnights are multiples of 86400.
	wall := func(t time.Time) int64 {
		_, off := t.In(loc).Zone()
		return t.Unix() + int64(off)
	}
	ps := int64(period / time.Second)
	prev := now
	for m := now.Add(time.Minute); ; m = m.Add(time.Minute) {
		expect, got := wall(prev)+60, wall(m)
		if got >= expect {
			// Ran normally or jumped forward: is a multiple in [expect, got]?
			if got/ps*ps >= expect {
				return m
			}
		} else if got%ps == 0 { // fell back onto an aligned time
			return m
		}
		prev = m
	}
}

// TestWallClockMatchesReference compares AlignTo with referenceNext around
// every 2024 offset change of zones that move by an hour at 02:00
// (New York), at midnight (Santiago, Beirut) and by 30 minutes
// (Lord Howe).
func TestWallClockMatchesReference(t *testing.T) {
	periods := []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 24 * time.Hour}
	for _, name := range []string{"America/New_York", "America/Santiago", "Asia/Beirut", "Australia/Lord_Howe"} {
		loc := loadLocation(t, name)
		transitions := 0
		for tr := time.Date(2024, 1, 1, 0, 0, 0, 0, loc); tr.Year() == 2024; {
			_, end := tr.ZoneBounds()
			if end.IsZero() {
				break
			}
			tr = end
			transitions++
			for _, d := range periods {
				p := mustAlign(t, d, loc)
				for now := tr.Add(-26 * time.Hour); now.Before(tr.Add(3 * time.Hour)); now = now.Add(23 * time.Minute) {
					want := referenceNext(now, d, loc).Sub(now)
					if got := p.TTL(now); got != want {
						t.Errorf("AlignTo(%s, %s).TTL(%s) = %s, want %s", d, name, now.In(loc), got, want)
					}
				}
			}
		}
		if transitions < 2 {
			t.Errorf("%s: found %d offset changes in 2024, want at least 2 (tzdata missing?)", name, transitions)
		}
	}
}

func TestNamedPoliciesMatchAlignTo(t *testing.T) {
	loc := loadLocation(t, "Asia/Kathmandu")
	midnight, hour := mustAlign(t, 24*time.Hour, loc), mustAlign(t, time.Hour, loc)
	start := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for now := start; now.Before(start.Add(48 * time.Hour)); now = now.Add(11 * time.Minute) {
		if got, want := ttlpolicy.UntilMidnight(loc).TTL(now), midnight.TTL(now); got != want {
			t.Errorf("UntilMidnight.TTL(%s) = %s, AlignTo(24h) = %s", now, got, want)
		}
		if got, want := ttlpolicy.NextHour(loc).TTL(now), hour.TTL(now); got != want {
			t.Errorf("NextHour.TTL(%s) = %s, AlignTo(1h) = %s", now, got, want)
		}
	}
}
