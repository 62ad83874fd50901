package main

import (
	"io"
	"strings"
	"testing"
)

func TestFlagsRefuseContradictoryOrIncompleteSetups(t *testing.T) {
	t.Parallel()
	ns := "--namespace=layercache-system"
	img := "--agent-image=ghcr.io/layercache/agent:v1"
	tests := []struct {
		name string
		args []string
		want string // "" means accepted
	}{
		{"own PKI without a namespace", []string{img}, "--namespace"},
		{"half an external PKI", []string{ns, img, "--agent-ca=ca.crt", "--agent-cert=tls.crt"}, "all of --agent-ca"},
		{"insecure and TLS at once", []string{ns, img, "--agent-insecure", "--agent-ca=ca.crt"}, "conflicts"},
		{"a webhook without an image", []string{ns}, "--agent-image"},
		{"a zero resync", []string{ns, img, "--resync=0"}, "must be positive"},
		{"a stray argument", []string{ns, img, "extra"}, "unexpected arguments"},
		{"the defaults: own PKI and the webhook", []string{ns, img}, ""},
		{"insecure agents, no webhook, no namespace", []string{"--agent-insecure", "--webhook=false"}, ""},
		{"external PKI and cert-manager webhook need no namespace", []string{img, "--agent-ca=ca.crt", "--agent-cert=tls.crt", "--agent-key=tls.key", "--webhook-cert-dir=/certs"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseFlags(tt.args, io.Discard)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("parseFlags(%q) = %v, want accepted", tt.args, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("parseFlags(%q) = %v, want an error mentioning %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestExternalAgentTLSReportsAMissingFile(t *testing.T) {
	t.Parallel()
	c, err := parseFlags([]string{"--webhook=false", "--agent-ca=/nonexistent/ca.crt", "--agent-cert=/nonexistent/tls.crt", "--agent-key=/nonexistent/tls.key"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.externalAgentTLS(); err == nil || !strings.Contains(err.Error(), "read CA") {
		t.Fatalf("externalAgentTLS with missing files = %v, want a read error", err)
	}
}
