package kmstest

import "github.com/kmsenvelope/kmsenvelope/internal/testkms"

// KeyOptions configure a key made by [Server.CreateKey]. The zero value is
// an enabled software key (Aliyun_AES_256) of the Server's region, outside
// any KMS instance.
type KeyOptions struct {
	// Description is the key's description.
	Description string
	// InstanceID places the key in a KMS 3.0 instance, e.g. "kst-hzz6abc":
	// key policies then apply to it, and the instance's gateway
	// ([Server.StartInstanceGateway]) serves it.
	InstanceID string
	// Tags are the key's tags, visible to policies as kms:tag/<key>.
	Tags map[string]string
	// Disabled creates the key in state Disabled.
	Disabled bool
	// KeyID is the key's id instead of a generated "key-…" one (a UUID, as
	// older KMS keys have, say). It must be unique on the Server.
	KeyID string
	// Region creates the key in this region instead of the Server's. The
	// other seeding methods look keys up in the Server's region.
	Region string
}

// SecretOptions configure a secret made by [Server.CreateSecret]. The zero
// value is a text secret encrypted with the service key, first version "v1".
type SecretOptions struct {
	// EncryptionKeyID is the id, ARN or alias of an enabled key that
	// encrypts the secret (reading it then also needs kms:Decrypt on that
	// key); empty means the default service key. A secret encrypted with a
	// key in a KMS instance lives in that instance.
	EncryptionKeyID string
	// Binary stores the value as a binary secret (SecretDataType "binary",
	// sent base64-encoded); otherwise the value must be UTF-8 text.
	Binary bool
	// VersionID is the first version's id; "v1" when empty.
	VersionID string
	// Tags are the secret's tags.
	Tags map[string]string
}

// CreateKey creates an AES-256 key in accountID and returns its id and ARN
// (acs:kms:<region>:<uid>:key/<id>).
func (s *Server) CreateKey(accountID string, o KeyOptions) (keyID, arn string, err error) {
	keyID, arn, err = s.s.CreateKey(accountID, testkms.KeyOptions{
		Description: o.Description, InstanceID: o.InstanceID, Tags: o.Tags,
		Disabled: o.Disabled, KeyID: o.KeyID, Region: o.Region,
	})
	return keyID, arn, wrap(err)
}

// CreateAlias creates alias alias ("alias/<name>") of keyID in accountID.
// Cryptographic calls and DescribeKey accept the alias in place of the key.
func (s *Server) CreateAlias(accountID, alias, keyID string) error {
	return wrap(s.s.CreateAlias(accountID, alias, keyID))
}

// RotateKey adds a new primary version to an enabled key, as
// CreateKeyVersion does, and returns its id. Ciphertexts of older versions
// still decrypt.
func (s *Server) RotateKey(accountID, keyID string) (versionID string, err error) {
	v, err := s.s.RotateKey(accountID, keyID)
	return v, wrap(err)
}

// SetKeyState puts a key in state, whatever its current state.
func (s *Server) SetKeyState(accountID, keyID string, state KeyState) error {
	return wrap(s.s.SetKeyState(accountID, keyID, string(state)))
}

// SetKeyPolicy sets the key policy (a JSON object) of keyID. Key policies
// apply to keys in a KMS instance ([KeyOptions.InstanceID]) once
// [Server.EnforcePolicies] is on; a key without one has the default policy,
// which grants the account root and no RAM user or role.
func (s *Server) SetKeyPolicy(accountID, keyID, policy string) error {
	return wrap(s.s.SetKeyPolicy(accountID, keyID, policy))
}

// CreateSecret creates secret name in accountID with value as its
// ACSCurrent version and returns the secret's ARN
// (acs:kms:<region>:<uid>:secret/<name>).
func (s *Server) CreateSecret(accountID, name string, value []byte, o SecretOptions) (arn string, err error) {
	arn, err = s.s.CreateSecret(accountID, name, value, testkms.SecretOptions{
		EncryptionKeyID: o.EncryptionKeyID, Binary: o.Binary, VersionID: o.VersionID, Tags: o.Tags,
	})
	return arn, wrap(err)
}

// PutSecretValue adds value as a new version of secret name (versionID, or a
// generated id when empty) and makes it ACSCurrent, as a rotation does; the
// old current version becomes ACSPrevious.
func (s *Server) PutSecretValue(accountID, name string, value []byte, versionID string) error {
	return wrap(s.s.PutSecretValue(accountID, name, value, versionID))
}

// SetSecretPolicy sets the secret policy (a JSON object) of secret name,
// which applies as a key policy does (see [Server.SetKeyPolicy]).
func (s *Server) SetSecretPolicy(accountID, name, policy string) error {
	return wrap(s.s.SetSecretPolicy(accountID, name, policy))
}

// AttachPolicy attaches a RAM identity policy document, under name, to a
// RAM user or role (target is a [UserARN] or [RoleARN]); a role's policies
// govern its sessions. Attaching another document under the same name
// replaces the first. A malformed document is refused with a
// *[PolicyError] naming where it is wrong. Policies decide requests only
// after [Server.EnforcePolicies]; the RAM read APIs (ListPoliciesForUser,
// GetPolicy, ...) show them as custom policies, version "v1", at once.
func (s *Server) AttachPolicy(target, name, document string) error {
	return wrap(s.s.AttachPolicy(target, name, document))
}

// AttachGroupPolicy attaches a RAM identity policy, under name, to group of
// accountID, which must exist ([Server.AddGroup]); it governs every member.
// Detach it with DetachPolicy(GroupARN(accountID, group), name).
func (s *Server) AttachGroupPolicy(accountID, group, name, document string) error {
	return wrap(s.s.AttachGroupPolicy(accountID, group, name, document))
}

// DetachPolicy removes the policy attached under name from target (a
// [UserARN], [RoleARN] or [GroupARN]) and reports whether there was one.
func (s *Server) DetachPolicy(target, name string) bool { return s.s.DetachPolicy(target, name) }

// EnforcePolicies makes the Server decide every request with the attached
// RAM policies and the key and secret policies, as KMS does: explicit Deny
// wins, the account root needs no policy, and a request no policy allows is
// answered 403 Forbidden.NoPermission with an AccessDeniedDetail naming the
// action (kmsclient.ErrAccessDenied). The same rules decide the ram:
// actions of the RAM read APIs a preflight calls. Without it (the default)
// every request is allowed but those refused with [Server.Deny] or a
// [FaultDeny].
//
// The emulator decides with its own evaluator, written from Alibaba's RAM
// and KMS documentation independently of package localauthz, so that tests
// compare two implementations.
func (s *Server) EnforcePolicies() { s.s.EnforcePolicies() }
