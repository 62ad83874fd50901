package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1 // the command failed or refused to run
	exitUsage   = 2 // the command line is invalid
)

// command is one subcommand. A new value is made for every run, so its
// fields can hold the parsed flags.
type command interface {
	// register defines the command's own flags on fs.
	register(fs *flag.FlagSet)
	// check validates the parsed flags; an error is a usage error.
	check() error
	// run executes the command. It writes its result through e.out and
	// warnings to e.stderr.
	run(ctx context.Context, e *env) error
}

// commandInfo describes a subcommand for dispatch and usage.
type commandInfo struct {
	name     string
	synopsis string // the command's own flags
	summary  string
	make     func() command
}

func commands() []commandInfo {
	return []commandInfo{
		{"stats", "[--pattern glob] [--limit n]",
			"count the layer's keys: sizes, envelopes, compression, states, TTLs",
			func() command { return new(statsCmd) }},
		{"keys", "[--pattern glob] [--limit n]",
			"list the layer's cache keys, without the layer prefix",
			func() command { return new(keysCmd) }},
		{"inspect", "--key k [--codec json|msgpack] [--preview-bytes n]",
			"decode one stored entry: TTL, compression, state, tags, payload",
			func() command { return new(inspectCmd) }},
		{"invalidate", "--tag t | --key-prefix p | --pattern glob | --key k [--force] [--dry-run] ...",
			"delete entries, untrack them from the tag index and publish the deletion on the bus",
			func() command { return new(invalidateCmd) }},
	}
}

// usageError is a command-line mistake: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// run executes the command line args (without the program name) and returns
// the exit status. It is main without the process: tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		printUsage(stdout)
		return exitOK
	}
	var info *commandInfo
	for _, c := range commands() {
		if c.name == args[0] {
			info = &c
			break
		}
	}
	if info == nil {
		printf(stderr, "layercache: unknown command %s\n\n", safe(args[0]))
		printUsage(stderr)
		return exitUsage
	}

	cmd := info.make()
	fs := flag.NewFlagSet("layercache "+info.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors and help are printed below, masked
	var g globalOptions
	g.register(fs)
	cmd.register(fs)
	err := fs.Parse(args[1:])
	// Nothing is known about the credentials yet when parsing fails: mask
	// whatever looks like a URL with user information.
	m := newMasker(g.redisURL)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printCommandUsage(stdout, info, fs)
		return exitOK
	case err != nil:
	case fs.NArg() > 0:
		err = usagef("unexpected argument %s", safe(fs.Arg(0)))
	default:
		err = g.resolve()
		if err == nil {
			err = cmd.check()
		}
	}
	if err != nil {
		printf(stderr, "layercache %s: %s\n\n", info.name, m.mask(err.Error()))
		printCommandUsage(stderr, info, fs)
		return exitUsage
	}

	if err := execute(ctx, info.name, cmd, &g, stdout, stderr); err != nil {
		printf(stderr, "layercache %s: %s\n", info.name, m.mask(err.Error()))
		return exitFailure
	}
	return exitOK
}

// execute connects to Redis and runs cmd within the global timeout.
func execute(ctx context.Context, name string, cmd command, g *globalOptions, stdout, stderr io.Writer) error {
	client, warnings, err := g.connect()
	if err != nil {
		return err
	}
	// Closing only releases idle connections; there is nothing to report.
	defer func() { _ = client.Close() }()
	m := newMasker(g.redisURL)
	for _, w := range warnings {
		printf(stderr, "layercache %s: warning: %s\n", name, m.mask(w))
	}
	if g.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, g.timeout)
		defer cancel()
	}
	e := &env{
		client: client,
		prefix: g.prefix,
		out:    output{w: stdout, json: g.json},
		stderr: stderr,
		name:   name,
		mask:   m,
	}
	return cmd.run(ctx, e)
}

func printUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString("Usage: layercache <command> --redis <url> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		printf(&b, "  %-11s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun 'layercache <command> --help' for a command's flags.\n")
	_, _ = io.WriteString(w, b.String()) // nothing to do when the terminal is gone
}

func printCommandUsage(w io.Writer, c *commandInfo, fs *flag.FlagSet) {
	printf(w, "Usage: layercache %s --redis <url> %s\n\n%s.\n\nFlags:\n", c.name, c.synopsis, c.summary)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}
