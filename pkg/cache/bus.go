package cache

import "context"

// InvalidationBus carries invalidations between instances that share slower
// layers (Redis) but each keep their own local ones (memory, disk). When one
// instance deletes, expires, clears or (optionally) writes a key, the others
// drop their local copies. pkg/cache/redisbus implements it on Redis pub/sub.
//
// Implementations must be safe for concurrent use and must not deliver an
// instance's own messages back to it.
type InvalidationBus interface {
	// Publish sends m to every other subscribed instance.
	Publish(ctx context.Context, m BusMessage) error
	// Subscribe starts delivering other instances' messages to h and
	// returns once the subscription is active (so nothing published after
	// it returns is missed). Delivery stops at Close. A failed first
	// subscription is returned as an error; the caller may retry.
	Subscribe(ctx context.Context, h BusHandler) error
	// Close stops delivery and releases the bus's resources.
	Close() error
}

// BusHandler receives what the bus delivers. Its methods are called from
// the bus's goroutine, one at a time.
type BusHandler interface {
	// OnMessage applies a message from another instance.
	OnMessage(m BusMessage)
	// OnReconnect is called after the subscription was interrupted and
	// restored: messages may have been missed, so local copies can no
	// longer be trusted.
	OnReconnect()
}

// BusKind says what a BusMessage asks for.
type BusKind uint8

// Bus message kinds.
const (
	// BusDelete: drop Keys from local layers.
	BusDelete BusKind = iota + 1
	// BusExpire: mark Keys stale in local layers.
	BusExpire
	// BusWrite: Keys were written elsewhere; drop the local copies so the
	// next read fetches the new value from a shared layer.
	BusWrite
	// BusClear: drop every local key under Prefix ("" for all).
	BusClear
	// BusGeneration: the generation moved to Generation.
	BusGeneration
)

// String returns the kind's wire name.
func (k BusKind) String() string {
	switch k {
	case BusDelete:
		return "delete"
	case BusExpire:
		return "expire"
	case BusWrite:
		return "write"
	case BusClear:
		return "clear"
	case BusGeneration:
		return "generation"
	default:
		return "unknown"
	}
}

// BusMessage is one invalidation. Keys are qualified keys.
type BusMessage struct {
	Kind       BusKind
	Keys       []string
	Prefix     string
	Generation uint64
}
