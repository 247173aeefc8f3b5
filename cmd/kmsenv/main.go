package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

// Exit codes, the same for every command.
const (
	exitOK    = 0 // success: every case passes, no error finding, allowed, decrypted
	exitFail  = 1 // a check failed: case failure, lint error, denial, tampering, KMS refusal
	exitUsage = 2 // bad command line or unreadable input
)

// app is one invocation's world: its streams and environment. Commands
// never touch os.Stdin, os.Stdout, os.Stderr or os.Getenv directly, so
// that tests run them in process.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	stdinUsed      string // what already read stdin ("" when nothing)
}

// exitError ends a command with a status; msg, when set, is printed to
// stderr as "kmsenv: msg".
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// status ends a command with code; the command printed what it had to say.
func status(code int) error {
	if code == exitOK {
		return nil
	}
	return &exitError{code: code}
}

// usagef is a usage error (exit 2) with a one-line message.
func usagef(format string, args ...any) error {
	return &exitError{code: exitUsage, msg: fmt.Sprintf(format, args...)}
}

// failf is a failed check (exit 1) with a one-line message.
func failf(format string, args ...any) error {
	return &exitError{code: exitFail, msg: fmt.Sprintf(format, args...)}
}

// run is the testable entry point with an empty stdin and the process
// environment: it never calls os.Exit and writes only to stdout and stderr.
func run(args []string, stdout, stderr io.Writer) int {
	return runMain(args, strings.NewReader(""), stdout, stderr, os.Getenv)
}

// runMain builds the command tree and runs args through it, mapping every
// outcome to an exit code.
func runMain(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintf(stderr, "kmsenv: %s\n", ee.msg)
		}
		return ee.code
	}
	// cobra's own errors: unknown flags, bad flag values, wrong argument
	// counts.
	fmt.Fprintf(stderr, "kmsenv: %v\n", err)
	return exitUsage
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "kmsenv",
		Short: "Envelope encryption, secrets and policy checks for Alibaba Cloud KMS",
		Long: `kmsenv is the command-line companion of the kmsenvelope SDK: envelope
encryption of files and streams, header inspection, rewrapping, secrets,
a live permission preflight, and offline policy tests, lints and explanations.

Exit status: 0 success, 1 a check failed (a case, a denial, tampering, a KMS
refusal), 2 a usage error or unreadable input.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ArbitraryArgs,
		RunE:          groupRunE,
		Version:       version(),
	}
	root.SetVersionTemplate("kmsenv {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usagef("%s: %v (see '%s --help')", c.CommandPath(), err, c.CommandPath())
	})
	root.CompletionOptions.HiddenDefaultCmd = false
	root.AddCommand(
		a.policyCommand(),
		a.encryptCommand(),
		a.decryptCommand(),
		a.inspectCommand(),
		a.rewrapCommand(),
		a.secretCommand(),
		a.preflightCommand(),
		a.migrateCommand(),
		a.emulatorCommand(),
		a.versionCommand(),
	)
	return root
}

// groupRunE runs a command that only groups others: without arguments it
// prints its usage to stderr (exit 2); with any, the first is an unknown
// command (cobra would print help and exit 0).
func groupRunE(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		c.SetOut(c.ErrOrStderr())
		_ = c.Usage()
		return status(exitUsage)
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2 // cobra's default, set only on its own path
	}
	if s := c.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %q?)", s[0])
	}
	return usagef("%s; see '%s --help'", msg, c.CommandPath())
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of kmsenv and of the Go toolchain that built it",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			fmt.Fprintf(a.stdout, "kmsenv %s\n", version())
			return nil
		},
	}
}

// version is the module version from the build information ("(devel)"
// for a build inside the module), with the Go version.
func version() string {
	v := "(devel)"
	gov := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		gov = bi.GoVersion
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 && v == "(devel)" {
				v += " " + s.Value[:12]
			}
		}
	}
	if gov != "" {
		v += " " + gov
	}
	return v
}
