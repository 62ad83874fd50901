// Command agent is the layercache sidecar: the cache engine built from a
// policy document, served to the application on localhost and to the
// operator over mutual TLS, with probes and Prometheus metrics. It is
// package agent plus flags; see its documentation.
//
//	agent --bootstrap-policy=/etc/layercache/policy.json \
//	      --tls-cert=/etc/layercache/tls/tls.crt --tls-key=/etc/layercache/tls/tls.key \
//	      --client-ca=/etc/layercache/tls/ca.crt
//
// It stops gracefully on SIGTERM or SIGINT.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/layercache/layercache/pkg/agent"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		os.Exit(1)
	}
}

// run parses args, then serves until ctx ends; `agent inject ...` runs
// the manual injector instead.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "inject" {
		return runInject(args[1:], os.Stdin, os.Stdout, stderr)
	}
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	opts, err := cfg.options(log)
	if err != nil {
		return err
	}
	a, err := agent.New(opts)
	if err != nil {
		return err
	}
	return a.Start(ctx)
}
