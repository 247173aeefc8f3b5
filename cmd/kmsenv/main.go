package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK    = 0 // success: every case passes, no error finding, allowed
	exitFail  = 1 // a check failed: case failure, lint error, denial, missing permission
	exitUsage = 2 // bad command line or unreadable input
)

// command is one subcommand; groups (like "policy") hold further commands.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
	sub     map[string]command
}

// commands is the top-level command table; new top-level commands
// (encrypt, decrypt, ...) are added here.
var commands = map[string]command{
	"policy": {
		summary: "test, lint, explain and preflight-check RAM and KMS policies (Alibaba Cloud) and IAM, SCP and KMS policies (Huawei Cloud)",
		sub: map[string]command{
			"test":    {summary: "run policy conformance cases: policy test [--json] [--dialect D] FILE|DIR...", run: policyTest},
			"lint":    {summary: "report risky or ineffective policy parts: policy lint [--json] [--dialect D] [--kind K] FILE...", run: policyLint},
			"explain": {summary: "decide one request and show the deciding statement: policy explain --policy FILE... --principal ARN --action A --resource ARN", run: policyExplain},
			"check":   {summary: "preflight an application manifest: policy check --manifest FILE --policy FILE...", run: policyCheck},
		},
	},
}

// run is the testable entry point: it never calls os.Exit and writes only
// to stdout and stderr.
func run(args []string, stdout, stderr io.Writer) int {
	return dispatch("kmsenv", commands, args, stdout, stderr)
}

func dispatch(prefix string, table map[string]command, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr, prefix, table)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout, prefix, table)
		return exitOK
	}
	c, ok := table[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "%s: unknown command %q\n", prefix, args[0])
		usage(stderr, prefix, table)
		return exitUsage
	}
	name := prefix + " " + args[0]
	if c.sub != nil {
		return dispatch(name, c.sub, args[1:], stdout, stderr)
	}
	return c.run(args[1:], stdout, stderr)
}

func usage(w io.Writer, prefix string, table map[string]command) {
	fmt.Fprintf(w, "usage: %s <command> [arguments]\n\ncommands:\n", prefix)
	names := make([]string, 0, len(table))
	for n := range table {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, table[n].summary)
	}
}

// parseInterleaved parses flags that may appear before, between or after
// positional arguments (the flag package stops at the first positional).
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
