// Package fleet tests many processes sharing one Redis as one cache: each
// process is a copy of the test binary running a Stack (memory + Redis,
// with the Redis invalidation bus and single-flight coordinator), driven by
// the parent test over stdin/stdout. See fleet_test.go.
package fleet
