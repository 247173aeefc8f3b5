package kmstest

import (
	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// Credential is an access key the Server accepts, with the principal it
// authenticates as. Its String and GoString methods show the principal and
// the access key id only.
type Credential struct {
	AccessKeyID     string
	AccessKeySecret string
	// SecurityToken is set only for role sessions ([Server.AssumeRole]).
	SecurityToken string
	// AccountID is the account (uid) that owns the principal.
	AccountID string
	// Principal is the principal's ARN: acs:ram::<uid>:root,
	// acs:ram::<uid>:user/<name> or
	// acs:ram::<uid>:assumed-role/<role>/<session>.
	Principal string
}

// Provider returns a kmsclient credentials provider of c: an STS provider
// when c has a SecurityToken, a static access key otherwise.
func (c Credential) Provider() kmsclient.CredentialsProvider {
	if c.SecurityToken != "" {
		return kmsclient.STSCredentials(c.AccessKeyID, c.AccessKeySecret, c.SecurityToken)
	}
	return kmsclient.StaticCredentials(c.AccessKeyID, c.AccessKeySecret)
}

// String returns the principal and the access key id, never the secret or
// the token.
func (c Credential) String() string {
	return "kmstest.Credential{" + c.Principal + " " + c.AccessKeyID + "}"
}

// GoString is String, so that %#v does not print the secret either.
func (c Credential) GoString() string { return c.String() }

func fromCredential(c testkms.Credential) Credential {
	return Credential{AccessKeyID: c.AccessKeyID, AccessKeySecret: c.AccessKeySecret,
		SecurityToken: c.SecurityToken, AccountID: c.AccountID, Principal: c.Principal}
}

func (c Credential) internal() testkms.Credential {
	return testkms.Credential{AccessKeyID: c.AccessKeyID, AccessKeySecret: c.AccessKeySecret,
		SecurityToken: c.SecurityToken, AccountID: c.AccountID, Principal: c.Principal}
}

// UserARN returns the ARN of RAM user user of accountID,
// acs:ram::<uid>:user/<name>: the target for [Server.AttachPolicy] and the
// principal of [Server.AddUser]'s credentials.
func UserARN(accountID, user string) string { return "acs:ram::" + accountID + ":user/" + user }

// RoleARN returns the ARN of RAM role role of accountID,
// acs:ram::<uid>:role/<name>: the target for [Server.AttachPolicy] whose
// policies govern every session of the role.
func RoleARN(accountID, role string) string { return "acs:ram::" + accountID + ":role/" + role }

// GroupARN returns the ARN of RAM user group group of accountID,
// acs:ram::<uid>:group/<name>, as [Server.DetachPolicy] takes it.
func GroupARN(accountID, group string) string { return "acs:ram::" + accountID + ":group/" + group }

// AddAccount creates account accountID (a 16-digit uid, say) unless it
// exists and returns a new root access key for it (principal
// acs:ram::<uid>:root), which needs no policy. Each call returns another
// access key. It panics if accountID is empty.
func (s *Server) AddAccount(accountID string) Credential {
	return fromCredential(s.s.AddAccount(accountID))
}

// AddUser returns a new access key for RAM user user of accountID
// (principal acs:ram::<uid>:user/<name>), creating the account and the user
// if needed. Each call returns another access key of the same user. It
// panics if an argument is empty.
func (s *Server) AddUser(accountID, user string) Credential {
	return fromCredential(s.s.AddUser(accountID, user))
}

// AssumeRole returns STS credentials, with a SecurityToken, for session
// session of role role in accountID (principal
// acs:ram::<uid>:assumed-role/<role>/<session>, as STS GetCallerIdentity
// answers), creating the account if needed. The session is governed by
// the policies attached to [RoleARN]. Role trust policies are not modelled:
// any caller gets the credentials. It panics if an argument is empty.
func (s *Server) AssumeRole(accountID, role, session string) Credential {
	return fromCredential(s.s.AssumeRole(accountID, role, session))
}

// AddGroup creates RAM user group group in accountID (and the account) unless
// it exists. It panics if an argument is empty or group is not a valid RAM
// name.
func (s *Server) AddGroup(accountID, group string) { s.s.AddGroup(accountID, group) }

// AddUserToGroup makes RAM user user of accountID a member of group, which
// must exist ([Server.AddGroup]). With [Server.EnforcePolicies] the user is
// then governed by the group's policies as well as its own.
func (s *Server) AddUserToGroup(accountID, user, group string) error {
	return wrap(s.s.AddUserToGroup(accountID, user, group))
}

// ExpireCredential makes accessKeyID unusable from now on: requests signed
// with an expired STS credential fail with 400 InvalidSecurityToken.Expired,
// and with a disabled access key with 403 Forbidden.AccessKey (an
// authentication error, which kmsclient maps to ErrAuthentication). It
// reports whether the access key exists.
func (s *Server) ExpireCredential(accessKeyID string) bool {
	return s.s.ExpireCredential(accessKeyID)
}
