package testkms

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// AuthzRequest is one permission check: may Principal perform Action on
// Resource? Handlers make one check per (action, resource) pair they need,
// for example ReEncrypt checks kms:ReEncryptFrom on the source key and
// kms:ReEncryptTo on the destination key.
type AuthzRequest struct {
	// Principal is the caller's principal ARN, e.g. acs:ram::<uid>:user/<name>.
	Principal string
	// AccountID is the caller's account (uid).
	AccountID string
	// Action is the RAM action, e.g. "kms:Decrypt" or, for the RAM APIs,
	// "ram:ListPoliciesForUser".
	Action string
	// Resource is the resource ARN, e.g. acs:kms:<region>:<uid>:key/<id>, or
	// "*" for calls that act on no resource (DescribeRegions).
	Resource string
	// Context holds condition keys: acs:CurrentTime (RFC 3339, UTC),
	// acs:SecureTransport ("true"/"false"), acs:SourceIp (only a public
	// address: the client's own, or one set with SetRequestFacts; absent
	// on loopback and from a VPC), acs:SourceVpc (only for requests from a
	// VPC, see RequestFacts), and
	// kms:tag/<TagKey> for each tag of the resource when the action carries
	// them (the KMS condition-key reference's list for keys, e.g.
	// kms:DescribeKey but not kms:ListAliasesByKeyId; see keyTagActions).
	Context map[string]string
	// ResourcePolicy is the key or secret policy attached to Resource (the
	// default policy when none was set), or "" for resources that cannot
	// carry one. It is an addition to the original contract, so that a policy
	// evaluator never needs to call back into the Server.
	ResourcePolicy string
	// InKMSInstance reports that Resource is a key or secret in a KMS
	// instance, where key and secret policies apply.
	InKMSInstance bool
}

// Denial explains why an AuthzRequest was refused. It becomes a 403
// Forbidden.NoPermission answer with an AccessDeniedDetail.
type Denial struct {
	// Action and Resource default to the request's.
	Action, Resource string
	// Reason is a human-readable explanation, carried (base64 encoded) in
	// EncodedDiagnosticMessage.
	Reason string
	// Explicit reports an explicit Deny statement (NoPermissionType
	// ExplicitDeny) rather than the absence of an Allow (ImplicitDeny).
	Explicit bool
	// PolicyType is "AccountLevelIdentityBasedPolicy" (the default when
	// empty) or "ResourceBasedPolicy".
	PolicyType string
}

// Authorizer decides permission checks. Authorize is called concurrently from
// request handlers, without any Server lock held; it returns nil to allow.
type Authorizer interface {
	Authorize(AuthzRequest) *Denial
}

// AuthorizerFunc adapts a function to the Authorizer interface.
type AuthorizerFunc func(AuthzRequest) *Denial

// Authorize calls f(req).
func (f AuthorizerFunc) Authorize(req AuthzRequest) *Denial { return f(req) }

// Policy types for AccessDeniedDetail.
const (
	PolicyTypeIdentity = "AccountLevelIdentityBasedPolicy"
	PolicyTypeResource = "ResourceBasedPolicy"
)

type authorizerBox struct{ a Authorizer }

// SetAuthorizer installs a (nil to remove). Without an Authorizer every
// check is allowed, except denials forced with [Server.Deny] or a FaultDeny.
func (s *Server) SetAuthorizer(a Authorizer) {
	s.authz.Store(&authorizerBox{a: a})
}

// authzTarget is a resource to check, with what the Authorizer may want to
// know about it.
type authzTarget struct {
	arn        string
	tags       map[string]string
	policy     string
	inInstance bool
}

// authorize checks action ("kms:Decrypt") on target for the caller. It
// returns a 403 apiError on denial.
func (c *call) authorize(action string, target authzTarget) *apiError {
	req := AuthzRequest{
		Principal:      c.id.cred.Principal,
		AccountID:      c.id.cred.AccountID,
		Action:         action,
		Resource:       target.arn,
		Context:        c.conditionContext(suppliedTags(action, target)),
		ResourcePolicy: target.policy,
		InKMSInstance:  target.inInstance,
	}
	var d *Denial
	if c.s.faults.takeDeny(action, c.action, req.Principal) {
		d = &Denial{Reason: "access forced to be denied by testkms fault injection"}
	} else if box := c.s.authz.Load(); box != nil && box.a != nil {
		d = box.a.Authorize(req)
	}
	if d == nil {
		return nil
	}
	return c.denied(req, d)
}

// authorizeKey checks action on the key of ref and, when the request named it
// by alias, on the alias as well.
func (c *call) authorizeKey(action string, ref *keyRef) *apiError {
	if ref.aliasARN != "" {
		// An alias cannot be tagged; the request's kms:tag keys are those
		// of the key it names.
		if err := c.authorize(action, authzTarget{arn: ref.aliasARN, tags: ref.tags}); err != nil {
			return err
		}
	}
	return c.authorize(action, ref.target())
}

func (r *keyRef) target() authzTarget {
	p := r.policy
	if p == "" {
		p = defaultPolicy(r.account)
	}
	return authzTarget{arn: r.arn, tags: r.tags, policy: p, inInstance: r.instanceID != ""}
}

