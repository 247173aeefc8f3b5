package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
)

const emulatorSeed = "testdata/emulator-seed.yaml"

// lockedBuffer is a bytes.Buffer safe for the emulator's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runningEmulator is kmsenv emulator run in process until stop.
type runningEmulator struct {
	env    map[string]string
	stderr *lockedBuffer
	stop   func() int // cancels, as SIGINT would, and returns the exit code
}

func startEmulator(t *testing.T, args ...string) *runningEmulator {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	errb := &lockedBuffer{}
	a := &app{stdin: strings.NewReader(""), stdout: pw, stderr: errb, getenv: func(string) string { return "" }}
	root := a.rootCommand()
	root.SetArgs(append([]string{"emulator"}, args...))
	root.SetOut(pw)
	root.SetErr(errb)
	done := make(chan error, 1)
	go func() {
		err := root.ExecuteContext(ctx)
		pw.Close()
		done <- err
	}()
	env := map[string]string{}
	sc := bufio.NewScanner(pr)
	ready := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# kmsenv emulator ready") {
			ready = true
			break
		}
		k, v, ok := strings.Cut(line, "=")
		require.Truef(t, ok, "not an environment line: %q", line)
		env[k] = strings.Trim(v, "'")
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if !ready {
		cancel()
		err := <-done
		t.Fatalf("emulator did not start: %v; stderr: %s", err, errb.String())
	}
	var once sync.Once
	code := 0
	stop := func() int {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				code = exitCodeOf(err)
			case <-time.After(10 * time.Second):
				t.Fatal("emulator did not stop")
			}
		})
		return code
	}
	t.Cleanup(func() { stop() })
	return &runningEmulator{env: env, stderr: errb, stop: stop}
}

func exitCodeOf(err error) int {
	if err == nil {
		return exitOK
	}
	if ee, ok := err.(*exitError); ok {
		return ee.code
	}
	return exitUsage
}

// kmsenv runs a kmsenv command with the emulator's environment.
func (e *runningEmulator) kmsenv(stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	getenv := func(k string) string { return e.env[k] }
	code = runMain(args, strings.NewReader(stdin), &out, &errb, getenv)
	return code, out.String(), errb.String()
}

func TestEmulatorServesKmsenvAndSavesState(t *testing.T) {
	dir := t.TempDir()
	save := filepath.Join(dir, "state.yaml")
	ca := filepath.Join(dir, "ca.pem")
	e := startEmulator(t, "--seed", emulatorSeed, "--enforce", "--save", save, "--tls", "--ca-out", ca,
		"--credential", "LTAIemulatorApp00001")

	assert.Equal(t, "LTAIemulatorApp00001", e.env["ALIBABA_CLOUD_ACCESS_KEY_ID"])
	assert.Equal(t, "emulatorAppSecret0000000000001", e.env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"])
	assert.Equal(t, "cn-hangzhou", e.env["ALIBABA_CLOUD_REGION_ID"])
	assert.Equal(t, "HTTPS", e.env["KMS_PROTOCOL"])
	assert.Equal(t, "https://"+e.env["KMS_ENDPOINT"], e.env["KMSENV_ENDPOINT"])
	assert.Equal(t, ca, e.env["KMSENV_CA_FILE"])
	pem, err := os.ReadFile(ca)
	require.NoError(t, err)
	assert.Contains(t, string(pem), "BEGIN CERTIFICATE")

	// The environment lines point the library's default credential chain
	// (the ALIBABA_CLOUD_* variables are read from the process
	// environment) at the emulator.
	for k, v := range e.env {
		t.Setenv(k, v)
	}
	code, out, errOut := e.kmsenv("", "secret", "get", "app/db-password")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "correct-horse-battery-staple", out)

	code, _, errOut = e.kmsenv("", "secret", "get", "ops/backup-passphrase")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "Forbidden.NoPermission", "the app's policy grants app/* only")

	plain := filepath.Join(dir, "msg.txt")
	require.NoError(t, os.WriteFile(plain, []byte("hello emulator"), 0o600))
	code, _, errOut = e.kmsenv("", "encrypt", "--key-id", "alias/app", "--context", "purpose=test", plain)
	require.Equal(t, 0, code, errOut)

	assert.Equal(t, 0, e.stop(), e.stderr.String())
	logs := e.stderr.String()
	assert.Contains(t, logs, `"GetSecretValue" principal=acs:ram::1234567890123456:user/app signature=1.0 status=200 decision=allowed`)
	assert.Contains(t, logs, "decision=denied code=Forbidden.NoPermission")
	assert.Contains(t, logs, "state saved to "+save)
	for _, secret := range []string{"correct-horse-battery-staple", "not-for-the-app", "emulatorAppSecret0000000000001", "hello emulator"} {
		assert.NotContains(t, logs, secret)
	}

	info, err := os.Stat(save)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	// A new emulator on the saved state decrypts what the first encrypted.
	require.NoError(t, os.Remove(plain))
	e2 := startEmulator(t, "--seed", save, "--enforce", "--credential", "LTAIemulatorApp00001")
	for k, v := range e2.env {
		t.Setenv(k, v)
	}
	code, _, errOut = e2.kmsenv("", "decrypt", "--key-id", "alias/app", "--context", "purpose=test", plain+".kmsenv")
	require.Equal(t, 0, code, errOut)
	got, err := os.ReadFile(plain)
	require.NoError(t, err)
	assert.Equal(t, "hello emulator", string(got))
}

