module github.com/layercache/layercache/pkg/cache/httpcache/chitest

go 1.26.0

require (
	github.com/go-chi/chi/v5 v5.5.0
	github.com/layercache/layercache v0.0.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/maypok86/otter/v2 v2.4.0 // indirect
	github.com/segmentio/asm v1.1.3 // indirect
	github.com/segmentio/encoding v0.5.4 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	golang.org/x/sync v0.25.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/time v0.16.0 // indirect
)

replace github.com/layercache/layercache => ../../../..
