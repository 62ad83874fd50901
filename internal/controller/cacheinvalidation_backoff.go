package controller

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// The shared Redis tier is retried with the same delays as a pod
// (retryDelay), counted from the end of the attempt that failed. Without a
// wait, each failed attempt's status write would bring the next pass, and
// so the next attempt, at once: a Redis error lasting a second, or a
// rolling restart leaving no ready pod for a moment, would use up
// backoffLimit within milliseconds.
//
// status.sharedLayers has no field for the next attempt's time (a pod's
// entry has nextAttemptTime), so the end of the last attempt is kept in
// memory, and status gives a floor that survives a restart: see
// sharedRetryAt.

// sharedAttempts remembers when the last shared-tier attempt of each run
// ended, in this process. The zero value is ready to use; it is safe for
// concurrent use by the reconciler's workers.
type sharedAttempts struct {
	mu   sync.Mutex // protects last
	last map[types.NamespacedName]sharedAttempt
}

// sharedAttempt is the end of one run's last shared-tier attempt. uid
// tells the run from a later one of the same name.
type sharedAttempt struct {
	uid types.UID
	end time.Time
}

// ended records that an attempt of the run key, uid, ended at end.
func (s *sharedAttempts) ended(key types.NamespacedName, uid types.UID, end time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		s.last = map[types.NamespacedName]sharedAttempt{}
	}
	s.last[key] = sharedAttempt{uid: uid, end: end}
}

// lastEnd is when the last attempt of the run key, uid, ended, or the zero
// time when this process made none.
func (s *sharedAttempts) lastEnd(key types.NamespacedName, uid types.UID) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.last[key]; ok && a.uid == uid {
		return a.end
	}
	return time.Time{}
}

// forget drops what is known of the run key: it finished or went away.
func (s *sharedAttempts) forget(key types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.last, key)
}

// sharedRetryAt is when the shared tier may next be tried, after attempts
// failed ones of a run started at start: retryDelay(attempts) after
// lastEnd, the end of the last attempt. lastEnd is zero when this process
// did not make that attempt (the operator restarted since); the floor then
// applies alone. The floor is the start plus every delay so far, which
// status alone gives: an attempt is never due earlier, so even an operator
// that restarts over and over cannot use up the retries faster than the
// backoff allows. It is a pure function.
func sharedRetryAt(start time.Time, attempts int32, lastEnd time.Time) time.Time {
	at := start
	for i := int32(1); i <= attempts; i++ {
		at = at.Add(retryDelay(i))
	}
	if attempts > 0 && !lastEnd.IsZero() {
		if after := lastEnd.Add(retryDelay(attempts)); after.After(at) {
			at = after
		}
	}
	return at
}
