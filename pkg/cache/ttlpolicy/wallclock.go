package ttlpolicy

import "time"

// wallClock ends TTLs when the wall clock in loc reaches a multiple of
// period since local midnight. period divides 24h.
type wallClock struct {
	period time.Duration
	loc    *time.Location
}

// TTL returns the time from now to the next boundary.
func (p wallClock) TTL(now time.Time) time.Duration {
	return p.next(now).Sub(now)
}

// next returns the first boundary strictly after now.
//
// Within one zone period (between two offset changes of loc) the wall
// clock runs at the same pace as real time, so the next boundary is
// simply the next aligned time of day. The loop only repeats when an
// offset change comes first; there the clock jumps, and we decide whether
// the jump itself is the boundary (it leapt forward over an aligned time,
// or landed on one), else start again from the instant of the jump. Real
// zones change offset at most a few times a year, so this loops once or
// twice. time.Date is not used: it resolves times that a DST change skips
// or repeats in an unspecified way, which could even yield a boundary in
// the past.
func (p wallClock) next(now time.Time) time.Time {
	t := now.In(p.loc)
	for {
		tod := timeOfDay(t)
		c := t.Add((tod/p.period+1)*p.period - tod) // next aligned time, if the offset holds
		_, end := t.ZoneBounds()
		if end.IsZero() || !end.After(t) || c.Before(end) {
			return c
		}
		// The offset changes at end, no later than c. The clock jumped over
		// c's time of day if it moved forward by at least c-end.
		_, before := t.Zone()
		_, after := end.Zone()
		if c.Sub(end) <= time.Duration(after-before)*time.Second || timeOfDay(end)%p.period == 0 {
			return end
		}
		t = end
	}
}

// timeOfDay returns the wall-clock time elapsed since midnight, as shown
// by t's clock (ignoring any DST change earlier that day).
func timeOfDay(t time.Time) time.Duration {
	h, m, s := t.Clock()
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
		time.Duration(s)*time.Second + time.Duration(t.Nanosecond())
}
