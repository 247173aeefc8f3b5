package testkms

import (
	"slices"
	"strings"
)

// kmsProduct lists the KMS 2016-01-20 actions the emulator implements.
func (s *Server) kmsProduct() *product {
	return &product{
		code:    "kms",
		version: kmsVersion,
		actions: map[string]handlerFunc{
			// handlers_keys.go
			"CreateKey":           handleCreateKey,
			"DescribeKey":         handleDescribeKey,
			"ListKeys":            handleListKeys,
			"EnableKey":           handleEnableKey,
			"DisableKey":          handleDisableKey,
			"ScheduleKeyDeletion": handleScheduleKeyDeletion,
			"CancelKeyDeletion":   handleCancelKeyDeletion,
			"CreateKeyVersion":    handleCreateKeyVersion,
			"CreateAlias":         handleCreateAlias,
			"UpdateAlias":         handleUpdateAlias,
			"DeleteAlias":         handleDeleteAlias,
			"ListAliases":         handleListAliases,
			"ListAliasesByKeyId":  handleListAliasesByKeyID,
			// handlers_meta.go
			"TagResource":      handleTagResource,
			"UntagResource":    handleUntagResource,
			"ListResourceTags": handleListResourceTags,
			"GetKeyPolicy":     handleGetKeyPolicy,
			"SetKeyPolicy":     handleSetKeyPolicy,
			"GetSecretPolicy":  handleGetSecretPolicy,
			"SetSecretPolicy":  handleSetSecretPolicy,
			"DescribeRegions":  handleDescribeRegions,
			// handlers_crypto.go
			"GenerateDataKey":                 handleGenerateDataKey,
			"GenerateDataKeyWithoutPlaintext": handleGenerateDataKeyWithoutPlaintext,
			"Encrypt":                         handleEncrypt,
			"Decrypt":                         handleDecrypt,
			"ReEncrypt":                       handleReEncrypt,
			// handlers_secrets.go
			"CreateSecret":             handleCreateSecret,
			"GetSecretValue":           handleGetSecretValue,
			"PutSecretValue":           handlePutSecretValue,
			"DescribeSecret":           handleDescribeSecret,
			"ListSecretVersionIds":     handleListSecretVersionIDs,
			"UpdateSecretVersionStage": handleUpdateSecretVersionStage,
		},
	}
}

// Actions returns the names of the KMS APIs the emulator implements, sorted.
func (s *Server) Actions() []string {
	var out []string
	for name := range s.products[kmsVersion].actions {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// lookupKey resolves the key named by parameter param (required).
func (c *call) lookupKey(param string, allowAlias bool) (*keyRef, *apiError) {
	ref, err := c.required(param)
	if err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	kr, err := c.s.resolveKeyLocked(c.id.cred.AccountID, c.region, param, ref, allowAlias)
	if err == nil && !c.inScope(kr.instanceID) {
		return nil, errKeyNotFound(ref) // an instance gateway serves its own keys only
	}
	return kr, err
}

// lookupSecret resolves the secret named by the SecretName parameter, a
// secret name or ARN.
func (c *call) lookupSecret() (*secret, *apiError) {
	name, err := c.required("SecretName")
	if err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	sec, err := c.s.resolveSecretLocked(c.id.cred.AccountID, c.region, name)
	if err == nil && !c.inScope(sec.instanceID) {
		return nil, errSecretNotFound("secret " + name) // an instance gateway serves its own secrets only
	}
	return sec, err
}

// resolveSecretLocked finds a secret by name, or by ARN (which may name
// another account of the same region).
func (s *Server) resolveSecretLocked(accountID, region, name string) (*secret, *apiError) {
	owner := accountID
	if strings.HasPrefix(name, "acs:") {
		parts := strings.SplitN(name, ":", 5)
		if len(parts) != 5 || parts[1] != "kms" || !strings.HasPrefix(parts[4], "secret/") {
			return nil, errInvalidParam("SecretName", "malformed ARN")
		}
		if parts[2] != region {
			return nil, errSecretNotFound("secret " + name)
		}
		owner, name = parts[3], strings.TrimPrefix(parts[4], "secret/")
	}
	rs := s.regionLocked(owner, region)
	if rs == nil || rs.secrets[name] == nil {
		return nil, errSecretNotFound("secret " + name)
	}
	return rs.secrets[name], nil
}

// secretTarget is the authorization target of a secret. Call with Server.mu
// held.
func (sec *secret) target() authzTarget {
	p := sec.policy
	if p == "" {
		p = defaultPolicy(sec.account)
	}
	return authzTarget{arn: sec.arn(), tags: cloneTags(sec.tags), policy: p, inInstance: sec.instanceID != ""}
}

// collectionARN names all resources of a type in the caller's account, for
// calls that act on no single resource (CreateKey, ListKeys, ListAliases).
func (c *call) collectionARN(kind string) authzTarget {
	return authzTarget{arn: "acs:kms:" + c.region + ":" + c.id.cred.AccountID + ":" + kind}
}

func cloneTags(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
