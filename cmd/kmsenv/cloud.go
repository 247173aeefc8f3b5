package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kmsenvelope/kmsenvelope"
	"github.com/kmsenvelope/kmsenvelope/envelope"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/secrets"
)

// Environment variables that give the shared flags their defaults.
const (
	envRegion             = "ALIBABA_CLOUD_REGION_ID" // the aliyun CLI's variable
	envEndpoint           = "KMSENV_ENDPOINT"
	envManagementEndpoint = "KMSENV_MANAGEMENT_ENDPOINT"
	envCAFile             = "KMSENV_CA_FILE"
)

// maxCAFile bounds a --ca-file bundle.
const maxCAFile = 1 << 20

// cloudFlags are the flags every command that talks to KMS shares.
type cloudFlags struct {
	region, endpoint, mgmtEndpoint, caFile string
	stsEndpoint                            string
	instanceGateway                        bool
}

func (a *app) registerCloudFlags(fs *pflag.FlagSet, cf *cloudFlags) {
	fs.StringVar(&cf.region, "region", a.getenv(envRegion), "KMS `REGION`, e.g. cn-hangzhou (default $"+envRegion+")")
	fs.StringVar(&cf.endpoint, "endpoint", a.getenv(envEndpoint), "KMS endpoint `HOST[:PORT]` or URL (default $"+envEndpoint+", else kms.<region>.aliyuncs.com); may be a KMS instance gateway")
	fs.StringVar(&cf.mgmtEndpoint, "management-endpoint", a.getenv(envManagementEndpoint), "endpoint `HOST[:PORT]` or URL of management calls and ReEncrypt when --endpoint is a KMS instance gateway (default $"+envManagementEndpoint+")")
	fs.StringVar(&cf.caFile, "ca-file", a.getenv(envCAFile), "PEM `FILE` of the CA that signs the endpoint's certificate (a KMS instance's private CA; default $"+envCAFile+")")
	fs.BoolVar(&cf.instanceGateway, "instance-gateway", false, "--endpoint is a KMS instance gateway whatever its host name")
	fs.StringVar(&cf.stsEndpoint, "sts-endpoint", "", "endpoint `HOST[:PORT]` or URL of STS and RAM (default sts.aliyuncs.com and ram.aliyuncs.com, or --endpoint when it is a loopback address)")
}

// config is the part of a kmsenvelope.Config the shared flags set.
// Credentials come from the library's default chain
// (kmsclient.DefaultCredentials: ALIBABA_CLOUD_* variables, RRSA, the aliyun
// CLI profile, the ECS RAM role, ...).
func (a *app) config(cf *cloudFlags) (kmsenvelope.Config, error) {
	if cf.region == "" {
		return kmsenvelope.Config{}, usagef("missing --region (or $%s)", envRegion)
	}
	cfg := kmsenvelope.Config{
		Region:             cf.region,
		Endpoint:           cf.endpoint,
		ManagementEndpoint: cf.mgmtEndpoint,
		Credentials:        kmsclient.DefaultCredentials(),
		Secrets:            secrets.Config{RefreshAhead: -1}, // one-shot process: no refresher
	}
	if cf.caFile != "" {
		pem, err := a.readInput(cf.caFile, maxCAFile)
		if err != nil {
			return cfg, err
		}
		pool, err := kmsclient.CertPoolFromPEM(pem)
		if err != nil {
			return cfg, &inputError{Path: cf.caFile, Err: err}
		}
		cfg.RootCAs = pool
	}
	if cf.instanceGateway || cf.stsEndpoint != "" {
		gw, sts := cf.instanceGateway, cf.stsEndpoint
		cfg.KMS = func(k *kmsclient.Config) {
			k.InstanceGateway = k.InstanceGateway || gw
			if sts != "" {
				k.STSEndpoint, k.RAMEndpoint = sts, sts
			}
		}
	}
	return cfg, nil
}

// newClient builds a root client; a configuration error is a usage error.
func (a *app) newClient(ctx context.Context, cfg kmsenvelope.Config) (*kmsenvelope.Client, error) {
	c, err := kmsenvelope.New(ctx, cfg)
	if err != nil {
		if errors.Is(err, kmsenvelope.ErrInvalidConfig) {
			return nil, usagef("%v", err)
		}
		return nil, failf("%v", err)
	}
	return c, nil
}

// signalContext is cancelled by SIGINT or SIGTERM, so that KMS calls in
// flight stop and no output file is left behind.
func signalContext(c *cobra.Command) (context.Context, context.CancelFunc) {
	parent := c.Context()
	if parent == nil {
		parent = context.Background()
	}
	return signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
}

