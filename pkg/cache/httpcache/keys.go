package httpcache

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
)

// maxInlineKey is the longest key DefaultKey keeps readable; longer request
// targets are replaced by their SHA-256.
const maxInlineKey = 512

// DefaultKey returns the key the middleware uses when Options.Key is nil:
// the method, a space, the lower-cased host, the escaped path (not
// percent-decoded) and, when there is a query, "?" and the query with its
// parameters sorted by name. For example
//
//	GET example.com/items?a=1&b=2
//
// A key longer than 512 bytes keeps the method and replaces the rest with
// "sha256:" and its hex digest. The host is part of the key because a
// handler that builds links from it would otherwise let one client poison
// the entry every other host name reads.
//
// DefaultKey does not check credentials; see HasCredentials.
func DefaultKey(r *http.Request) string {
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	query := r.URL.RawQuery
	if query != "" {
		if q, err := url.ParseQuery(query); err == nil {
			query = q.Encode() // sorted by name; values keep their order
		}
	}
	var b strings.Builder
	b.Grow(len(r.Method) + 1 + len(r.Host) + len(path) + 1 + len(query))
	b.WriteString(r.Method)
	b.WriteByte(' ')
	b.WriteString(strings.ToLower(r.Host))
	b.WriteString(path)
	if query != "" {
		b.WriteByte('?')
		b.WriteString(query)
	}
	key := b.String()
	if len(key) <= maxInlineKey {
		return key
	}
	sum := sha256.Sum256([]byte(key[len(r.Method)+1:]))
	return r.Method + " sha256:" + hex.EncodeToString(sum[:])
}

// defaultKey is Options.Key when none is set.
func defaultKey(r *http.Request) (string, bool) {
	if HasCredentials(r) {
		return "", false
	}
	return DefaultKey(r), true
}

// credentialHeaders are request headers that identify a user or a session.
var credentialHeaders = []string{
	"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie",
	"X-Api-Key", "X-Auth-Token", "X-Access-Token", "X-Session-Id",
	"X-Forwarded-User", "X-Csrf-Token", "X-Xsrf-Token", "X-Amz-Security-Token",
}

// credentialParams are query parameter names, lower-cased with '-' and '_'
// removed, that carry credentials.
var credentialParams = map[string]bool{
	"accesstoken": true, "apikey": true, "auth": true, "authorization": true,
	"clientassertion": true, "clientassertiontype": true, "clientsecret": true,
	"code": true, "credentials": true, "idtoken": true, "jwt": true,
	"password": true, "passwd": true, "privatekey": true, "refreshtoken": true,
	"secret": true, "session": true, "sessionid": true, "token": true,
	"sig": true, "signature": true, "xamzcredential": true, "xamzsecuritytoken": true,
	"xamzsignature": true, "xgoogcredential": true, "xgoogsignature": true,
}

// HasCredentials reports whether r carries anything that may make its
// response specific to one user, so that caching it under a URL-derived key
// would serve one user's response to another: a credential or session
// header (Authorization, Proxy-Authorization, Cookie, X-Api-Key,
// X-Auth-Token, X-Session-Id and the like), a TLS client certificate, or a
// query parameter such as token, access_token, api_key, password, session
// or signature (names compared case-insensitively, ignoring '-' and '_'). A
// query that does not parse counts as carrying credentials.
func HasCredentials(r *http.Request) bool {
	for _, h := range credentialHeaders {
		if _, ok := r.Header[h]; ok {
			return true
		}
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return true
	}
	if r.URL.User != nil {
		return true
	}
	if r.URL.RawQuery == "" {
		return false
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return true
	}
	for name := range q {
		if credentialParams[normalizeParam(name)] {
			return true
		}
	}
	return false
}

// normalizeParam lower-cases name and drops '-' and '_'.
func normalizeParam(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == '_':
			return -1
		case 'A' <= r && r <= 'Z':
			return r + ('a' - 'A')
		}
		return r
	}, name)
}

// upgrade reports whether r asks to switch protocols (a WebSocket
// handshake, h2c): its handler needs the connection, which a buffered
// response cannot give.
func upgrade(r *http.Request) bool {
	return r.Header.Get("Upgrade") != ""
}