// keyTagActions are the actions whose checks on a key (or on an alias, which
// presents the tags of its key) carry kms:tag/<TagKey>: the API operations
// the KMS condition-key reference lists for kms:tag ("Policy condition
// keys", help/en/kms/key-management-service/security-and-compliance/
// condition-key): Encrypt, Decrypt, ReEncrypt, ExportDataKey,
// GenerateDataKey, GenerateDataKeyWithoutPlaintext,
// GenerateAndExportDataKey, AsymmetricDecrypt, AsymmetricEncrypt,
// AsymmetricSign, AsymmetricVerify, GetPublicKey, DescribeKey,
// UpdateKeyDescription, EnableKey, DisableKey, CancelKeyDeletion,
// ScheduleKeyDeletion, ImportKeyMaterial, GetParametersForImport,
// DeleteKeyMaterial, CreateKeyVersion, DescribeKeyVersion, ListKeyVersions,
// UpdateRotationPolicy and SetDeletionProtection. Others (ListAliasesByKeyId,
// GetKeyPolicy, SetKeyPolicy, the tag and alias APIs) carry none. The check
// is by RAM action, so GetSecretValue's kms:Decrypt on a self-managed key
// carries that key's tags.
var keyTagActions = map[string]bool{
	"kms:encrypt": true, "kms:decrypt": true, "kms:reencryptfrom": true, "kms:reencryptto": true,
	"kms:exportdatakey": true, "kms:generatedatakey": true, "kms:generatedatakeywithoutplaintext": true,
	"kms:generateandexportdatakey": true, "kms:asymmetricdecrypt": true, "kms:asymmetricencrypt": true,
	"kms:asymmetricsign": true, "kms:asymmetricverify": true, "kms:getpublickey": true, "kms:describekey": true,
	"kms:updatekeydescription": true, "kms:enablekey": true, "kms:disablekey": true, "kms:cancelkeydeletion": true,
	"kms:schedulekeydeletion": true, "kms:importkeymaterial": true, "kms:getparametersforimport": true,
	"kms:deletekeymaterial": true, "kms:createkeyversion": true, "kms:describekeyversion": true,
	"kms:listkeyversions": true, "kms:updaterotationpolicy": true, "kms:setdeletionprotection": true,
}

// secretTagActions are the actions whose checks on a secret carry the
// secret's tags as kms:tag/<TagKey>. Assumption (the reference excerpt at
// hand lists key operations only): the operations on an existing secret of
// seed 000's secret table, and the secret policy APIs; not CreateSecret
// (the secret does not exist yet) nor the tag APIs, which carry no kms:tag
// for keys either.
var secretTagActions = map[string]bool{
	"kms:describesecret": true, "kms:deletesecret": true, "kms:updatesecret": true, "kms:restoresecret": true,
	"kms:getsecretvalue": true, "kms:putsecretvalue": true, "kms:listsecretversionids": true,
	"kms:updatesecretversionstage": true, "kms:rotatesecret": true, "kms:getsecretpolicy": true,
	"kms:setsecretpolicy": true,
}

// suppliedTags returns the tags a check of action on target presents as
// kms:tag/<TagKey> condition keys, or nil when the action carries none.
func suppliedTags(action string, target authzTarget) map[string]string {
	a := strings.ToLower(action)
	switch {
	case strings.Contains(target.arn, ":secret/"):
		if secretTagActions[a] {
			return target.tags
		}
	case keyTagActions[a]:
		return target.tags
	}
	return nil
}

func (c *call) conditionContext(tags map[string]string) map[string]string {
	ctx := map[string]string{
		"acs:CurrentTime":     c.now.UTC().Format(time.RFC3339),
		"acs:SecureTransport": boolString(c.r.TLS != nil),
	}
	c.sourceKeys(ctx)
	for k, v := range tags {
		ctx["kms:tag/"+k] = v
	}
	return ctx
}

// denied turns a Denial into the 403 answer.
func (c *call) denied(req AuthzRequest, d *Denial) *apiError {
	action, resource := d.Action, d.Resource
	if action == "" {
		action = req.Action
	}
	if resource == "" {
		resource = req.Resource
	}
	policyType := d.PolicyType
	if policyType == "" {
		policyType = PolicyTypeIdentity
	}
	npt := "ImplicitDeny"
	if d.Explicit {
		npt = "ExplicitDeny"
	}
	diag, _ := json.Marshal(map[string]string{
		"AuthAction":    action,
		"AuthResource":  resource,
		"AuthPrincipal": req.Principal,
		"PolicyType":    policyType,
		"Reason":        d.Reason,
	})
	e := newError(http.StatusForbidden, codeNoPermission, "%s", msgNoPermission)
	e.detail = &accessDeniedDetail{
		AuthAction:               action,
		AuthPrincipalType:        c.id.principalType,
		AuthPrincipalOwnerID:     c.id.cred.AccountID,
		AuthPrincipalDisplayName: c.id.displayName,
		PolicyType:               policyType,
		NoPermissionType:         npt,
		EncodedDiagnosticMessage: base64.StdEncoding.EncodeToString(diag),
	}
	return e
}

// permission returns the RAM action for an API name: "Decrypt" and
// "kms:Decrypt" both give "kms:Decrypt".
func permission(action string) string {
	if action == "" || strings.Contains(action, ":") {
		return action
	}
	return "kms:" + action
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
