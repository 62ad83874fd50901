package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/layercache/layercache/internal/agentconn"
)

// config is the parsed command line.
type config struct {
	kubeconfig              string
	metricsAddr, probeAddr  string
	leaderElect             bool
	leaderElectionNamespace string
	agentCA, agentCert      string
	agentKey                string
	agentInsecure           bool
	namespace               string
	webhook                 bool
	webhookPort             int
	webhookService          string
	webhookConfig           string
	webhookCertDir          string
	agentImage              string
	resync, agentTimeout    time.Duration
	statusConcurrency       int
	logLevel                slog.Level
	// skipNameValidation is for tests only (no flag): see runConfig.
	skipNameValidation bool
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.kubeconfig, "kubeconfig", "", "path to a kubeconfig; empty means in-cluster (or $KUBECONFIG)")
	fs.StringVar(&c.metricsAddr, "metrics-bind-address", ":8080", `address of /metrics; "0" turns it off`)
	fs.StringVar(&c.probeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	fs.BoolVar(&c.leaderElect, "leader-elect", false, "elect a leader, so that only one replica reconciles")
	fs.StringVar(&c.leaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader lease; empty means the pod's own")
	fs.StringVar(&c.namespace, "namespace", os.Getenv("POD_NAMESPACE"), "the operator's namespace, where it keeps its CA and certificates (default $POD_NAMESPACE)")
	fs.StringVar(&c.agentCA, "agent-ca", "", "PEM file of the CA that signs agent certificates (with --agent-cert and --agent-key: use this PKI instead of the operator's own CA)")
	fs.StringVar(&c.agentCert, "agent-cert", "", "PEM file of the operator's client certificate for agents")
	fs.StringVar(&c.agentKey, "agent-key", "", "PEM file of the key of --agent-cert")
	fs.BoolVar(&c.agentInsecure, "agent-insecure", false, "talk to agents over plain HTTP (agents run with --insecure-admin; development only)")
	fs.BoolVar(&c.webhook, "webhook", true, "serve the pod injection webhook")
	fs.IntVar(&c.webhookPort, "webhook-port", 9443, "port of the injection webhook")
	fs.StringVar(&c.webhookService, "webhook-service", "layercache", "Service of the webhook, which its certificate names")
	fs.StringVar(&c.webhookConfig, "webhook-config", "layercache", "MutatingWebhookConfiguration whose caBundle the operator keeps current; empty: none")
	fs.StringVar(&c.webhookCertDir, "webhook-cert-dir", "", "serve the webhook with tls.crt/tls.key from this directory (cert-manager) instead of the operator's own CA")
	fs.StringVar(&c.agentImage, "agent-image", "", "agent image the webhook injects (required with --webhook)")
	fs.DurationVar(&c.resync, "resync", 30*time.Second, "how often a policy re-polls its agents when nothing changed")
	fs.DurationVar(&c.agentTimeout, "agent-timeout", 5*time.Second, "bound on one status or policy call to an agent")
	fs.IntVar(&c.statusConcurrency, "status-concurrency", 32, "agents polled at once per policy")
	fs.TextVar(&c.logLevel, "log-level", slog.LevelInfo, "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	tlsSet := c.agentCA != "" || c.agentCert != "" || c.agentKey != ""
	switch {
	case c.agentInsecure && tlsSet:
		return nil, errors.New("--agent-insecure conflicts with --agent-ca, --agent-cert and --agent-key")
	case tlsSet && (c.agentCA == "" || c.agentCert == "" || c.agentKey == ""):
		return nil, errors.New("an external agent PKI needs all of --agent-ca, --agent-cert and --agent-key")
	case c.managesPKI() && c.namespace == "":
		return nil, errors.New("the operator keeps its CA in its namespace: set --namespace (or $POD_NAMESPACE)")
	case c.webhook && c.agentImage == "":
		return nil, errors.New("--webhook needs --agent-image, the image it injects (or --webhook=false)")
	case c.webhook && (c.webhookPort < 1 || c.webhookPort > 65535):
		return nil, errors.New("--webhook-port must be a port")
	case c.resync <= 0 || c.agentTimeout <= 0 || c.statusConcurrency <= 0:
		return nil, errors.New("--resync, --agent-timeout and --status-concurrency must be positive")
	}
	return c, nil
}

// managesPKI reports whether the operator runs its own CA: for agents
// unless they use an external PKI or plain HTTP, for the webhook unless its
// certificate comes from files.
func (c *config) managesPKI() bool {
	return c.agentsUseOwnPKI() || (c.webhook && c.webhookCertDir == "")
}

func (c *config) agentsUseOwnPKI() bool { return !c.agentInsecure && c.agentCA == "" }

// externalAgentTLS loads the operator's client TLS configuration from
// files; nil with --agent-insecure or the operator's own PKI.
func (c *config) externalAgentTLS() (*tls.Config, error) {
	if c.agentInsecure || c.agentCA == "" {
		return nil, nil
	}
	return agentconn.LoadClientTLS(c.agentCA, c.agentCert, c.agentKey)
}
