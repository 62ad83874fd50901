package ttlpolicy_test

import (
	"strings"
	"testing"
	"time"
	// The zones below come from the system's tzdata when it has them;
	// this embedded copy keeps the tests working on machines without.
	_ "time/tzdata"

	"github.com/layercache/layercache/pkg/cache/ttlpolicy"
)

func loadLocation(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatalf("LoadLocation(%q): %v", name, err)
	}
	return loc
}

// at parses an instant written with its UTC offset, so that times a DST
// change repeats are unambiguous ("01:30 -0400" is EDT, "-0500" EST).
func at(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse("2006-01-02 15:04:05.999999999 -0700", s)
	if err != nil {
		tb.Fatalf("parse %q: %v", s, err)
	}
	return t
}

func mustAlign(tb testing.TB, d time.Duration, loc *time.Location) ttlpolicy.Policy {
	tb.Helper()
	p, err := ttlpolicy.AlignTo(d, loc)
	if err != nil {
		tb.Fatalf("AlignTo(%s, %v): %v", d, loc, err)
	}
	return p
}

func TestPolicies(t *testing.T) {
	ny := loadLocation(t, "America/New_York")
	kolkata := loadLocation(t, "Asia/Kolkata")
	kathmandu := loadLocation(t, "Asia/Kathmandu")
	santiago := loadLocation(t, "America/Santiago")
	beirut := loadLocation(t, "Asia/Beirut")
	lordHowe := loadLocation(t, "Australia/Lord_Howe")

	tests := []struct {
		name   string
		policy ttlpolicy.Policy
		now    string
		want   time.Duration
	}{
		// UTC, and nil meaning UTC.
		{"midnight UTC afternoon", ttlpolicy.UntilMidnight(time.UTC), "2024-05-01 15:30:00 +0000", 8*time.Hour + 30*time.Minute},
		{"midnight UTC at midnight", ttlpolicy.UntilMidnight(time.UTC), "2024-05-01 00:00:00 +0000", 24 * time.Hour},
		{"midnight UTC last nanosecond", ttlpolicy.UntilMidnight(time.UTC), "2024-05-01 23:59:59.999999999 +0000", time.Nanosecond},
		{"midnight nil loc is UTC", ttlpolicy.UntilMidnight(nil), "2024-05-01 20:00:00 -0400", 24 * time.Hour},
		{"hour UTC", ttlpolicy.NextHour(nil), "2024-05-01 15:30:00 +0000", 30 * time.Minute},
		{"hour UTC on the hour", ttlpolicy.NextHour(nil), "2024-05-01 15:00:00 +0000", time.Hour},
		{"hour UTC for a Kolkata instant", ttlpolicy.NextHour(nil), "2024-05-01 10:15:00 +0530", 15 * time.Minute},

		// New York, spring forward: 2024-03-10 02:00 EST becomes 03:00 EDT.
		{"NY 23h day", ttlpolicy.UntilMidnight(ny), "2024-03-10 00:00:00 -0500", 23 * time.Hour},
		{"NY day before", ttlpolicy.UntilMidnight(ny), "2024-03-09 12:00:00 -0500", 12 * time.Hour},
		{"NY midnight after the gap", ttlpolicy.UntilMidnight(ny), "2024-03-10 01:30:00 -0500", 21*time.Hour + 30*time.Minute},
		{"NY hour into the gap", ttlpolicy.NextHour(ny), "2024-03-10 01:30:00 -0500", 30 * time.Minute},
		{"NY hour last second before the gap", ttlpolicy.NextHour(ny), "2024-03-10 01:59:59 -0500", time.Second},
		{"NY hour at the jump", ttlpolicy.NextHour(ny), "2024-03-10 03:00:00 -0400", time.Hour},
		{"NY 2h skipped 02:00", mustAlign(t, 2*time.Hour, ny), "2024-03-10 01:30:00 -0500", 30 * time.Minute},
		{"NY 6h across the gap", mustAlign(t, 6*time.Hour, ny), "2024-03-10 01:00:00 -0500", 4 * time.Hour},
		{"NY 4h from the jump", mustAlign(t, 4*time.Hour, ny), "2024-03-10 03:00:00 -0400", time.Hour},

		// New York, fall back: 2024-11-03 02:00 EDT becomes 01:00 EST.
		{"NY 25h day", ttlpolicy.UntilMidnight(ny), "2024-11-03 00:00:00 -0400", 25 * time.Hour},
		{"NY 24h align is midnight", mustAlign(t, 24*time.Hour, ny), "2024-11-03 00:00:00 -0400", 25 * time.Hour},
		{"NY hour before fall back", ttlpolicy.NextHour(ny), "2024-11-03 01:30:00 -0400", 30 * time.Minute},
		{"NY hour in the repeated hour", ttlpolicy.NextHour(ny), "2024-11-03 01:30:00 -0500", 30 * time.Minute},
		{"NY 2h over fall back", mustAlign(t, 2*time.Hour, ny), "2024-11-03 01:30:00 -0400", 90 * time.Minute},
		{"NY 30m onto 01:00 EST", mustAlign(t, 30*time.Minute, ny), "2024-11-03 01:45:00 -0400", 15 * time.Minute},

		// Half- and quarter-hour offsets.
		{"Kolkata hour", ttlpolicy.NextHour(kolkata), "2024-05-01 10:15:00 +0530", 45 * time.Minute},
		{"Kolkata on the hour", ttlpolicy.NextHour(kolkata), "2024-05-01 10:00:00 +0530", time.Hour},
		{"Kolkata midnight", ttlpolicy.UntilMidnight(kolkata), "2024-05-01 23:00:00 +0530", time.Hour},
		{"Kolkata 30m", mustAlign(t, 30*time.Minute, kolkata), "2024-05-01 10:15:00 +0530", 15 * time.Minute},
		{"Kathmandu hour", ttlpolicy.NextHour(kathmandu), "2024-05-01 10:00:00 +0000", 15 * time.Minute},
		{"Kathmandu half hour past", ttlpolicy.NextHour(kathmandu), "2024-05-01 15:30:00 +0545", 30 * time.Minute},
		{"Kathmandu midnight", ttlpolicy.UntilMidnight(kathmandu), "2024-05-01 18:15:00 +0545", 5*time.Hour + 45*time.Minute},
		{"Kathmandu 45m", mustAlign(t, 45*time.Minute, kathmandu), "2024-05-01 00:50:00 +0545", 40 * time.Minute},

		// Zones whose DST change skips or repeats midnight, or moves 30m.
		{"Santiago skipped midnight", ttlpolicy.UntilMidnight(santiago), "2024-09-07 23:30:00 -0400", 30 * time.Minute},
		{"Santiago from the new day", ttlpolicy.UntilMidnight(santiago), "2024-09-08 01:00:00 -0300", 23 * time.Hour},
		{"Santiago repeated 23h", ttlpolicy.UntilMidnight(santiago), "2024-04-06 23:30:00 -0300", 90 * time.Minute},
		{"Beirut fall back at midnight", ttlpolicy.UntilMidnight(beirut), "2024-10-26 23:30:00 +0300", 90 * time.Minute},
		{"Lord Howe 30m fall back", ttlpolicy.NextHour(lordHowe), "2024-04-07 01:50:00 +1100", 40 * time.Minute},
		{"Lord Howe 30m spring forward", ttlpolicy.NextHour(lordHowe), "2024-10-06 01:50:00 +1030", 10 * time.Minute},

		// Periods that do not divide a day align to the Unix epoch.
		{"epoch 7m", mustAlign(t, 7*time.Minute, ny), "1970-01-01 00:10:00 +0000", 4 * time.Minute},
		{"epoch 7m on a boundary", mustAlign(t, 7*time.Minute, nil), "1970-01-01 00:07:00 +0000", 7 * time.Minute},
		{"epoch 7m before 1970", mustAlign(t, 7*time.Minute, nil), "1969-12-31 23:59:00 +0000", time.Minute},
		{"epoch 25h ignores loc", mustAlign(t, 25*time.Hour, kolkata), "1970-01-01 00:00:00 +0000", 25 * time.Hour},
		{"epoch week ends Thursday", mustAlign(t, 7*24*time.Hour, ny), "2024-05-01 00:00:00 +0000", 24 * time.Hour},

		{"Func", ttlpolicy.Func(func(now time.Time) time.Duration { return time.Duration(now.Minute()) * time.Second }),
			"2024-05-01 10:42:00 +0000", 42 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := at(t, tt.now)
			if got := tt.policy.TTL(now); got != tt.want {
				t.Errorf("TTL(%s) = %s, want %s", now, got, tt.want)
			}
		})
	}
}

