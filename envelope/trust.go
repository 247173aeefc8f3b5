package envelope

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// keyARN returns the ARN of the key KMS reported (keyID as KMS returned it),
// resolving it once per key with DescribeKey. If the configured name is
// already a key ARN it is used as is. If DescribeKey is not permitted the
// ARN is built without the account ("acs:kms:<region>::key/<id>").
func (c *Client) keyARN(ctx context.Context, k KMS, configured, keyID string) (string, error) {
	if isKeyARN(keyID) {
		return keyID, nil
	}
	if isKeyARN(configured) && strings.HasSuffix(configured, "/"+keyID) {
		return configured, nil
	}
	// Only a key this client wraps with (configured != "") is known to be in
	// Config.Account; a key a message names may be in any account.
	complete := func(arn string) string {
		if configured == "" || c.cfg.Account == "" {
			return arn
		}
		if region, account, id, ok := splitKeyARN(arn); ok && account == "" {
			return "acs:kms:" + region + ":" + c.cfg.Account + ":key/" + id
		}
		return arn
	}
	cacheKey := k.Region() + "\x00" + keyID
	if v, ok := c.arnCache.Load(cacheKey); ok {
		return complete(v.(string)), nil
	}
	md, err := k.DescribeKey(ctx, keyID)
	var arn string
	switch {
	case err == nil && isKeyARN(md.ARN):
		arn = md.ARN
	case err == nil || errors.Is(err, kmsclient.ErrAccessDenied):
		arn = "acs:kms:" + k.Region() + "::key/" + keyID
	default:
		return "", fmt.Errorf("envelope: describing key %s: %w", safeARN(keyID), err)
	}
	c.arnCache.Store(cacheKey, arn)
	return complete(arn), nil
}

func isKeyARN(s string) bool {
	_, _, id, ok := splitKeyARN(s)
	return ok && id != ""
}

// splitKeyARN splits acs:kms:<region>:<account>:key/<id> without
// allocating.
func splitKeyARN(arn string) (region, account, keyID string, ok bool) {
	rest, ok := strings.CutPrefix(arn, "acs:kms:")
	if !ok {
		return "", "", "", false
	}
	region, rest, ok1 := strings.Cut(rest, ":")
	account, rest, ok2 := strings.Cut(rest, ":")
	keyID, ok3 := strings.CutPrefix(rest, "key/")
	if !ok1 || !ok2 || !ok3 {
		return "", "", "", false
	}
	return region, account, keyID, true
}

// checkUnwrappingKey verifies that the key KMS used to unwrap (usedID, as
// KMS reports it) is the key the message names (named, its ARN), and
// returns that key's ARN as confirmed. The wrapped keys are outside the
// header tag, so without this an attacker could relabel a key of another
// account as a trusted one: KMS decrypts with the key inside the blob
// whatever the label says, and reports only its id. The true ARN comes from
// DescribeKey (cached per key). When DescribeKey is not permitted the
// account cannot be verified: the confirmed ARN then has no account, and
// the caller applies key trust to it again (see Client.unwrap), so trust
// that rests on the account part of the label is not granted.
func (c *Client) checkUnwrappingKey(ctx context.Context, k KMS, named, namedID, usedID string) (string, error) {
	if usedID != namedID && !strings.HasSuffix(usedID, "/"+namedID) {
		return "", errors.New("KMS unwrapped the data key with a different key than the message names")
	}
	actual, err := c.keyARN(ctx, k, "", usedID)
	if err != nil {
		return "", err
	}
	if actual == named {
		return named, nil
	}
	aRegion, aAccount, aID, _ := splitKeyARN(actual)
	nRegion, _, nID, _ := splitKeyARN(named)
	if aAccount == "" && aRegion == nRegion && aID == nID {
		return actual, nil
	}
	return "", fmt.Errorf("the message names key %s but KMS used %s", safeARN(named), safeARN(actual))
}

// Key trust. A wrapped key is used only if its ARN is trusted:
//
//   - it is one of Config.Keys (by ARN; by key id in that key's region and,
//     when Config.Account is set, that account; by alias, as the key the
//     alias named when this Client wrapped with it or resolved it), or
//   - it matches a Config.AllowedKeys pattern, or
//   - Config.Discovery is set and the ARN's account passes its filter;
//
// and, for one call, it matches every RequireKeys option.

