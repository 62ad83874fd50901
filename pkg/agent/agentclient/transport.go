package agentclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/layercache/layercache/pkg/agent/agentapi"
)

// Timeouts of the clients' own transports.
const (
	// DialTimeout bounds connecting to an agent.
	DialTimeout = 2 * time.Second
	// RequestTimeout bounds one request of a client with its own
	// transport, unless the context ends sooner.
	RequestTimeout = 10 * time.Second
	// maxReplyBytes bounds a reply's body.
	maxReplyBytes = 64 << 20
)

// conn is what both clients share: a base URL and an HTTP client.
type conn struct {
	base      string
	http      *http.Client
	transport *http.Transport // ours to close; nil with a caller's client
}

func newConn(scheme, host string, hc *http.Client, tlsConfig *tls.Config) conn {
	c := conn{base: agentapi.Build(scheme, host, "")}
	if hc != nil {
		c.http = hc
		return c
	}
	c.transport = &http.Transport{
		DialContext:         (&net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     tlsConfig,
		TLSHandshakeTimeout: DialTimeout,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	c.http = &http.Client{Transport: c.transport, Timeout: RequestTimeout}
	return c
}

// Close releases the idle connections of the client's own transport.
func (c *conn) Close() {
	if c.transport != nil {
		c.transport.CloseIdleConnections()
	}
}

// do sends a request with body (nil, raw bytes or a value to encode as
// JSON) and returns the response; a status of 400 or more is an *Error.
func (c *conn) do(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case json.RawMessage:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("agentclient: encode request: %w", err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("agentclient: %w", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 {
		defer func() { _ = resp.Body.Close() }() // fully read below
		return nil, readError(resp)
	}
	return resp, nil
}

// call sends a request and decodes the enveloped reply into T.
func call[T any](ctx context.Context, c *conn, method, path string, body any) (T, error) {
	var zero T
	resp, err := c.do(ctx, method, path, body)
	if err != nil {
		return zero, err
	}
	defer func() { _ = resp.Body.Close() }() // fully read by Decode
	env, err := decodeReply[agentapi.Response[T]](resp.Body)
	if err != nil {
		return zero, err
	}
	return env.Data, nil
}

func decodeReply[T any](r io.Reader) (T, error) {
	var v T
	data, err := io.ReadAll(io.LimitReader(r, maxReplyBytes))
	if err != nil {
		return v, fmt.Errorf("agentclient: read reply: %w", err)
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return v, fmt.Errorf("agentclient: decode reply: %w", err)
	}
	return v, nil
}

func readError(resp *http.Response) error {
	e := &Error{StatusCode: resp.StatusCode, Message: http.StatusText(resp.StatusCode)}
	env, err := decodeReply[agentapi.Response[json.RawMessage]](resp.Body)
	if err == nil && env.Error != nil {
		e.Code, e.Message, e.Details = env.Error.Code, env.Error.Message, env.Error.Details
	}
	return e
}

// TLSConfig returns a client configuration for the admin API: it presents
// cert and accepts an agent certificate that chains to roots, whatever
// names it carries, since agents are reached by pod IP, which changes.
func TLSConfig(roots *x509.CertPool, cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		// The chain is verified in VerifyConnection, without the name.
		InsecureSkipVerify: true, //nolint:gosec // see VerifyConnection
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("agentclient: the agent presented no certificate")
			}
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool(),
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
				return fmt.Errorf("agentclient: agent certificate: %w", err)
			}
			return nil
		},
	}
}
