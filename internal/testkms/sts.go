package testkms

import "strings"

// This file emulates STS (2015-04-01) GetCallerIdentity, which tells a
// caller who its credentials authenticate as. Like real STS it needs no
// permission: any authenticated caller may ask (so neither the Authorizer
// nor Deny applies; response faults do).

const stsVersion = "2015-04-01"

// Identity types as GetCallerIdentity spells them.
const (
	identityAccount     = "Account"
	identityRAMUser     = "RAMUser"
	identityAssumedRole = "AssumedRoleUser"
)

// stsProduct lists the STS 2015-04-01 actions the emulator implements.
func (s *Server) stsProduct() *product {
	return &product{
		code:    "sts",
		version: stsVersion,
		central: true,
		actions: map[string]handlerFunc{
			"GetCallerIdentity": handleGetCallerIdentity,
		},
	}
}

type callerIdentityOut struct {
	RequestID    string `json:"RequestId"`
	IdentityType string `json:"IdentityType"`
	AccountID    string `json:"AccountId"`
	UserID       string `json:"UserId,omitempty"`
	PrincipalID  string `json:"PrincipalId"`
	Arn          string `json:"Arn"`
	RoleID       string `json:"RoleId,omitempty"`
}

// handleGetCallerIdentity answers, for
//   - the account root: IdentityType Account, UserId = PrincipalId = the
//     account id, Arn acs:ram::<uid>:root;
//   - a RAM user: IdentityType RAMUser, UserId = PrincipalId = the user's
//     id (stable, derived from the ARN), Arn acs:ram::<uid>:user/<name>;
//   - a role session: IdentityType AssumedRoleUser, RoleId = the role's id,
//     PrincipalId = "<RoleId>:<session>", no UserId, Arn
//     acs:ram::<uid>:assumed-role/<role>/<session> (the form STS documents
//     for GetCallerIdentity; see the project's real-wire notes).
func handleGetCallerIdentity(c *call) (any, *apiError) {
	cred := c.id.cred
	out := callerIdentityOut{RequestID: c.requestID, AccountID: cred.AccountID, Arn: cred.Principal}
	switch c.id.principalType {
	case principalAccount:
		out.IdentityType = identityAccount
		out.UserID, out.PrincipalID = cred.AccountID, cred.AccountID
	case principalSubUser:
		out.IdentityType = identityRAMUser
		out.UserID = ramEntityID(cred.Principal, '2')
		out.PrincipalID = out.UserID
	case principalAssumedRole:
		out.IdentityType = identityAssumedRole
		_, rel, _ := strings.Cut(cred.Principal, ":assumed-role/")
		role, session, _ := strings.Cut(rel, "/")
		out.RoleID = ramEntityID(ramEntityARN(cred.AccountID, "role", role), '3')
		out.PrincipalID = out.RoleID + ":" + session
	}
	return out, nil
}
