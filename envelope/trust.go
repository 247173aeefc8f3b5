package envelope

import (
	"context"
	"errors"
	"fmt"
	"path"
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
		return "", fmt.Errorf("envelope: describing key %s: %w", keyID, err)
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
// KMS reports it) is the key the message names (named, its ARN). The
// wrapped keys are outside the header tag, so without this an attacker could
// relabel a key of another account as an allowed one: KMS decrypts with the
// key inside the blob whatever the label says, and reports only its id. The
// true ARN comes from DescribeKey (cached per key). When DescribeKey is not
// permitted the account cannot be verified; that is tolerated only when no
// AllowedKeys restriction depends on it.
func (c *Client) checkUnwrappingKey(ctx context.Context, k KMS, named, namedID, usedID string) error {
	if usedID != namedID && !strings.HasSuffix(usedID, "/"+namedID) {
		return errors.New("KMS unwrapped the data key with a different key than the message names")
	}
	actual, err := c.keyARN(ctx, k, "", usedID)
	if err != nil {
		return err
	}
	if actual == named {
		return nil
	}
	aRegion, aAccount, aID, _ := splitKeyARN(actual)
	nRegion, nAccount, nID, _ := splitKeyARN(named)
	if (aAccount == "" || nAccount == "") && aRegion == nRegion && aID == nID && len(c.cfg.AllowedKeys) == 0 {
		return nil
	}
	return fmt.Errorf("the message names key %s but KMS used %s", named, actual)
}

func (c *Client) allowed(arn string) bool {
	if len(c.cfg.AllowedKeys) == 0 {
		return true
	}
	for _, p := range c.cfg.AllowedKeys {
		if ok, _ := path.Match(p, arn); ok {
			return true
		}
	}
	return false
}