func TestAlignToErrors(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second} {
		p, err := ttlpolicy.AlignTo(d, nil)
		if err == nil {
			t.Errorf("AlignTo(%s) = %v, want an error", d, p)
			continue
		}
		if !strings.HasPrefix(err.Error(), "ttlpolicy: ") || !strings.Contains(err.Error(), "positive") {
			t.Errorf("AlignTo(%s) error = %q, want it to say the period must be positive", d, err)
		}
	}
}

// TestAlignedNeverZero checks, for instants on and next to boundaries in
// several zones, that TTL is positive and never longer than the period
// plus one hour (the largest DST change of these zones).
func TestAlignedNeverZero(t *testing.T) {
	for _, name := range []string{"UTC", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe"} {
		loc := loadLocation(t, name)
		for _, d := range []time.Duration{time.Nanosecond, time.Second, 15 * time.Minute, time.Hour, 24 * time.Hour, 7 * time.Minute, 48 * time.Hour} {
			p := mustAlign(t, d, loc)
			start := time.Date(2024, 3, 9, 0, 0, 0, 0, loc)
			for now := start; now.Before(start.AddDate(0, 0, 3)); now = now.Add(37 * time.Minute) {
				for _, n := range []time.Time{now, now.Add(-time.Nanosecond), now.Add(time.Nanosecond)} {
					if got := p.TTL(n); got <= 0 || got > d+time.Hour {
						t.Fatalf("AlignTo(%s, %s).TTL(%s) = %s, want in (0, %s]", d, name, n, got, d+time.Hour)
					}
				}
			}
		}
	}
}
