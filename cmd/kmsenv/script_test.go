package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kmsenvelope/kmsenvelope/kmstest"
)

// TestMain makes the test binary serve as kmsenv (and expect-exit) for the
// scripts of testdata/script, as age's tests do.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"kmsenv":      func() { os.Exit(runMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)) },
		"expect-exit": expectExit,
	})
}

// expectExit runs "expect-exit N COMMAND ARGS..." and succeeds only when
// COMMAND exits with status N (testscript's "!" accepts any failure).
func expectExit() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: expect-exit N COMMAND [ARG]...")
		os.Exit(2)
	}
	want, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "expect-exit: bad status", os.Args[1])
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[2], os.Args[3:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	got := 0
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			fmt.Fprintln(os.Stderr, "expect-exit:", err)
			os.Exit(2)
		}
		got = ee.ExitCode()
	}
	if got != want {
		fmt.Fprintf(os.Stderr, "expect-exit: %s exited with status %d, want %d\n", os.Args[2], got, want)
		os.Exit(1)
	}
	os.Exit(0)
}

const serverKey = "kmstest.server"

// TestScripts runs the user-visible behaviour of kmsenv as a shell session
// would, one emulator per script: $KMSENV_ENDPOINT, the region and an access
// key in ALIBABA_CLOUD_* point kmsenv at it through the library's
// credential chain.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			srv, err := kmstest.New()
			if err != nil {
				return err
			}
			e.Defer(func() { srv.Close() })
			cred := srv.AddUser(srv.DefaultAccount(), "app")
			setKMSEnv(e.Setenv, srv, cred)
			e.Setenv("ACCOUNT", srv.DefaultAccount())
			e.Setenv("PRINCIPAL", cred.Principal)
			e.Values[serverKey] = srv
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// kms-key VAR: create a key; $VAR is its id, $VAR_ARN its ARN
			"kms-key": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: kms-key VAR")
				}
				srv := ts.Value(serverKey).(*kmstest.Server)
				id, arn, err := srv.CreateKey(srv.DefaultAccount(), kmstest.KeyOptions{})
				ts.Check(err)
				ts.Setenv(args[0], id)
				ts.Setenv(args[0]+"_ARN", arn)
			},
			// kms-secret NAME VALUE [KEY_ID]: create a secret (under KEY_ID)
			"kms-secret": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 && len(args) != 3 {
					ts.Fatalf("usage: kms-secret NAME VALUE [KEY_ID]")
				}
				var o kmstest.SecretOptions
				if len(args) == 3 {
					o.EncryptionKeyID = args[2]
				}
				srv := ts.Value(serverKey).(*kmstest.Server)
				_, err := srv.CreateSecret(srv.DefaultAccount(), args[0], []byte(args[1]), o)
				ts.Check(err)
			},
			// kms-policy FILE: attach FILE as the user's RAM policy "app"
			// (replacing the last one) and enforce policies
			"kms-policy": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: kms-policy FILE")
				}
				srv := ts.Value(serverKey).(*kmstest.Server)
				doc := ts.ReadFile(args[0])
				ts.Check(srv.AttachPolicy(ts.Getenv("PRINCIPAL"), "app", doc))
				srv.EnforcePolicies()
			},
			// kms-deny ACTION: KMS refuses ACTION to the script's user
			"kms-deny": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: kms-deny ACTION")
				}
				ts.Value(serverKey).(*kmstest.Server).Deny(ts.Getenv("PRINCIPAL"), args[0])
			},
			// randfile FILE SIZE: SIZE random bytes
			"randfile": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: randfile FILE SIZE")
				}
				n, err := strconv.Atoi(args[1])
				ts.Check(err)
				b := make([]byte, n)
				_, _ = rand.Read(b)
				ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o600))
			},
			// flipbyte FILE N: flip a bit of the byte N bytes before the end
			"flipbyte": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: flipbyte FILE N")
				}
				n, err := strconv.Atoi(args[1])
				ts.Check(err)
				p := ts.MkAbs(args[0])
				b, err := os.ReadFile(p)
				ts.Check(err)
				if n < 1 || n > len(b) {
					ts.Fatalf("flipbyte: %s has %d bytes", args[0], len(b))
				}
				b[len(b)-n] ^= 1
				ts.Check(os.WriteFile(p, b, 0o600))
			},
		},
	})
}
