package main

import (
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"

	"github.com/layercache/layercache/pkg/agent"
	"github.com/layercache/layercache/pkg/agent/agentapi"
)

// config holds the parsed flags.
type config struct {
	bootstrap                     string
	dataAddr, adminAddr, probeAdr string
	tlsCert, tlsKey, clientCA     string
	clientURI                     string
	insecureAdmin                 bool
	logLevel                      slog.Level
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.bootstrap, "bootstrap-policy", "", "JSON policy document to start with (a mounted ConfigMap); empty: a memory-only cache")
	fs.StringVar(&c.dataAddr, "data-addr", agentapi.DefaultDataAddr, "listen address of the data API (keep it on loopback)")
	fs.StringVar(&c.adminAddr, "admin-addr", agentapi.DefaultAdminAddr, "listen address of the admin API (mutual TLS)")
	fs.StringVar(&c.probeAdr, "probe-addr", agentapi.DefaultProbeAddr, "listen address of /healthz, /readyz and /metrics")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "PEM certificate of the admin API (reloaded when the file changes)")
	fs.StringVar(&c.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&c.clientCA, "client-ca", "", "PEM CA bundle that admin clients' certificates must chain to")
	fs.StringVar(&c.clientURI, "client-uri", "", "if set, admin clients' certificates must carry this URI SAN (e.g. the operator's)")
	fs.BoolVar(&c.insecureAdmin, "insecure-admin", false, "serve the admin API over plain HTTP without authentication (development only)")
	fs.TextVar(&c.logLevel, "log-level", slog.LevelInfo, "minimum log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	tlsSet := c.tlsCert != "" || c.tlsKey != "" || c.clientCA != ""
	switch {
	case c.insecureAdmin && tlsSet:
		return c, errors.New("--insecure-admin conflicts with --tls-cert, --tls-key and --client-ca")
	case !c.insecureAdmin && (c.tlsCert == "" || c.tlsKey == "" || c.clientCA == ""):
		return c, errors.New("the admin API needs --tls-cert, --tls-key and --client-ca (or --insecure-admin for development)")
	case c.insecureAdmin && c.clientURI != "":
		return c, errors.New("--client-uri needs TLS")
	}
	return c, nil
}

// options turns the flags into agent.Options; it loads the TLS files once
// to fail fast on bad ones.
func (c config) options(log *slog.Logger) (agent.Options, error) {
	o := agent.Options{
		BootstrapFile: c.bootstrap,
		DataAddr:      c.dataAddr,
		AdminAddr:     c.adminAddr,
		ProbeAddr:     c.probeAdr,
		InsecureAdmin: c.insecureAdmin,
		Logger:        log,
		Version:       version(),
	}
	if c.insecureAdmin {
		log.Warn("the admin API is served without TLS or authentication (--insecure-admin)")
		return o, nil
	}
	files := &tlsFiles{cert: c.tlsCert, key: c.tlsKey, ca: c.clientCA, log: log}
	cfg, err := files.serverConfig()
	if err != nil {
		return o, err
	}
	o.AdminTLS = cfg
	if uri := c.clientURI; uri != "" {
		o.AuthorizeAdmin = func(cert *x509.Certificate) error {
			for _, u := range cert.URIs {
				if u.String() == uri {
					return nil
				}
			}
			return fmt.Errorf("certificate %q has no URI SAN %s", cert.Subject.CommonName, uri)
		}
	}
	return o, nil
}

// version is the module version the binary was built from, if known.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.Main.Version
	}
	return ""
}
