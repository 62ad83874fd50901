package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// tlsFiles serves the admin API's TLS configuration from PEM files that
// Kubernetes updates in place when a Secret rotates: every handshake checks
// the files' modification times and reloads them when one changed. A
// reload that fails keeps the previous configuration (and logs why), so a
// half-written rotation never takes the admin API down.
type tlsFiles struct {
	cert, key, ca string
	log           *slog.Logger

	mu      sync.Mutex // protects current and stamps
	current *tls.Config
	stamps  [3]time.Time
}

// serverConfig loads the files and returns the configuration to give the
// agent: client certificates required, and the per-connection
// configuration from GetConfigForClient.
func (f *tlsFiles) serverConfig() (*tls.Config, error) {
	if _, err := f.forClient(nil); err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		ClientAuth:         tls.RequireAndVerifyClientCert,
		GetConfigForClient: f.forClient,
	}, nil
}

// forClient returns the current configuration, reloaded if a file changed.
func (f *tlsFiles) forClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	stamps, err := f.modTimes()
	if err == nil && f.current != nil && stamps == f.stamps {
		return f.current, nil
	}
	if err == nil {
		var cfg *tls.Config
		if cfg, err = f.load(); err == nil {
			if f.current != nil {
				f.log.Info("admin TLS material reloaded")
			}
			f.current, f.stamps = cfg, stamps
			return cfg, nil
		}
	}
	if f.current == nil {
		return nil, err
	}
	f.log.Warn("admin TLS material could not be reloaded; keeping the previous one", "error", err)
	return f.current, nil
}

func (f *tlsFiles) modTimes() ([3]time.Time, error) {
	var out [3]time.Time
	for i, p := range []string{f.cert, f.key, f.ca} {
		fi, err := os.Stat(p)
		if err != nil {
			return out, fmt.Errorf("admin TLS: %w", err)
		}
		out[i] = fi.ModTime()
	}
	return out, nil
}

func (f *tlsFiles) load() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(f.cert, f.key)
	if err != nil {
		return nil, fmt.Errorf("admin TLS: certificate: %w", err)
	}
	pem, err := os.ReadFile(f.ca)
	if err != nil {
		return nil, fmt.Errorf("admin TLS: client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("admin TLS: client CA: no PEM certificate in " + f.ca)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}, nil
}
