package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kmsenvelope/kmsenvelope"
	"github.com/kmsenvelope/kmsenvelope/secrets"
)

func (a *app) secretCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "secret",
		Short: "Read secrets from the KMS secrets manager, or run a command with them in its environment",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupRunE,
	}
	c.AddCommand(a.secretGetCommand(), a.secretExecCommand())
	return c
}

func (a *app) secretGetCommand() *cobra.Command {
	var cf cloudFlags
	var stage, versionID, field string
	c := &cobra.Command{
		Use:   "get NAME [--stage STAGE | --version ID] [--field FIELD]",
		Short: "Print a secret's value to stdout",
		Long: `Prints the value of secret NAME (a name or secret ARN), ACSCurrent unless
--stage or --version says otherwise, exactly as stored: no newline is added.
--field FIELD reads a JSON secret and prints that top-level field (a string
as it is, anything else as compact JSON).`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if stage != "" && versionID != "" {
				return usagef("secret get: --stage and --version exclude each other")
			}
			var opts []secrets.GetOption
			if stage != "" {
				opts = append(opts, secrets.Stage(stage))
			}
			if versionID != "" {
				opts = append(opts, secrets.VersionID(versionID))
			}
			ctx, cancel := signalContext(c)
			defer cancel()
			client, err := a.secretsClient(ctx, &cf)
			if err != nil {
				return err
			}
			defer client.Close()
			val, err := a.secretValue(ctx, client, args[0], field, opts...)
			if err != nil {
				return err
			}
			_, err = a.stdout.Write(val)
			return err
		},
	}
	a.registerCloudFlags(c.Flags(), &cf)
	c.Flags().StringVar(&stage, "stage", "", "version `STAGE`, e.g. ACSPrevious")
	c.Flags().StringVar(&versionID, "version", "", "version `ID`")
	c.Flags().StringVar(&field, "field", "", "print this top-level `FIELD` of a JSON secret")
	return c
}

func (a *app) secretsClient(ctx context.Context, cf *cloudFlags) (*kmsenvelope.Client, error) {
	cfg, err := a.config(cf)
	if err != nil {
		return nil, err
	}
	return a.newClient(ctx, cfg)
}

// secretValue reads a secret, or one field of a JSON secret. Errors never
// contain the value (secrets.Value and secrets.JSONError redact it).
func (a *app) secretValue(ctx context.Context, client *kmsenvelope.Client, name, field string, opts ...secrets.GetOption) ([]byte, error) {
	if err := secrets.CheckName(name); err != nil {
		return nil, usagef("%v", err)
	}
	v, err := client.Secret(ctx, name, opts...)
	if err != nil {
		return nil, failf("%v%s", err, hint(err))
	}
	if field == "" {
		return v.Bytes(), nil
	}
	var obj map[string]json.RawMessage
	if err := v.JSON(&obj); err != nil {
		return nil, failf("secret %s: --field %s: %v", name, field, err)
	}
	raw, ok := obj[field]
	if !ok {
		return nil, failf("secret %s has no field %q", name, field)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return []byte(s), nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, failf("secret %s: field %q is not valid JSON", name, field)
	}
	return buf.Bytes(), nil
}

// envVarName is a portable environment variable name (POSIX's portable
// character set for names).
var envVarName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// envSpec is one --env VAR=NAME[:FIELD].
type envSpec struct{ variable, name, field string }

