package kmsenvelope

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/kmsenvelope/kmsenvelope/internal/guard"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/localauthz"
	"github.com/kmsenvelope/kmsenvelope/secrets"
)

// ErrInvalidConfig is what every configuration error [New] returns unwraps
// to: a [*ConfigError] for a field of [Config], a *kmsclient.ConfigError
// (Region, Endpoint and what Config.KMS sets) or a *secrets.ConfigError
// (Config.Secrets). It is the one sentinel of the module for an invalid
// configuration (kmsclient.ErrInvalidConfig and secrets.ErrInvalidConfig
// are the same value).
var ErrInvalidConfig = kmsclient.ErrInvalidConfig

// DeniedError is the error of a KMS call refused locally by policy
// ([PolicyEnforce]) before any request was sent. Report is the preflight
// report of the call: each (action, resource) it needs, the decision, and
// the statement that would grant what is missing. It unwraps to
// kmsclient.ErrAccessDenied, so code that handles KMS's own denials handles
// it too; errors.As with a *DeniedError tells the two apart.
type DeniedError = guard.DeniedError

// ConfigError reports an invalid field of [Config]. It unwraps to
// [ErrInvalidConfig] and, when a sub-package's check found the problem, to
// that package's error too (secrets.ErrInvalidName for a bad entry of
// Config.SecretNames, say).
type ConfigError struct {
	// Field is the path of the field in Config, e.g. "PolicyMode",
	// "SecretNames[2]" or "Cache.Capacity".
	Field string
	// Reason says what is wrong with it.
	Reason string
	// Err is the underlying error, if any.
	Err error
}

func (e *ConfigError) Error() string {
	return "kmsenvelope: invalid config: Config." + e.Field + " " + e.Reason
}

// Unwrap returns [ErrInvalidConfig] and Err, if set.
func (e *ConfigError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalidConfig, e.Err}
	}
	return []error{ErrInvalidConfig}
}

// Values returns every valid PolicyMode, in order. [New] rejects any other
// value with a [*ConfigError] naming Config.PolicyMode.
func (PolicyMode) Values() []PolicyMode { return []PolicyMode{PolicyOff, PolicyWarn, PolicyEnforce} }

// valid reports whether m is one of Values.
func (m PolicyMode) valid() bool { return m >= PolicyOff && m <= PolicyEnforce }

// validate checks what New can check before it builds anything, so that a
// wrong value fails with a *ConfigError naming the field instead of being
// read as some other value (an unknown PolicyMode used to behave as
// Enforce) or failing later with an untyped error. Fields checked by
// kmsclient (Region, Endpoint, ...) and secrets (Config.Secrets) are left to
// them; their errors unwrap to ErrInvalidConfig too.
func (cfg *Config) validate() error {
	if !cfg.PolicyMode.valid() {
		modes := make([]string, 0, 3)
		for _, m := range cfg.PolicyMode.Values() {
			modes = append(modes, m.String())
		}
		return &ConfigError{Field: "PolicyMode", Reason: "is PolicyMode(" + strconv.Itoa(int(cfg.PolicyMode)) +
			"), not one of " + strings.Join(modes, ", ")}
	}
	if cfg.PolicyMode != PolicyOff && len(cfg.Policies) == 0 && !cfg.LivePolicies {
		return &ConfigError{Field: "Policies", Reason: "is empty and LivePolicies is false: policy mode " +
			cfg.PolicyMode.String() + " needs policies to check against"}
	}
	for i, p := range cfg.Policies {
		switch p.Kind {
		case localauthz.RAMPolicy, localauthz.KeyPolicy, localauthz.SecretPolicy:
		default:
			return &ConfigError{Field: fmt.Sprintf("Policies[%d].Kind", i),
				Reason: "is " + strconv.Quote(string(p.Kind)) + ", not localauthz.RAMPolicy, KeyPolicy or SecretPolicy"}
		}
		// Parsed again when New loads the policies; a document that does
		// not parse is a configuration error, and is reported as one.
		if _, err := localauthz.ParsePolicy(p.Document, p.Kind); err != nil {
			return &ConfigError{Field: fmt.Sprintf("Policies[%d].Document", i), Reason: "does not parse: " + err.Error(), Err: err}
		}
	}
	if cfg.Principal != "" && guard.AccountOf(cfg.Principal) == "" {
		// Local checks need the account (acs:ram::<account>:user/<name>,
		// acs:ram::<account>:role/<name>, acs:sts::<account>:assumed-role/...).
		return &ConfigError{Field: "Principal", Reason: "is " + strconv.QuoteToASCII(cfg.Principal) +
			", not a principal ARN with an account (acs:ram::<account>:user/<name>, ...)"}
	}
	for i, name := range cfg.SecretNames {
		if err := secrets.CheckName(name); err != nil {
			return &ConfigError{Field: fmt.Sprintf("SecretNames[%d]", i), Reason: "is not a secret name: " +
				strings.TrimPrefix(err.Error(), secrets.ErrInvalidName.Error()+": "), Err: err}
		}
	}
	switch {
	case cfg.Cache.Capacity < 0:
		return &ConfigError{Field: "Cache.Capacity", Reason: "must not be negative"}
	case cfg.Cache.MaxAge < 0:
		return &ConfigError{Field: "Cache.MaxAge", Reason: "must not be negative"}
	case cfg.Cache.FetchTimeout < 0:
		return &ConfigError{Field: "Cache.FetchTimeout", Reason: "must not be negative"}
	case cfg.MaxPolicyAge < 0:
		return &ConfigError{Field: "MaxPolicyAge", Reason: "must not be negative (zero means 3 × PolicyRefresh)"}
	}
	return nil
}

// declared returns the resources the Client is configured to use, for
// guard.Config.DeclaredKeys and DeclaredSecrets: calls on them are counted
// exactly in Stats.Calls, while calls on resources that come from input
// (message headers, secret names) share a bounded table.
func (cfg *Config) declared() (keys, secretNames []string) {
	if cfg.KeyID != "" {
		keys = []string{cfg.KeyID}
	}
	return keys, cfg.SecretNames
}

// sortCallCounts orders Stats.Calls most frequent first, keeping the order
// of equal counts.
func sortCallCounts(cc []CallCount) {
	sort.SliceStable(cc, func(i, j int) bool { return cc[i].Count > cc[j].Count })
}

// checkOpen returns an error matching ErrClosed, naming op, once Close has
// been called, and nil before: for methods that would otherwise work on
// after Close from what the Client already holds (Preflight's local
// checks) or reach KMS through Client.KMS.
func (c *Client) checkOpen(op string) error {
	if c.guard.Closed() {
		return fmt.Errorf("kmsenvelope: %s: %w", op, ErrClosed)
	}
	return nil
}