func TestEmulatorCertificateNames(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	e := startEmulator(t, "--tls", "--ca-out", ca, "--tls-name", "emulator.test", "--quiet")
	pem, err := os.ReadFile(ca)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pem))
	for _, name := range []string{"emulator.test", "localhost", "127.0.0.1"} {
		conn, err := tls.Dial("tcp", e.env["KMS_ENDPOINT"], &tls.Config{RootCAs: pool, ServerName: name})
		require.NoError(t, err, name)
		require.NoError(t, conn.Close())
	}
	_, err = tls.Dial("tcp", e.env["KMS_ENDPOINT"], &tls.Config{RootCAs: pool, ServerName: "other.test"})
	assert.Error(t, err)
}

func TestEmulatorWithoutSeedPrintsARootKey(t *testing.T) {
	e := startEmulator(t, "--export", "--quiet")
	require.Contains(t, e.env, "export ALIBABA_CLOUD_ACCESS_KEY_ID")
	assert.Equal(t, "HTTP", e.env["export KMS_PROTOCOL"])
	assert.Equal(t, 0, e.stop())
	assert.NotContains(t, e.stderr.String(), "principal=", "--quiet logs no request")
}

func TestEmulatorUsageErrors(t *testing.T) {
	dir := t.TempDir()
	badSeed := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(badSeed, []byte("accounts:\n- id: \"1\"\n  keys: [{state: Sleeping}]\n"), 0o600))
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"every interface", []string{"--listen", ":8080"}, 2, "not a loopback address"},
		{"a LAN address", []string{"--listen", "192.0.2.1:0"}, 2, "--allow-non-loopback"},
		{"a host name", []string{"--listen", "example.com:0"}, 2, "not a loopback address"},
		{"no port", []string{"--listen", "127.0.0.1"}, 2, "want HOST:PORT"},
		{"tls without ca-out", []string{"--tls"}, 2, "--tls needs --ca-out"},
		{"ca-out without tls", []string{"--ca-out", filepath.Join(dir, "ca.pem")}, 2, "only for --tls"},
		{"missing seed", []string{"--seed", filepath.Join(dir, "none.yaml")}, 2, "no such file"},
		{"invalid seed", []string{"--seed", badSeed}, 2, "accounts[0].keys[0].state"},
		{"unknown credential", []string{"--seed", emulatorSeed, "--credential", "LTAInone"}, 2, `--credential "LTAInone"`},
		{"bad region", []string{"--region", "Mars"}, 2, `--region "Mars"`},
		{"bad max skew", []string{"--max-skew", "0s"}, 2, "--max-skew must be positive"},
		{"save into a missing directory", []string{"--save", filepath.Join(dir, "none", "state.yaml")}, 2, "its directory does not exist"},
		{"tls-name without tls", []string{"--tls-name", "emulator.test"}, 2, "--tls-name is only for --tls"},
		{"argument", []string{"extra"}, 2, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(append([]string{"emulator"}, tt.args...)...)
			assert.Equal(t, tt.code, code, errOut)
			assert.Contains(t, errOut, tt.msg)
			assert.Empty(t, out, "nothing is printed before the server is ready")
		})
	}
}

func TestCheckListen(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:0", "127.0.0.2:8080", "[::1]:0", "localhost:0"} {
		_, err := checkListen(ok, false)
		assert.NoError(t, err, ok)
	}
	for _, bad := range []string{"0.0.0.0:0", "[::]:0", ":0", "10.0.0.1:0", "host:0"} {
		_, err := checkListen(bad, false)
		assert.Error(t, err, bad)
		_, err = checkListen(bad, true)
		assert.NoError(t, err, bad+" with --allow-non-loopback")
	}
}

func TestShellQuote(t *testing.T) {
	tests := map[string]string{
		"LTAIabc":              "LTAIabc",
		"https://127.0.0.1:80": "https://127.0.0.1:80",
		"/tmp/a b/ca.pem":      "'/tmp/a b/ca.pem'",
		"it's":                 `'it'\''s'`,
		"":                     "''",
		"$(rm -rf /)":          "'$(rm -rf /)'",
	}
	for in, want := range tests {
		assert.Equal(t, want, shellQuote(in), in)
	}
}

func TestFormatRecordHasNoValues(t *testing.T) {
	line := formatRecord(testkms.RequestRecord{Method: "POST", Action: "Decrypt", Signature: "ACS3-HMAC-SHA256",
		Principal: "acs:ram::1:user/app", Status: 400, Code: "InvalidCiphertext", Decision: testkms.DecisionError, Duration: time.Millisecond})
	assert.Equal(t, `POST "Decrypt" principal=acs:ram::1:user/app signature=ACS3-HMAC-SHA256 status=400 decision=error code=InvalidCiphertext in 1ms`, line)
	line = formatRecord(testkms.RequestRecord{Method: "GET", Status: 400, Decision: testkms.DecisionUnauthenticated})
	assert.Equal(t, `GET "-" principal=- signature=- status=400 decision=unauthenticated in 0s`, line)
}