func parseEnvSpec(s string) (envSpec, error) {
	v, ref, ok := strings.Cut(s, "=")
	if !ok || !envVarName.MatchString(v) || ref == "" {
		return envSpec{}, usagef("--env %q: expected VAR=NAME[:FIELD] with VAR a variable name", s)
	}
	// A secret ARN holds colons of its own (acs:kms:<region>:<uid>:secret/<name>);
	// its field separator is the first colon after "secret/". Secret names
	// hold no colon (KMS CreateSecret: letters, digits and _/+=.@-).
	rest, offset := ref, 0
	if strings.HasPrefix(ref, "acs:") {
		i := strings.Index(ref, ":secret/")
		if i < 0 {
			return envSpec{}, usagef("--env %q: %q is not a secret ARN (acs:kms:<region>:<uid>:secret/<name>)", s, ref)
		}
		offset = i + len(":secret/")
		rest = ref[offset:]
	}
	name, field := ref, ""
	if j := strings.IndexByte(rest, ':'); j >= 0 {
		name, field = ref[:offset+j], rest[j+1:]
		if field == "" {
			return envSpec{}, usagef("--env %q: empty FIELD after ':'", s)
		}
		rest = rest[:j]
	}
	if rest == "" {
		return envSpec{}, usagef("--env %q: empty secret NAME", s)
	}
	return envSpec{variable: v, name: name, field: field}, nil
}

func (a *app) secretExecCommand() *cobra.Command {
	var cf cloudFlags
	var envFlags []string
	c := &cobra.Command{
		Use:   "exec --env VAR=NAME[:FIELD]... -- COMMAND [ARG]...",
		Short: "Run a command with secrets in its environment; exit with its status",
		Long: `Reads each secret (NAME a secret name or ARN; :FIELD takes one top-level
field of a JSON secret), then runs COMMAND with VAR=value added to its
environment. The values go only into the child's environment: never onto
its command line (which other users can read in the process list) or to
disk. kmsenv exits with the child's status (128+N when a signal N ended it;
127 when COMMAND cannot be started); SIGINT and SIGTERM are passed on to
the child. If any secret cannot be read, COMMAND is not run and the status
is 1.`,
		Example: `  kmsenv secret exec --env DB_PASSWORD=prod/db:password --env API_KEY=api-key -- ./server --port 8080`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if c.ArgsLenAtDash() != 0 {
				return usagef("secret exec: put the command after --, e.g. kmsenv secret exec --env VAR=NAME -- COMMAND ARGS")
			}
			if len(envFlags) == 0 {
				return usagef("secret exec: missing --env VAR=NAME[:FIELD]")
			}
			specs := make([]envSpec, 0, len(envFlags))
			seen := map[string]bool{}
			for _, e := range envFlags {
				sp, err := parseEnvSpec(e)
				if err != nil {
					return err
				}
				if seen[sp.variable] {
					return usagef("--env %s is given twice", sp.variable)
				}
				seen[sp.variable] = true
				specs = append(specs, sp)
			}
			ctx, cancel := signalContext(c)
			client, err := a.secretsClient(ctx, &cf)
			if err != nil {
				cancel()
				return err
			}
			env := os.Environ()
			for _, sp := range specs {
				val, err := a.secretValue(ctx, client, sp.name, sp.field)
				if err != nil {
					client.Close()
					cancel()
					return err
				}
				if bytes.IndexByte(val, 0) >= 0 {
					client.Close()
					cancel()
					return failf("secret %s: the value holds a NUL byte and cannot go into an environment variable", sp.name)
				}
				env = append(env, sp.variable+"="+string(val))
			}
			client.Close()
			cancel() // the child gets the signals from here on
			return a.execChild(args, env)
		},
	}
	a.registerCloudFlags(c.Flags(), &cf)
	c.Flags().StringArrayVar(&envFlags, "env", nil, "set `VAR=NAME[:FIELD]` in the child's environment: secret NAME, or one FIELD of a JSON secret (repeatable)")
	return c
}

// execChild runs the child with env and returns its exit status.
func (a *app) execChild(args []string, env []string) error {
	path, err := exec.LookPath(args[0])
	if err != nil {
		return &exitError{code: 127, msg: fmt.Sprintf("secret exec: %v", err)}
	}
	cmd := exec.Command(path, args[1:]...)
	cmd.Args[0] = args[0] // the child sees the name it was given
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = a.stdin, a.stdout, a.stderr
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return &exitError{code: 126, msg: fmt.Sprintf("secret exec: %v", err)}
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				_ = cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return &exitError{code: 128 + int(ws.Signal())}
		}
		return &exitError{code: ee.ExitCode()}
	}
	return failf("secret exec: %v", err)
}
