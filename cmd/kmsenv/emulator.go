package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
)

// maxSeedFile bounds a --seed file: far above any hand-written seed, small
// enough that a wrong argument fails at once.
const maxSeedFile = 16 << 20

// emulatorFlags are the flags of kmsenv emulator.
type emulatorFlags struct {
	listen           string
	allowNonLoopback bool
	tls              bool
	caOut            string
	tlsNames         []string
	seed             string
	save             string
	enforce          bool
	region           string
	credential       string
	maxSkew          time.Duration
	clockOffset      time.Duration
	export           bool
	quiet            bool
}

func (a *app) emulatorCommand() *cobra.Command {
	var f emulatorFlags
	c := &cobra.Command{
		Use:   "emulator",
		Short: "Run the KMS emulator as a server for other processes and languages",
		Long: `emulator serves the KMS emulator (KMS, STS GetCallerIdentity and the RAM read
calls) on loopback for any Alibaba Cloud SDK: signature v1 (HMAC-SHA1 RPC) and
v3 (ACS3-HMAC-SHA256), over HTTP or, with --tls, HTTPS under a CA it generates.

It prints the endpoint and a credential as environment lines on stdout (for
eval, or set -a; . FILE), ending with a "# kmsenv emulator ready" line, then
logs one line per request (action, principal, signature, status, decision;
never a parameter value) on stderr until SIGINT or SIGTERM, when it stops,
writes --save and exits 0.

State comes from --seed (JSON or YAML; see the seed file schema in the
package documentation and cmd/kmsenv/testdata/emulator-seed.yaml). The
printed credential is --credential, else the seed's first enabled access key,
else a new root access key of account 1234567890123456. With --enforce the
RAM, key and secret policies decide every call; without it every
authenticated call is allowed.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return a.runEmulator(c, &f) },
	}
	fs := c.Flags()
	fs.StringVar(&f.listen, "listen", "127.0.0.1:0", "`ADDR` to listen on, HOST:PORT (port 0 picks a free one)")
	fs.BoolVar(&f.allowNonLoopback, "allow-non-loopback", false, "allow a --listen address beyond loopback (the emulator is not hardened; trusted networks only)")
	fs.BoolVar(&f.tls, "tls", false, "serve HTTPS with a certificate from a generated CA (needs --ca-out)")
	fs.StringVar(&f.caOut, "ca-out", "", "write the generated CA certificate (PEM) to `FILE`, for the clients to trust")
	fs.StringSliceVar(&f.tlsNames, "tls-name", nil, "one more DNS `NAME` or IP address for the certificate, beyond 127.0.0.1, ::1, localhost and the --listen host (repeatable)")
	fs.StringVar(&f.seed, "seed", "", "load accounts, credentials, policies, keys and secrets from `FILE` (JSON or YAML)")
	fs.StringVar(&f.save, "save", "", "write the state to `FILE` on exit (YAML, or JSON for a .json name; mode 0600: it holds key material and secrets)")
	fs.BoolVar(&f.enforce, "enforce", false, "enforce RAM, key and secret policies (default: allow every authenticated call)")
	fs.StringVar(&f.region, "region", testkms.DefaultRegion, "the emulator's `REGION`: where seeded resources without a region live, and the region of requests without RegionId")
	fs.StringVar(&f.credential, "credential", "", "print the credential of this `ACCESS_KEY_ID` (from --seed)")
	fs.DurationVar(&f.maxSkew, "max-skew", 15*time.Minute, "how far a request's time may be from the emulator's clock")
	fs.DurationVar(&f.clockOffset, "clock-offset", 0, "shift the emulator's clock by `DURATION` (e.g. 1h), to see how clients handle a refused stale request")
	fs.BoolVar(&f.export, "export", false, `prefix each environment line with "export "`)
	fs.BoolVar(&f.quiet, "quiet", false, "do not log requests")
	return c
}

// emulatorRegion is the shape of a region id the emulator accepts.
var emulatorRegion = regexp.MustCompile(`^[a-z]{2,}(-[a-z0-9]+)+$`)

// checkListen refuses an address beyond loopback unless allowed: an empty
// host (every interface), an unspecified or non-loopback IP, or a name
// other than localhost.
func checkListen(addr string, allow bool) (host string, err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", usagef("--listen %q: %v (want HOST:PORT, e.g. 127.0.0.1:8443)", addr, err)
	}
	if port == "" {
		return "", usagef("--listen %q: missing port (0 picks a free one)", addr)
	}
	if allow {
		return host, nil
	}
	ip := net.ParseIP(host)
	if host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return host, nil
	}
	return "", usagef("--listen %q is not a loopback address; the emulator is not hardened, so add --allow-non-loopback to serve beyond this machine", addr)
}

func (a *app) runEmulator(c *cobra.Command, f *emulatorFlags) error {
	host, err := checkListen(f.listen, f.allowNonLoopback)
	if err != nil {
		return err
	}
	if f.tls && f.caOut == "" {
		return usagef("--tls needs --ca-out FILE: clients must be given the generated CA to trust")
	}
	if f.caOut != "" && !f.tls {
		return usagef("--ca-out is only for --tls")
	}
	if !emulatorRegion.MatchString(f.region) {
		return usagef("--region %q is not a region id like cn-hangzhou", f.region)
	}
	if f.maxSkew <= 0 {
		return usagef("--max-skew must be positive, got %s", f.maxSkew)
	}
	if f.save != "" {
		// Found out now rather than after a whole session.
		if st, err := os.Stat(filepath.Dir(f.save)); err != nil || !st.IsDir() {
			return usagef("--save %s: its directory does not exist", f.save)
		}
	}
	var seed *testkms.StateFile
	if f.seed != "" {
		data, err := a.readInput(f.seed, maxSeedFile)
		if err != nil {
			return err
		}
		if seed, err = testkms.ParseStateFile(data); err != nil {
			return usagef("--seed %s: %v", f.seed, strings.TrimPrefix(err.Error(), "testkms: "))
		}
	}

	logMu := sync.Mutex{}
	logLine := func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(a.stderr, "kmsenv emulator: "+format+"\n", args...)
	}
	offset := f.clockOffset
	opts := testkms.Options{
		TLS:     f.tls,
		Addr:    f.listen,
		Region:  f.region,
		MaxSkew: f.maxSkew,
		Now:     func() time.Time { return time.Now().Add(offset) },
	}
	if f.tls {
		if ip := net.ParseIP(host); host != "" && host != "localhost" && (ip == nil || !ip.IsUnspecified()) {
			opts.TLSHosts = append(opts.TLSHosts, host)
		}
		opts.TLSHosts = append(opts.TLSHosts, f.tlsNames...)
	} else if len(f.tlsNames) > 0 {
		return usagef("--tls-name is only for --tls")
	}
	if !f.quiet {
		opts.RequestLog = func(r testkms.RequestRecord) { logLine("%s", formatRecord(r)) }
	}
	srv, err := testkms.New(opts)
	if err != nil {
		return failf("%v", strings.TrimPrefix(err.Error(), "testkms: "))
	}
	defer srv.Close()
	if err := checkBound(srv.Endpoint(), f.allowNonLoopback); err != nil {
		return err
	}
	if seed != nil {
		if err := srv.LoadState(seed); err != nil {
			return usagef("--seed %s: %v", f.seed, strings.TrimPrefix(err.Error(), "testkms: "))
		}
	}
	if f.enforce {
		srv.EnforcePolicies()
	}
	cred, err := pickCredential(srv, seed, f.credential)
	if err != nil {
		return err
	}
	if f.caOut != "" {
		if err := writeFileAtomic(f.caOut, srv.CACertPEM(), 0o644); err != nil {
			return failf("--ca-out: %v", err)
		}
	}

	ctx, stop := signalContext(c)
	defer stop()
	a.printEnv(srv, cred, f)
	mode := "allowing every authenticated call"
	if f.enforce {
		mode = "enforcing policies"
	}
	logLine("serving %s (region %s, %s)", srv.URL(), srv.Region(), mode)
	<-ctx.Done()

	logLine("stopping")
	closeErr := srv.Close()
	if f.save != "" {
		st, err := srv.SaveState()
		if err != nil {
			return failf("--save: %v", err)
		}
		data, err := st.Marshal(strings.EqualFold(filepath.Ext(f.save), ".json"))
		if err != nil {
			return failf("--save: %v", err)
		}
		if err := writeFileAtomic(f.save, data, 0o600); err != nil {
			return failf("--save: %v", err)
		}
		logLine("state saved to %s", f.save)
	}
	if closeErr != nil {
		return failf("%v", closeErr)
	}
	return nil
}

// checkBound re-checks the address actually bound ("localhost" could
// resolve beyond loopback).
func checkBound(endpoint string, allow bool) error {
	if allow {
		return nil
	}
	host, _, err := net.SplitHostPort(endpoint)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return usagef("--listen resolved to %s, which is not a loopback address; add --allow-non-loopback to serve beyond this machine", endpoint)
	}
	return nil
}

// pickCredential chooses the credential to print: --credential, else the
// seed's first enabled access key (accounts in order: root keys, users'
// keys, role sessions), else a new root access key of the default account.
func pickCredential(srv *testkms.Server, seed *testkms.StateFile, want string) (testkms.Credential, error) {
	if seed == nil && want == "" {
		return srv.AddAccount(srv.DefaultAccount()), nil
	}
	// SaveState holds the generated session tokens too.
	st, err := srv.SaveState()
	if err != nil {
		return testkms.Credential{}, failf("%v", err)
	}
	var order []string
	if seed != nil {
		for _, a := range seed.Accounts {
			for _, k := range a.AccessKeys {
				order = append(order, k.ID)
			}
			for _, u := range a.Users {
				for _, k := range u.AccessKeys {
					order = append(order, k.ID)
				}
			}
			for _, r := range a.Roles {
				for _, s := range r.Sessions {
					order = append(order, s.AccessKeyID)
				}
			}
		}
	}
	creds := map[string]testkms.Credential{}
	disabled := map[string]bool{}
	for _, a := range st.Accounts {
		for _, k := range a.AccessKeys {
			creds[k.ID], disabled[k.ID] = testkms.Credential{AccessKeyID: k.ID, AccessKeySecret: k.Secret}, k.Disabled
		}
		for _, u := range a.Users {
			for _, k := range u.AccessKeys {
				creds[k.ID], disabled[k.ID] = testkms.Credential{AccessKeyID: k.ID, AccessKeySecret: k.Secret}, k.Disabled
			}
		}
		for _, r := range a.Roles {
			for _, s := range r.Sessions {
				creds[s.AccessKeyID] = testkms.Credential{AccessKeyID: s.AccessKeyID, AccessKeySecret: s.AccessKeySecret, SecurityToken: s.SecurityToken}
				disabled[s.AccessKeyID] = s.Disabled
			}
		}
	}
	if want != "" {
		c, ok := creds[want]
		if !ok {
			return testkms.Credential{}, usagef("--credential %q: no such access key in --seed", want)
		}
		return c, nil
	}
	for _, id := range order {
		if !disabled[id] {
			return creds[id], nil
		}
	}
	return srv.AddAccount(srv.DefaultAccount()), nil
}

// printEnv writes the environment lines clients need, then the ready line.
func (a *app) printEnv(srv *testkms.Server, cred testkms.Credential, f *emulatorFlags) {
	prefix := ""
	if f.export {
		prefix = "export "
	}
	var b strings.Builder
	line := func(k, v string) { fmt.Fprintf(&b, "%s%s=%s\n", prefix, k, shellQuote(v)) }
	line("ALIBABA_CLOUD_ACCESS_KEY_ID", cred.AccessKeyID)
	line("ALIBABA_CLOUD_ACCESS_KEY_SECRET", cred.AccessKeySecret)
	if cred.SecurityToken != "" {
		line("ALIBABA_CLOUD_SECURITY_TOKEN", cred.SecurityToken)
	}
	line("ALIBABA_CLOUD_REGION_ID", srv.Region())
	line("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	line("KMS_ENDPOINT", srv.Endpoint())
	line("KMS_PROTOCOL", srv.Scheme())
	line("KMSENV_ENDPOINT", srv.URL())
	if f.caOut != "" {
		abs, err := filepath.Abs(f.caOut)
		if err != nil {
			abs = f.caOut
		}
		line("KMS_CA_FILE", abs)
		line("KMSENV_CA_FILE", abs)
	}
	b.WriteString("# kmsenv emulator ready; stop it with SIGINT (Ctrl-C) or SIGTERM\n")
	_, _ = io.WriteString(a.stdout, b.String())
	if fl, ok := a.stdout.(interface{ Sync() error }); ok {
		_ = fl.Sync()
	}
}

// shellQuote quotes v for a POSIX shell when it has anything but safe
// characters.
func shellQuote(v string) string {
	safe := v != ""
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:/+=@,%", r)) {
			safe = false
			break
		}
	}
	if safe {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// formatRecord is one request log line. It holds no parameter value.
func formatRecord(r testkms.RequestRecord) string {
	principal := r.Principal
	if principal == "" {
		principal = "-"
	}
	action := r.Action
	if action == "" {
		action = "-"
	}
	sig := r.Signature
	if sig == "" {
		sig = "-"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q principal=%s signature=%s status=%d decision=%s", r.Method, action, principal, sig, r.Status, r.Decision)
	if r.Code != "" {
		fmt.Fprintf(&b, " code=%s", r.Code)
	}
	if r.Gateway != "" {
		fmt.Fprintf(&b, " gateway=%s", r.Gateway)
	}
	fmt.Fprintf(&b, " in %s", r.Duration.Round(time.Microsecond))
	return b.String()
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, renamed into place, so that a reader never sees half a file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			_ = os.Remove(name)
		}
	}()
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(name, path); err != nil {
		return err
	}
	ok = true
	return nil
}
