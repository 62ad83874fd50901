// Package bench compares layercache with other Go caches on the same
// workloads and the same inputs: an L1 hit of a hot key, an L2 hit (memory
// miss, Redis hit) on a real loopback redis-server, a mixed Zipf read/write
// load with a slow origin, a cold-key stampede and the hit ratio on a Zipf
// trace.
//
// It is a module of its own, so that the peers it measures never enter the
// main module's go.mod. The adapters in this package put every library
// behind one small interface, Cache; the workloads are the benchmarks in
// bench_test.go. See README.md for how to run them.
package bench
