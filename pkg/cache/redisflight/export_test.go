package redisflight

// SetHooks installs test hooks on c (see hooks); nil leaves one unset. Call
// it before the first Do.
func SetHooks(c *Coordinator, observedLeader, waiting func(key string)) {
	c.hooks = hooks{observedLeader: observedLeader, waiting: waiting}
}

// LeaseKey and ResultKey return the Redis keys of key's lease and result
// under prefix.
func LeaseKey(prefix, key string) string  { return namesFor(prefix, key).lease }
func ResultKey(prefix, key string) string { return namesFor(prefix, key).result }
