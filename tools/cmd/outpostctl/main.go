// Command outpostctl operates an Outpost box from a workstation through the box's
// HTTP API.
//
// What comes in: a subcommand with flags, the box's base URL (-box or
// $OUTPOST_BOX) and its API token (-token, -token-file or $OUTPOST_TOKEN; the
// environment and the file keep it out of the process list). What goes out: files
// and tables built from the API's answers, and the API's short error messages.
//
// Subcommands live in one table ([commands]); adding one is adding a row.
//
// # Usage
//
//	outpostctl capture -box https://box.branch:8443 -iface wan0 \
//	    -filter 'host 10.0.0.1 and tcp port 443' -seconds 10 -o out.pcap
//	outpostctl top -box https://box.branch:8443 -n 10
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// apiPrefix is where the daemon mounts the diagnostics API (capture.Handler).
const apiPrefix = "/api/v1/diag"

// command is one subcommand. run gets the arguments after the subcommand's name.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// commands is the subcommand table.
var commands = []command{
	{"capture", "capture packets on the box and save them as a pcap file", runCapture},
	{"top", "show the WAN top talkers of the last minute", runTop},
	{"cert", "site keys and box certificates ('outpostctl cert' lists its commands)",
		func(_ context.Context, e *env, args []string) error { return runCert(args, e.stdout) }},
}

// env is the world a command sees; tests replace its parts.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	client         *http.Client
}

// errUsage means the command line was wrong; the usage text was printed.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, client: &http.Client{}}, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "help" {
		usage(e.stderr)
		return 2
	}
	for _, c := range commands {
		if c.name == args[0] {
			err := c.run(ctx, e, args[1:])
			switch {
			case err == nil:
				return 0
			case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
				return 2
			}
			fmt.Fprintf(e.stderr, "outpostctl %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(e.stderr, "outpostctl: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: outpostctl <command> [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'outpostctl <command> -h' for a command's flags.")
}

// boxFlags are the flags every API command takes.
type boxFlags struct {
	box, token, tokenFile string
}

func (b *boxFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&b.box, "box", "", "base URL of the box, e.g. https://box.branch:8443 (default $OUTPOST_BOX)")
	fs.StringVar(&b.token, "token", "", "API token (default $OUTPOST_TOKEN; prefer -token-file or the environment)")
	fs.StringVar(&b.tokenFile, "token-file", "", "file holding the API token")
}

// resolve fills the box URL and token from flags, file and environment.
func (b *boxFlags) resolve(e *env) error {
	if b.box == "" {
		b.box = e.getenv("OUTPOST_BOX")
	}
	if b.box == "" {
		return fmt.Errorf("no box: pass -box URL or set OUTPOST_BOX")
	}
	if !strings.HasPrefix(b.box, "http://") && !strings.HasPrefix(b.box, "https://") {
		return fmt.Errorf("-box %q: want an http:// or https:// URL", b.box)
	}
	b.box = strings.TrimRight(b.box, "/")
	if b.token == "" && b.tokenFile != "" {
		t, err := os.ReadFile(b.tokenFile)
		if err != nil {
			return fmt.Errorf("read token file: %w", err)
		}
		b.token = strings.TrimSpace(string(t))
	}
	if b.token == "" {
		b.token = e.getenv("OUTPOST_TOKEN")
	}
	if b.token == "" {
		return fmt.Errorf("no API token: pass -token-file FILE or set OUTPOST_TOKEN")
	}
	return nil
}

// get sends an authenticated GET for path (with query) and returns the response
// when the status is 200; otherwise an error carrying the box's message.
func (b *boxFlags) get(ctx context.Context, e *env, pathAndQuery string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", b.box+apiPrefix+pathAndQuery, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("box answered %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	return resp, nil
}

// parseFlags parses args, printing usage to stderr on error.
func parseFlags(fs *flag.FlagSet, e *env, args []string) error {
	fs.SetOutput(e.stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err) // the flag package printed it with the usage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "unexpected arguments: %q\n", fs.Args())
		fs.Usage()
		return errUsage
	}
	return nil
}
