// Package redistest runs real redis-server processes for tests: no mocks,
// no in-process fakes.
//
// [Start] gives a test its own server on a free loopback port, with
// persistence off, stopped when the test ends; [Server.Stop] and
// [Server.Restart] take it down and bring it back on the same address for
// fault-injection tests. [StartCluster] starts a real Redis Cluster of
// several masters, to prove code Cluster-safe.
//
// Most tests share one server per test binary instead. TestMain hands the
// server's lifetime to [Main] (or to goleak through [Wrap]):
//
//	func TestMain(m *testing.M) { goleak.VerifyTestMain(redistest.Wrap(m)) }
//
// and each test calls [Shared], then isolates itself with a unique key
// prefix ([Prefix]) or a logical database of its own ([Server.NewDB]), so
// tests can run with t.Parallel. When the environment variable
// LAYERCACHE_TEST_REDIS_URL is set, Shared uses that server (which must be
// disposable: NewDB flushes databases) instead of starting one. When it is
// unset and redis-server is not on PATH, tests fail with a message saying to
// run `make test`, which installs it; they never skip.
//
// Every function is safe for concurrent use by parallel tests. Clients
// returned by the package belong to the test that asked for them and are
// closed when it ends.
package redistest
