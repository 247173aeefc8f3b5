package core

import "strings"

// PrincipalKind classifies an identity. Dialects map theirs onto it: RAM
// users and Huawei IAM users are users, RAM roles and Huawei agencies
// roles, their sessions sessions.
type PrincipalKind uint8

// Principal kinds.
const (
	PrincipalNone     PrincipalKind = iota // the holder of an identity policy attached to anyone
	PrincipalAccount                       // policy only: the account (see Statement.AccountIsRoot)
	PrincipalRoot                          // the account's root identity
	PrincipalUser                          // a user
	PrincipalRole                          // a role (agency); any of its sessions
	PrincipalSession                       // request only: a session of the role Name
	PrincipalExternal                      // request only: a federated session, matched by its account
)

// Principal is a parsed identity. Dialects parse their ARNs (URNs) into it;
// its strings may point into the ARN, so parsing need not allocate.
type Principal struct {
	Account string
	Kind    PrincipalKind
	Name    string // user or role name
	Session string
}

// MatchedBy reports whether q (a resource-policy principal, or the holder
// of an identity policy) names the requesting identity p. Role names
// compare case-insensitively (RAM stores them in lower case); a session is
// matched by its role.
func (p *Principal) MatchedBy(q *Principal) bool {
	if p.Account != q.Account {
		return false
	}
	switch q.Kind {
	case PrincipalAccount:
		return true
	case PrincipalRoot:
		return p.Kind == PrincipalRoot
	case PrincipalUser:
		return p.Kind == PrincipalUser && p.Name == q.Name
	case PrincipalRole:
		return (p.Kind == PrincipalRole || p.Kind == PrincipalSession) && strings.EqualFold(p.Name, q.Name)
	}
	return false
}
