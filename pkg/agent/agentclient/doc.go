// Package agentclient is a Go client of the layercache agent: [Data] for
// the localhost data API an application uses, [Admin] for the admin API the
// operator uses. Both build every URL from the paths of package agentapi
// and decode its types, so client and server cannot drift apart.
//
// Failed calls return an *[Error] carrying the HTTP status and the agent's
// agentapi.ErrorCode; transport failures are returned as they come from
// net/http. The clients do not retry: the caller decides (the operator
// retries network errors, never 4xx answers).
//
// Clients are safe for concurrent use. Close releases the idle connections
// of a client's own transport.
package agentclient