// parseECFlags parses repeatable --context k=v flags into an encryption
// context (a key given twice is an error: a context maps a key to one value).
func parseECFlags(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	ec := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("--context %q: expected KEY=VALUE", kv)
		}
		if _, dup := ec[k]; dup {
			return nil, usagef("--context %s is given twice", k)
		}
		ec[k] = v
	}
	return ec, nil
}

// trustFlags are the key-trust flags of decrypt and rewrap, as
// envelope.Config defines key trust: strict (the --key-id and the
// --allowed-key patterns) or discovery (--discovery-account).
type trustFlags struct {
	allowed   []string
	discovery []string
}

func (tf *trustFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&tf.allowed, "allowed-key", nil, "also trust keys whose ARN matches `PATTERN` (RAM wildcards, e.g. acs:kms:*:1234567890123456:*; repeatable)")
	fs.StringArrayVar(&tf.discovery, "discovery-account", nil, "discovery: trust any key of `ACCOUNT` that KMS unwraps for the caller (account id, or * for any; repeatable)")
}

// apply sets key trust on an envelope configuration.
func (tf *trustFlags) apply(ec *envelope.Config) {
	ec.AllowedKeys = append(ec.AllowedKeys, tf.allowed...)
	if len(tf.discovery) > 0 {
		ec.Discovery = &envelope.DiscoveryFilter{Accounts: append([]string(nil), tf.discovery...)}
	}
}

// discoveryKey picks, for discovery without --key-id, the first wrapped key
// of a header whose account the filter admits; the client is then built on
// it. The library checks again, after KMS unwraps, that KMS used that key.
func (tf *trustFlags) discoveryKey(h *envelope.Header) (string, bool) {
	for _, wk := range h.WrappedKeys {
		acct := arnAccount(wk.KeyARN)
		for _, d := range tf.discovery {
			if d == "*" || (acct != "" && d == acct) {
				return wk.KeyARN, true
			}
		}
	}
	return "", false
}

// arnAccount is the account of acs:kms:<region>:<account>:key/<id>.
func arnAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 5)
	if len(parts) != 5 || parts[0] != "acs" || parts[1] != "kms" || !strings.HasPrefix(parts[4], "key/") {
		return ""
	}
	return parts[3]
}

// contextFlags are the encryption-context requirement of decrypt and
// rewrap: the pairs a message must carry (--context), or an explicit
// --no-context-check.
type contextFlags struct {
	pairs   []string
	noCheck bool
}

func (cx *contextFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&cx.pairs, "context", nil, "require the encryption context pair `KEY=VALUE` of every message (repeatable; the message may have more pairs). Required unless --no-context-check")
	fs.BoolVar(&cx.noCheck, "no-context-check", false, "accept messages whatever their encryption context (instead of --context)")
}

// options returns the decrypt options the flags ask for; without
// --context, --no-context-check must be given (so that a message made for
// another tenant or purpose is never accepted by omission).
func (cx *contextFlags) options(cmd string) ([]envelope.DecryptOption, map[string]string, error) {
	ec, err := parseECFlags(cx.pairs)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case len(ec) == 0 && !cx.noCheck:
		return nil, nil, usagef("%s: missing --context KEY=VALUE (the encryption context every message must carry), or --no-context-check to accept any", cmd)
	case len(ec) > 0 && cx.noCheck:
		return nil, nil, usagef("%s: --context and --no-context-check exclude each other", cmd)
	case len(ec) == 0:
		return nil, nil, nil
	}
	return []envelope.DecryptOption{envelope.RequireContext(ec)}, ec, nil
}

// describe renders an error for the user; the library's errors never hold
// plaintext, key bytes or context values.
func describe(err error) string {
	return err.Error()
}

// exitFor is the exit status of a failed file operation: 2 when the input
// could not be read, 1 for everything else (tampering, a refusal, KMS).
func exitFor(err error) int {
	var ie *inputError
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ie):
		return exitUsage
	}
	return exitFail
}

// quoteHint is an error message hint for common failures.
func hint(err error) string {
	switch {
	case errors.Is(err, envelope.ErrContextMismatch):
		return " (the message's encryption context lacks a required --context pair)"
	case errors.Is(err, envelope.ErrNoUsableKey):
		return " (trust the message's key with --key-id, --allowed-key or --discovery-account)"
	case errors.Is(err, kmsclient.ErrAccessDenied):
		return " (run 'kmsenv preflight' to see what is missing)"
	}
	return ""
}
