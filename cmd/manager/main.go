// Command manager is the layercache operator: it reconciles CachePolicy,
// CacheInvalidation and CacheSnapshot objects by talking to the cache
// agents of the selected pods over mutual TLS.
//
//	manager --leader-elect \
//	        --agent-ca=/etc/layercache/agent-ca/ca.crt \
//	        --agent-cert=/etc/layercache/operator/tls.crt --agent-key=/etc/layercache/operator/tls.key
//
// It stops gracefully on SIGTERM or SIGINT.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/internal/agentconn"
	"github.com/layercache/layercache/internal/controller"
	"github.com/layercache/layercache/internal/inject"
	"github.com/layercache/layercache/internal/pki"
	"github.com/layercache/layercache/internal/webhook/podinject"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		os.Exit(1)
	}
}

// run parses args, then reconciles until ctx ends.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	return runConfig(ctx, cfg, stderr)
}

// runConfig reconciles with cfg until ctx ends.
func runConfig(ctx context.Context, cfg *config, stderr io.Writer) error {
	log := logr.FromSlogHandler(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	ctrl.SetLogger(log)

	restConfig, err := cfg.restConfig()
	if err != nil {
		return err
	}
	externalTLS, err := cfg.externalAgentTLS()
	if err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	// The operator's own CA: the leader issues and rotates the
	// certificates in Secrets; every replica reads them at use time, so a
	// rotation needs no restart. The reader is set once the manager exists.
	src := &pki.Source{Namespace: cfg.namespace}
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: cfg.metricsAddr},
		HealthProbeBindAddress:  cfg.probeAddr,
		LeaderElection:          cfg.leaderElect,
		LeaderElectionID:        "layercache-operator.cache.layercache.io",
		LeaderElectionNamespace: cfg.leaderElectionNamespace,
		// Step down promptly on SIGTERM so a new leader takes over without
		// waiting out the lease.
		LeaderElectionReleaseOnCancel: true,
		WebhookServer:                 cfg.webhookServer(src),
		// Controller names are registered per process; tests that start
		// the manager more than once in one process turn the check off.
		Controller: ctrlconfig.Controller{SkipNameValidation: &cfg.skipNameValidation},
	})
	if err != nil {
		return fmt.Errorf("new manager: %w", err)
	}
	src.Reader = mgr.GetAPIReader()
	var rotator *pki.Rotator
	if cfg.managesPKI() {
		rotator = &pki.Rotator{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Namespace: cfg.namespace}
		if cfg.webhook && cfg.webhookCertDir == "" {
			rotator.WebhookService, rotator.WebhookConfig = cfg.webhookService, cfg.webhookConfig
		}
		if err := mgr.Add(rotator); err != nil {
			return err
		}
	}
	agentTLS := externalTLS
	if cfg.agentsUseOwnPKI() {
		agentTLS = src.ClientTLS()
	}

	dialer := agentconn.NewDialer(agentTLS, nil)
	defer dialer.Close()
	opts := controller.Options{
		Agents: dialer, Resync: cfg.resync, AgentTimeout: cfg.agentTimeout, StatusConcurrency: cfg.statusConcurrency,
	}
	if rotator != nil && cfg.agentsUseOwnPKI() {
		// Agents of a namespace need their TLS Secret before they start.
		opts.EnsureAgentTLS = rotator.EnsureAgentSecret
	}
	if err := controller.Setup(mgr, opts); err != nil {
		return err
	}
	if cfg.webhook {
		native, err := nativeSidecars(restConfig)
		if err != nil {
			return err
		}
		if err := podinject.Register(mgr, inject.Config{AgentImage: cfg.agentImage, NativeSidecars: native}); err != nil {
			return fmt.Errorf("injection webhook: %w", err)
		}
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	log.Info("starting manager", "leaderElection", cfg.leaderElect, "ownPKI", cfg.managesPKI(), "webhook", cfg.webhook, "agentTLS", agentTLS != nil)
	return mgr.Start(ctx)
}

// restConfig is the kubeconfig given by flag, else the in-cluster or
// default configuration.
func (c *config) restConfig() (*rest.Config, error) {
	if c.kubeconfig != "" {
		rc, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", c.kubeconfig, err)
		}
		return rc, nil
	}
	return ctrl.GetConfig()
}

// webhookServer is the injection webhook's server: its certificate comes
// from --webhook-cert-dir, or from the operator's CA through src.
func (c *config) webhookServer(src *pki.Source) webhook.Server {
	opts := webhook.Options{Port: c.webhookPort, CertDir: c.webhookCertDir}
	if c.webhookCertDir == "" {
		opts.TLSOpts = []func(*tls.Config){func(t *tls.Config) { t.GetCertificate = src.GetWebhookCertificate }}
	}
	return webhook.NewServer(opts)
}

// nativeSidecars reports whether the API server supports native sidecars.
func nativeSidecars(rc *rest.Config) (bool, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		return false, fmt.Errorf("discovery client: %w", err)
	}
	native, err := podinject.NativeSidecarsSupported(dc)
	if err != nil {
		return false, fmt.Errorf("server version: %w", err)
	}
	return native, nil
}
