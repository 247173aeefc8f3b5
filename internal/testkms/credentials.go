package testkms

import (
	"crypto/rand"
	"fmt"
)

// Credential is an access key the emulator accepts, with the principal it
// authenticates as.
type Credential struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string // set only for AssumeRole credentials
	AccountID       string // the account (uid) that owns the principal
	Principal       string // principal ARN, e.g. acs:ram::<uid>:user/<name>
}

// Principal types as Alibaba spells them in AccessDeniedDetail.
const (
	principalAccount     = "Account"
	principalSubUser     = "SubUser"
	principalAssumedRole = "AssumedRoleUser"
)

// identity is a registered access key. Identities are immutable once
// registered, except expired (guarded by Server.mu).
type identity struct {
	cred          Credential
	principalType string
	displayName   string
	expired       bool
}

// DefaultAccountID is the account every Server starts with.
const DefaultAccountID = "1234567890123456"

// DefaultAccount returns the account every Server starts with,
// [DefaultAccountID].
func (s *Server) DefaultAccount() string { return DefaultAccountID }

// AddAccount creates account accountID if it does not exist yet and returns a
// new root access key for it (principal acs:ram::<uid>:root). Calling it
// again for the same account returns another root access key. It panics if
// accountID is empty.
func (s *Server) AddAccount(accountID string) Credential {
	mustNotBeEmpty("accountID", accountID)
	return s.addIdentity(accountID, "acs:ram::"+accountID+":root", principalAccount, accountID, false)
}

// AddUser returns a new access key for RAM user userName in accountID
// (principal acs:ram::<uid>:user/<name>), creating the account if needed.
// Calling it again for the same user returns a second access key. It panics
// if an argument is empty.
func (s *Server) AddUser(accountID, userName string) Credential {
	mustNotBeEmpty("accountID", accountID)
	mustNotBeEmpty("userName", userName)
	s.registerEntity("user", accountID, userName)
	return s.addIdentity(accountID, "acs:ram::"+accountID+":user/"+userName, principalSubUser, userName, false)
}

// AssumeRole returns STS credentials (with a SecurityToken) for session
// sessionName of role roleName in accountID (principal
// acs:ram::<uid>:assumed-role/<role>/<session>, the ARN STS
// GetCallerIdentity answers for a role session), creating the account if
// needed. Where the emulator reads principals (policies, Authorizer
// requests, faults) it accepts the older spelling
// acs:sts::<uid>:assumed-role/<role>/<session> too. The emulator does not model role trust policies: any caller of
// AssumeRole gets the credentials. It panics if an argument is empty.
func (s *Server) AssumeRole(accountID, roleName, sessionName string) Credential {
	mustNotBeEmpty("accountID", accountID)
	mustNotBeEmpty("roleName", roleName)
	mustNotBeEmpty("sessionName", sessionName)
	arn := "acs:ram::" + accountID + ":assumed-role/" + roleName + "/" + sessionName
	s.registerEntity("role", accountID, roleName)
	return s.addIdentity(accountID, arn, principalAssumedRole, roleName+":"+sessionName, true)
}

// ExpireCredential makes accessKeyID unusable from now on: requests signed
// with an expired STS credential fail with 400 InvalidSecurityToken.Expired,
// and with a disabled long-term access key with 403 Forbidden.AccessKey
// ("This AccessKey is not enabled.", Alibaba's common error codes,
// https://www.alibabacloud.com/help/doc-detail/69008.html; an
// authentication failure, so it carries no AccessDeniedDetail). It reports
// whether the access key exists.
func (s *Server) ExpireCredential(accessKeyID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.identities[accessKeyID]
	if ok {
		id.expired = true
	}
	return ok
}

func (s *Server) addIdentity(accountID, principal, ptype, display string, sts bool) Credential {
	c := Credential{
		AccessKeyID:     "LTAI" + randomAlnum(20),
		AccessKeySecret: randomAlnum(30),
		AccountID:       accountID,
		Principal:       principal,
	}
	if sts {
		c.AccessKeyID = "STS." + randomAlnum(24)
		c.SecurityToken = "CAIS" + randomAlnum(120)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accountLocked(accountID)
	s.identities[c.AccessKeyID] = &identity{cred: c, principalType: ptype, displayName: display}
	return c
}

func mustNotBeEmpty(name, v string) {
	if v == "" {
		panic(fmt.Sprintf("testkms: %s must not be empty", name))
	}
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomAlnum returns n random characters from [A-Za-z0-9].
func randomAlnum(n int) string {
	b := make([]byte, n)
	randomBytes(b)
	for i := range b {
		// 256 % 62 bias is irrelevant for test identifiers.
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}

// randomBytes fills b from crypto/rand, which never fails on supported
// platforms (it panics or blocks instead since Go 1.24).
func randomBytes(b []byte) {
	_, _ = rand.Read(b)
}

// newUUID returns a random (version 4) UUID in lower case.
func newUUID() string {
	var b [16]byte
	randomBytes(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
