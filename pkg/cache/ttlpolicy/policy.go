package ttlpolicy

import (
	"fmt"
	"time"
)

// day is the length of a calendar day on the wall clock.
const day = 24 * time.Hour

// Policy computes the TTL of an entry written at now.
//
// TTL must return a duration > 0. The policies of this package guarantee
// it; a caller that accepts other implementations (such as a Func) should
// treat a result <= 0 as an error rather than as "no expiry".
type Policy interface {
	TTL(now time.Time) time.Duration
}

// Func adapts an ordinary function to a Policy, like http.HandlerFunc.
// The function must return a duration > 0; Func passes its result through
// unchanged, so it is the function's duty to honour that contract.
type Func func(now time.Time) time.Duration

// TTL returns f(now).
func (f Func) TTL(now time.Time) time.Duration { return f(now) }

// UntilMidnight returns a Policy whose TTL ends at the next midnight in
// loc (UTC when loc is nil). Called exactly at midnight it returns the
// whole day: 24h, or 23h or 25h on the day of a DST change. When a DST
// change skips midnight, the TTL ends at the instant the new day starts.
func UntilMidnight(loc *time.Location) Policy {
	return wallClock{period: day, loc: orUTC(loc)}
}

// NextHour returns a Policy whose TTL ends at the next top of the hour on
// the wall clock of loc (UTC when loc is nil). The zone matters even for
// hourly boundaries: 10:00 in Asia/Kolkata (+05:30) is 04:30 UTC. Called
// exactly on the hour it returns 1h.
func NextHour(loc *time.Location) Policy {
	return wallClock{period: time.Hour, loc: orUTC(loc)}
}

// AlignTo returns a Policy whose TTL ends at the next multiple of period.
// The result is in (0, period] except across DST changes (see the package
// documentation): exactly on a boundary it is the whole period.
//
// When period divides 24 hours (15m, 1h30m, 6h, 24h, and so on),
// boundaries are wall-clock times in loc (UTC when loc is nil), counted
// from local midnight: AlignTo(6*time.Hour, loc) ends at 00:00, 06:00,
// 12:00 and 18:00 local time, and AlignTo(24*time.Hour, loc) is
// UntilMidnight(loc). Every day in loc then starts on a boundary.
//
// Any other period (7m, 25h, 48h, a week) cannot divide every local day
// evenly, so loc is ignored and boundaries are the instants k×period after
// the Unix epoch, 1970-01-01T00:00:00Z. They are the same in every zone and
// every process; note that AlignTo(7*24*time.Hour, nil) therefore ends on
// Thursdays at 00:00 UTC, the epoch's weekday. These boundaries are
// computed with time.Time.UnixNano, so they hold for years 1678 to 2262.
//
// AlignTo returns an error when period is not positive.
func AlignTo(period time.Duration, loc *time.Location) (Policy, error) {
	if period <= 0 {
		return nil, fmt.Errorf("ttlpolicy: AlignTo period is %s; it must be positive", period)
	}
	if day%period == 0 {
		return wallClock{period: period, loc: orUTC(loc)}, nil
	}
	return epochAligned{period: period}, nil
}

func orUTC(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

// epochAligned ends TTLs at multiples of period since the Unix epoch.
type epochAligned struct {
	period time.Duration
}

// TTL returns the time from now to the next multiple of p.period since the
// epoch, or p.period when now is one.
func (p epochAligned) TTL(now time.Time) time.Duration {
	rem := time.Duration(now.UnixNano() % int64(p.period))
	if rem < 0 { // before 1970: % truncates toward zero
		rem += p.period
	}
	return p.period - rem
}