// trusted reports whether the wrapped key arn may be used, with the reason
// when it may not. o may be nil.
func (c *Client) trusted(ctx context.Context, arn string, o *decryptOptions) (bool, string) {
	if o != nil && !o.keysAllowed(arn) {
		return false, "key not matched by RequireKeys"
	}
	if c.configuredKey(ctx, arn) || matchAny(c.cfg.AllowedKeys, arn) {
		return true, ""
	}
	if d := c.cfg.Discovery; d != nil {
		_, account, _, _ := splitKeyARN(arn)
		for _, a := range d.Accounts {
			if a == "*" || a == account && account != "" {
				return true, ""
			}
		}
		return false, "key's account not in Config.Discovery.Accounts"
	}
	return false, "key is not one of Config.Keys or Config.AllowedKeys (strict key trust; see Config.Discovery)"
}

// configuredKey reports whether arn is one of Config.Keys.
func (c *Client) configuredKey(ctx context.Context, arn string) bool {
	region, account, id, ok := splitKeyARN(arn)
	if !ok {
		return false
	}
	if _, ok := c.learned.Load(arn); ok {
		return true
	}
	for _, k := range c.cfg.Keys {
		switch {
		case isKeyARN(k.KeyID):
			if k.KeyID == arn {
				return true
			}
		case strings.HasPrefix(k.KeyID, "alias/"):
			if k.KMS.Region() == region && c.resolveAlias(ctx, k) == arn {
				return true
			}
		default:
			if k.KeyID == id && k.KMS.Region() == region && (c.cfg.Account == "" || account == "" || account == c.cfg.Account) {
				return true
			}
		}
	}
	return false
}

// learn records the ARN a configured key wrapped a data key under, so that
// messages under it are trusted without resolving the key again.
func (c *Client) learn(arn string) { c.learned.Store(arn, struct{}{}) }

// resolveAlias returns the ARN of the key a configured alias names, asking
// KMS (DescribeKey) once; "" if it cannot be resolved, which trusts no key
// through the alias (add the key's ARN to Config.AllowedKeys instead).
func (c *Client) resolveAlias(ctx context.Context, k WrappingKey) string {
	cacheKey := k.KMS.Region() + "\x00" + k.KeyID
	if v, ok := c.aliases.Load(cacheKey); ok {
		return v.(string)
	}
	md, err := k.KMS.DescribeKey(ctx, k.KeyID)
	if err != nil || !isKeyARN(md.ARN) {
		if err == nil || errors.Is(err, kmsclient.ErrAccessDenied) || errors.Is(err, kmsclient.ErrNotFound) {
			c.aliases.Store(cacheKey, "") // a definite answer; retrying would not change it
		}
		return ""
	}
	c.aliases.Store(cacheKey, md.ARN)
	return md.ARN
}

// validKeyPattern checks a key ARN pattern: "*", or a pattern starting
// "acs:kms:", of printable ASCII, with RAM's wildcards only.
func validKeyPattern(p string) error {
	switch {
	case p == "":
		return errors.New("empty")
	case strings.ContainsFunc(p, func(r rune) bool { return r < 0x21 || r > 0x7e }):
		return errors.New("has a space, control or non-ASCII character")
	case strings.ContainsAny(p, "[]\\"):
		return errors.New("character classes and escapes are not supported: the wildcards are * (any run of characters, '/' and ':' included) and ? (one character), as in RAM policies")
	case p != "*" && !strings.HasPrefix(p, "acs:kms:"):
		return errors.New(`not a key ARN pattern: want "acs:kms:<region>:<account>:key/<key-id>", wildcards allowed, or "*"`)
	}
	return nil
}

// matchAny reports whether s matches one of patterns.
func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if globMatch(p, s) {
			return true
		}
	}
	return false
}

// globMatch matches s against a RAM wildcard pattern: '*' matches any run
// of characters (including none, and including '/' and ':'), '?' exactly
// one; everything else matches itself, case-sensitively. (RAM documents
// '*' and '?' as its wildcards for Action and Resource; matching ARNs case
// by case is the reading that errs toward denial.) It backtracks only to
// the last '*', so it runs in O(len(p)·len(s)).
func globMatch(p, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
