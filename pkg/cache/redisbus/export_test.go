package redisbus

import (
	"time"

	"github.com/layercache/layercache/pkg/cache"
)

// Wire is a message as tests craft it to publish with a raw client.
type Wire struct {
	ID     [16]byte
	Sender string
	Time   time.Time
	Msg    cache.BusMessage
}

// EncodeWire encodes w as a bus with secret (nil: unsigned) would publish
// it on channel.
func EncodeWire(w Wire, secret []byte, channel string) []byte {
	return encode(nil, &frame{id: w.ID, sender: w.Sender, ts: w.Time.UnixMilli(), msg: w.Msg}, secret, channel)
}
