package httpcache_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/httpcache"
)

func TestDefaultKey(t *testing.T) {
	tests := []struct {
		method, target, host string
		want                 string
	}{
		{"GET", "/items", "example.com", "GET example.com/items"},
		{"HEAD", "/items", "example.com", "HEAD example.com/items"},
		{"GET", "/items?b=2&a=1", "example.com", "GET example.com/items?a=1&b=2"},
		{"GET", "/items?a=2&a=1", "example.com", "GET example.com/items?a=2&a=1"},
		{"GET", "/a%2Fb", "example.com", "GET example.com/a%2Fb"},
		{"GET", "/a%0Ab", "example.com", "GET example.com/a%0Ab"},
		{"GET", "/", "Example.COM:8080", "GET example.com:8080/"},
		{"GET", "/x?q=a+b", "h", "GET h/x?q=a+b"},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(tc.method, tc.target, nil)
		r.Host = tc.host
		got := httpcache.DefaultKey(r)
		if got != tc.want {
			t.Errorf("DefaultKey(%s %s, host %s) = %q, want %q", tc.method, tc.target, tc.host, got, tc.want)
		}
		if err := cache.ValidateKey(got); err != nil {
			t.Errorf("DefaultKey(%s %s) = %q, not a valid key: %v", tc.method, tc.target, got, err)
		}
	}
}

func TestDefaultKeyHashesLongTargets(t *testing.T) {
	long := "/" + strings.Repeat("x", 2000)
	a := httptest.NewRequest("GET", long, nil)
	b := httptest.NewRequest("GET", long+"y", nil)
	ka, kb := httpcache.DefaultKey(a), httpcache.DefaultKey(b)
	if !strings.HasPrefix(ka, "GET sha256:") || len(ka) != len("GET sha256:")+64 {
		t.Errorf("DefaultKey of a 2 kB path = %q, want GET sha256:<64 hex digits>", ka)
	}
	if ka == kb {
		t.Errorf("two long paths share the key %q", ka)
	}
}

func TestHasCredentials(t *testing.T) {
	tests := []struct {
		name   string
		target string
		header http.Header
		tls    bool
		want   bool
	}{
		{"plain", "/items?page=2&sort=name", nil, false, false},
		{"authorization", "/", http.Header{"Authorization": {"Bearer t"}}, false, true},
		{"proxy authorization", "/", http.Header{"Proxy-Authorization": {"Basic x"}}, false, true},
		{"cookie", "/", http.Header{"Cookie": {"a=b"}}, false, true},
		{"x-api-key", "/", http.Header{"X-Api-Key": {"k"}}, false, true},
		{"x-auth-token", "/", http.Header{"X-Auth-Token": {"k"}}, false, true},
		{"x-session-id", "/", http.Header{"X-Session-Id": {"k"}}, false, true},
		{"empty authorization still counts", "/", http.Header{"Authorization": {""}}, false, true},
		{"token", "/?token=x", nil, false, true},
		{"access_token", "/?access_token=x", nil, false, true},
		{"accessToken", "/?accessToken=x", nil, false, true},
		{"API-KEY", "/?API-KEY=x", nil, false, true},
		{"apikey", "/?apikey=x", nil, false, true},
		{"password", "/?user=a&password=x", nil, false, true},
		{"session", "/?session=x", nil, false, true},
		{"signed url", "/?X-Amz-Signature=x", nil, false, true},
		{"escaped name", "/?%74oken=x", nil, false, true},
		{"unparsable query", "/?a=%zz", nil, false, true},
		{"tokenizer is not token", "/?tokenizer=x", nil, false, false},
		{"client certificate", "/", nil, true, true},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", tc.target, nil)
		for k, vs := range tc.header {
			r.Header[k] = vs
		}
		if tc.tls {
			r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{{}}}
		}
		if got := httpcache.HasCredentials(r); got != tc.want {
			t.Errorf("%s: HasCredentials(%s, %v) = %v, want %v", tc.name, tc.target, tc.header, got, tc.want)
		}
	}
}
