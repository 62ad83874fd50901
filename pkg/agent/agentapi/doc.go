// Package agentapi is the wire contract of the layercache agent: its ports,
// its HTTP paths, and the request and response types that the agent server
// (package agent), the Go client (package agentclient) and the operator all
// import, so that the two ends cannot drift apart.
//
// The agent serves three APIs:
//
//   - the data API, for the application on localhost ([DefaultDataAddr]):
//     [PathKey], [PathKeys], [PathInvalidate], [PathTagsInvalidate];
//   - the admin API, for the operator, over TLS with a required client
//     certificate ([DefaultAdminAddr]): [PathStatus], [PathPolicy],
//     [PathInvalidation], [PathSnapshot] (POST writes, DELETE removes),
//     [PathSync];
//   - probes and metrics, plain HTTP ([DefaultProbeAddr]): [PathHealthz],
//     [PathReadyz], [PathMetrics].
//
// Every JSON reply except the raw value of a single-key GET is a
// [Response]: Data on success, Error (with a machine-readable [ErrorCode])
// on failure. Durations are Go duration strings ("90s", "5m") through
// [Duration], so a policy document is easy to write by hand.
//
// The policy document ([Policy]) is what the operator compiles from a
// CachePolicy and pushes to every agent, and what it mounts as the agent's
// bootstrap file; testdata/policy.json is a complete example. It is
// identified by [Policy.ComputeHash] (both ends call it) and ordered by
// its generation. [Policy.Validate] names every invalid field by its JSON
// path, so the operator can check a document before pushing it.
//
// Decoding is strict: [Decode] rejects unknown fields, trailing data and
// bodies larger than its limit, so a typo in a policy is an error rather
// than a silently ignored setting.
//
// The package depends on the standard library only, and has no state: every
// function is safe for concurrent use.
package agentapi
