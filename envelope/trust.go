package envelope

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// wrappingKeyARN returns the ARN to write into a message for the
// configured key k, given the key id KMS reported wrapping with (keyID). It
// makes no management call when the ARN can be known from what is
// configured: an ARN in k.KeyID or k.ARN, or the key id with k's region and
// Config.Account. Only otherwise does it ask DescribeKey, once per key (see
// describeARN), which a KMS instance gateway does not serve.
func (c *Client) wrappingKeyARN(ctx context.Context, k WrappingKey, keyID string) (string, error) {
	switch {
	case isKeyARN(keyID):
		return keyID, nil
	case isKeyARN(k.KeyID) && strings.HasSuffix(k.KeyID, "/"+keyID):
		return k.KeyID, nil
	case isKeyARN(k.ARN) && strings.HasSuffix(k.ARN, "/"+keyID):
		return k.ARN, nil
	case c.cfg.Account != "":
		return "acs:kms:" + k.KMS.Region() + ":" + c.cfg.Account + ":key/" + keyID, nil
	}
	return c.describeARN(ctx, k.KMS, keyID)
}

// describeARN asks DescribeKey (a management call) for the ARN of keyID,
// once per key. Where DescribeKey is not permitted or not served (a KMS
// instance gateway without a management endpoint), the ARN is built
// without the account ("acs:kms:<region>::key/<id>").
func (c *Client) describeARN(ctx context.Context, k KMS, keyID string) (string, error) {
	cacheKey := k.Region() + "\x00" + keyID
	if v, ok := c.arnCache.Load(cacheKey); ok {
		return v.(string), nil
	}
	md, err := k.DescribeKey(ctx, keyID)
	var arn string
	switch {
	case err == nil && isKeyARN(md.ARN):
		arn = md.ARN
	case err == nil || errors.Is(err, kmsclient.ErrAccessDenied) || errors.Is(err, kmsclient.ErrUnsupportedOperation):
		arn = "acs:kms:" + k.Region() + "::key/" + keyID
	default:
		return "", fmt.Errorf("envelope: describing key %s: %w", safeARN(keyID), err)
	}
	c.arnCache.Store(cacheKey, arn)
	return arn, nil
}

func isKeyARN(s string) bool {
	_, _, id, ok := splitKeyARN(s)
	return ok && id != ""
}

// splitKeyARN splits acs:kms:<region>:<account>:key/<id> without
// allocating. The region is lower-case letters, digits and '-', the account
// digits (or empty: an ARN written without it), the key id letters, digits
// and '-': a label of another shape is not a KMS key ARN.
func splitKeyARN(arn string) (region, account, keyID string, ok bool) {
	rest, ok := strings.CutPrefix(arn, "acs:kms:")
	if !ok {
		return "", "", "", false
	}
	region, rest, ok1 := strings.Cut(rest, ":")
	account, rest, ok2 := strings.Cut(rest, ":")
	keyID, ok3 := strings.CutPrefix(rest, "key/")
	if !ok1 || !ok2 || !ok3 || region == "" || !only(region, regionByte) || !only(account, digitByte) || !only(keyID, keyIDByte) {
		return "", "", "", false
	}
	return region, account, keyID, true
}

// Byte classes of key ARN parts.
const (
	digitByte  = 1 << iota // 0-9
	regionByte             // a-z, 0-9, '-'
	keyIDByte              // A-Z, a-z, 0-9, '-'
)

var arnBytes = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = digitByte | regionByte | keyIDByte
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = regionByte | keyIDByte
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = keyIDByte
	}
	t['-'] = regionByte | keyIDByte
	return t
}()

// only reports whether every byte of s is of class.
func only(s string, class uint8) bool {
	for i := 0; i < len(s); i++ {
		if arnBytes[s[i]]&class == 0 {
			return false
		}
	}
	return true
}

// checkUnwrappingKey verifies that the key KMS used to unwrap (usedID, as
// KMS reports it in the Decrypt answer) is the key the message names
// (named, its ARN; namedID its key id), and returns the key as confirmed:
// the named ARN without its account part. The wrapped keys are outside the
// header tag, so without this an attacker could relabel a key of another
// account as a trusted one: KMS decrypts with the key inside the blob
// whatever the label says, and reports its id. Key ids are unique, so the
// id confirms the key; its account is not confirmed by the answer, so the
// caller (Client.unwrap) applies key trust again to the confirmed ARN and
// asks DescribeKey for the account only when trust rests on it. No
// management call is made here, so Decrypt works on a KMS instance gateway.
func (c *Client) checkUnwrappingKey(named, namedID, usedID string) (string, error) {
	if usedID != namedID && !strings.HasSuffix(usedID, "/"+namedID) {
		return "", errors.New("KMS unwrapped the data key with a different key than the message names")
	}
	region, _, id, _ := splitKeyARN(named)
	return "acs:kms:" + region + "::key/" + id, nil
}

