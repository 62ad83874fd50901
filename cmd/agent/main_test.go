package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/layercache/layercache/pkg/agent/agenttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// writePEM writes cert (and its key) and the CA as PEM files in dir.
func writePEM(t *testing.T, dir string, cert tls.Certificate, ca *x509.Certificate) (certFile, keyFile, caFile string) {
	t.Helper()
	certFile, keyFile, caFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "ca.crt")
	ec, ok := cert.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("private key is a %T", cert.PrivateKey)
	}
	key, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	for path, block := range map[string]*pem.Block{
		certFile: {Type: "CERTIFICATE", Bytes: cert.Certificate[0]},
		keyFile:  {Type: "EC PRIVATE KEY", Bytes: key},
		caFile:   {Type: "CERTIFICATE", Bytes: ca.Raw},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile, caFile
}

func TestFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"--insecure-admin"}, true},
		{[]string{"--tls-cert=c", "--tls-key=k", "--client-ca=ca"}, true},
		{[]string{}, false},
		{[]string{"--tls-cert=c", "--tls-key=k"}, false},
		{[]string{"--insecure-admin", "--tls-cert=c"}, false},
		{[]string{"--insecure-admin", "--client-uri=spiffe://x"}, false},
		{[]string{"--insecure-admin", "extra"}, false},
		{[]string{"--log-level=loud", "--insecure-admin"}, false},
	} {
		if _, err := parseFlags(tc.args, io.Discard); (err == nil) != tc.ok {
			t.Errorf("parseFlags(%q) = %v; want ok=%v", tc.args, err, tc.ok)
		}
	}
}

func TestTLSFilesReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pki := agenttest.NewPKI(t)
	certFile, keyFile, caFile := writePEM(t, dir, pki.Server.Certificates[0], pki.CA.Cert)
	var logs bytes.Buffer
	f := &tlsFiles{cert: certFile, key: keyFile, ca: caFile, log: slog.New(slog.NewTextHandler(&logs, nil))}
	base, err := f.serverConfig()
	if err != nil {
		t.Fatal(err)
	}
	if base.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Fatalf("ClientAuth = %v", base.ClientAuth)
	}
	first, err := base.GetConfigForClient(nil)
	if err != nil || !bytes.Equal(first.Certificates[0].Certificate[0], pki.Server.Certificates[0].Certificate[0]) {
		t.Fatalf("first config: %v", err)
	}

	// A rotated certificate is picked up by the next handshake.
	rotated := agenttest.NewPKI(t)
	writePEM(t, dir, rotated.Server.Certificates[0], rotated.CA.Cert)
	later := time.Now().Add(time.Minute)
	for _, p := range []string{certFile, keyFile, caFile} {
		if err := os.Chtimes(p, later, later); err != nil {
			t.Fatal(err)
		}
	}
	second, err := base.GetConfigForClient(nil)
	if err != nil || !bytes.Equal(second.Certificates[0].Certificate[0], rotated.Server.Certificates[0].Certificate[0]) {
		t.Fatalf("after rotation the old certificate is served (%v)", err)
	}

	// A broken rotation keeps the last good configuration.
	if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	evenLater := later.Add(time.Minute)
	if err := os.Chtimes(keyFile, evenLater, evenLater); err != nil {
		t.Fatal(err)
	}
	third, err := base.GetConfigForClient(nil)
	if err != nil || third != second || !strings.Contains(logs.String(), "could not be reloaded") {
		t.Fatalf("a broken key file replaced the configuration (%v; logs %q)", err, logs.String())
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pki := agenttest.NewPKI(t)
	certFile, keyFile, caFile := writePEM(t, dir, pki.Server.Certificates[0], pki.CA.Cert)
	policy := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(policy, []byte(`{"generation": 1, "freshness": {"ttl": "1m"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Start builds everything, serves, and stops at once
	var logs bytes.Buffer
	err := run(ctx, []string{"--bootstrap-policy=" + policy, "--tls-cert=" + certFile, "--tls-key=" + keyFile,
		"--client-ca=" + caFile, "--data-addr=127.0.0.1:0", "--admin-addr=127.0.0.1:0", "--probe-addr=127.0.0.1:0"}, &logs)
	if err != nil {
		t.Fatalf("run: %v (logs: %s)", err, logs.String())
	}
	if !strings.Contains(logs.String(), "agent serving") || !strings.Contains(logs.String(), "agent stopped") {
		t.Fatalf("logs lack the start and stop lines: %s", logs.String())
	}
	if err := run(context.Background(), []string{"--insecure-admin", "--bootstrap-policy=" + filepath.Join(dir, "absent.json")}, io.Discard); err == nil {
		t.Fatal("run with a missing bootstrap policy: no error")
	}
}
