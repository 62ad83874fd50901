// Package agentconn is how the operator reaches the agents of the pods it
// manages: it resolves a pod to the address of its agent's admin API and
// returns a client that speaks mutual TLS with the operator's certificate.
//
// One Dialer is shared by every controller. Its HTTP client pools
// connections across pods; requests are bounded by the caller's context
// (the controllers give each call its own timeout), and only network
// errors are worth retrying (see Retryable): an agent's 4xx is an answer.
package agentconn