// confirmAccount checks, with DescribeKey, that the key KMS confirmed
// (confirmed, without account) is in the account the message names; it is
// needed only when key trust rests on that account.
func (c *Client) confirmAccount(ctx context.Context, k KMS, named, confirmed string) error {
	_, _, id, _ := splitKeyARN(confirmed)
	actual, err := c.describeARN(ctx, k, id)
	if err != nil {
		return err
	}
	if _, account, _, _ := splitKeyARN(actual); account == "" {
		return fmt.Errorf("KMS confirmed key %s but not its account (DescribeKey not permitted or not served here); trust the key by id or ARN in Config.Keys or AllowedKeys", safeARN(confirmed))
	}
	if actual != named {
		return fmt.Errorf("the message names key %s but KMS used %s", safeARN(named), safeARN(actual))
	}
	return nil
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
	configured, aliasErr := c.configuredKey(ctx, arn)
	if configured || matchAny(c.cfg.AllowedKeys, arn) {
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
	if aliasErr != nil {
		return false, "key is not one of Config.AllowedKeys, and a configured alias could not be resolved to compare: " + aliasErr.Error()
	}
	return false, "key is not one of Config.Keys or Config.AllowedKeys (strict key trust; see Config.Discovery)"
}

// configuredKey reports whether arn is one of Config.Keys. Keys are
// compared by region and key id (ids are unique); their accounts must be
// equal when both are known. An ARN without account (as KMS confirms a key)
// thus matches a configured key of the same id.
func (c *Client) configuredKey(ctx context.Context, arn string) (bool, error) {
	region, account, id, ok := splitKeyARN(arn)
	if !ok || c.cfg.DistrustKeys {
		return false, nil
	}
	same := func(other string) bool {
		r, a, i, ok := splitKeyARN(other)
		return ok && r == region && i == id && (a == account || a == "" || account == "")
	}
	learned, known := c.learnedARN(region, id)
	if known && same(learned) {
		return true, nil
	}
	var aliasErr error
	for _, k := range c.cfg.Keys {
		switch {
		case isKeyARN(k.KeyID):
			if same(k.KeyID) {
				return true, nil
			}
		case isKeyARN(k.ARN) && k.KMS.Region() == region:
			if same(k.ARN) {
				return true, nil
			}
		case strings.HasPrefix(k.KeyID, "alias/"):
			if k.KMS.Region() != region {
				continue
			}
			target, err := c.resolveAlias(ctx, k)
			if err != nil {
				aliasErr = err
			} else if same(target) {
				return true, nil
			}
		default:
			if k.KeyID != id || k.KMS.Region() != region {
				continue
			}
			// The account of a key named by id is what Config.Account or an
			// Encrypt under it says; a label naming another is refused.
			if known {
				return same(learned), nil
			}
			if c.cfg.Account == "" || account == "" || account == c.cfg.Account {
				return true, nil
			}
		}
	}
	return false, aliasErr
}

// learn records the ARN a configured key wrapped a data key under, so that
// messages under it are trusted without resolving the key again.
func (c *Client) learn(arn string) {
	region, _, id, ok := splitKeyARN(arn)
	if !ok {
		return
	}
	ref := keyRef{region, id}
	if cur := c.learned.Load(); cur != nil && cur.byRef[ref] == arn {
		return // the common case: nothing new, nothing copied
	}
	c.learnMu.Lock()
	defer c.learnMu.Unlock()
	cur := c.learned.Load()
	next := &learnedKeys{byRef: map[keyRef]string{ref: arn}, byARN: map[string]string{arn: arn}}
	if cur != nil {
		if cur.byRef[ref] == arn {
			return
		}
		for r, a := range cur.byRef {
			if r != ref {
				next.byRef[r] = a
				next.byARN[a] = a
			}
		}
	}
	c.learned.Store(next)
}

// learnedKeys is an immutable snapshot of the learned ARNs.
type learnedKeys struct {
	byRef map[keyRef]string
	byARN map[string]string // each ARN of byRef, to intern parsed labels
}

// keyRef names a key by region and id (ids are unique).
type keyRef struct{ region, id string }

// learnedARN returns the ARN a configured key wrapped under, if known. The
// lookup takes no lock and allocates nothing (it is on every decryption).
func (c *Client) learnedARN(region, id string) (string, bool) {
	cur := c.learned.Load()
	if cur == nil {
		return "", false
	}
	arn, ok := cur.byRef[keyRef{region, id}]
	return arn, ok
}

// internARN returns a string equal to b, without allocating when it is an
// ARN this Client knows (learned, or configured): wrapped-key labels of the
// messages it decrypts almost always are.
func (c *Client) internARN(b []byte) string {
	if cur := c.learned.Load(); cur != nil {
		if a, ok := cur.byARN[string(b)]; ok {
			return a
		}
	}
	for _, k := range c.cfg.Keys {
		if k.KeyID == string(b) {
			return k.KeyID
		}
		if k.ARN == string(b) {
			return k.ARN
		}
	}
	return string(b)
}

// resolveAlias returns the ARN of the key a configured alias names: k.ARN
// when it is set, else the answer of DescribeKey (a management call, made
// once, and only for a Decrypt that comes before any Encrypt has learned
// the alias's key); "" if it cannot be resolved, which trusts no key
// through the alias (set WrappingKey.ARN, or add the key's ARN to
// Config.AllowedKeys).
func (c *Client) resolveAlias(ctx context.Context, k WrappingKey) (string, error) {
	if isKeyARN(k.ARN) {
		return k.ARN, nil
	}
	cacheKey := k.KMS.Region() + "\x00" + k.KeyID
	if v, ok := c.aliases.Load(cacheKey); ok {
		return v.(string), nil
	}
	md, err := k.KMS.DescribeKey(ctx, k.KeyID)
	switch {
	case err == nil && isKeyARN(md.ARN):
		c.aliases.Store(cacheKey, md.ARN)
		return md.ARN, nil
	case err == nil || errors.Is(err, kmsclient.ErrAccessDenied) || errors.Is(err, kmsclient.ErrNotFound) || errors.Is(err, kmsclient.ErrUnsupportedOperation):
		// A definite answer: asking again would not change it.
		c.aliases.Store(cacheKey, "")
		return "", nil
	}
	// Network, throttling, Close: nothing settled; say why, cache nothing.
	return "", fmt.Errorf("describing %s: %w", k.KeyID, err)
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
