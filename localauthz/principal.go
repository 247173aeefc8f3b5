package localauthz

import (
	"strings"

	"github.com/kmsenvelope/kmsenvelope/localauthz/core"
)

// Alibaba Cloud identities, parsed into the core's principals: RAM users,
// RAM roles and their STS sessions, and the account (its root identity).

// parseRequestPrincipal parses the identity making a request:
//
//	acs:ram::<uid>:root
//	acs:ram::<uid>:user/<name>
//	acs:ram::<uid>:role/<name>                    (a role, any session)
//	acs:sts::<uid>:assumed-role/<role>/<session>  (a session of the role;
//	acs:ram::<uid>:assumed-role/<role>/<session>   all three forms)
//	acs:ram::<uid>:role/<role>/<session>
func parseRequestPrincipal(s string) (core.Principal, bool) {
	p, ok := parseIdentityARN(s)
	if !ok || p.Kind == core.PrincipalAccount {
		return core.Principal{}, false
	}
	return p, true
}

// parsePolicyPrincipal parses an entry of a key or secret policy's
// Principal.RAM list: an account (:* or :root), a user or a role.
func parsePolicyPrincipal(s string) (core.Principal, bool) {
	p, ok := parseIdentityARN(s)
	if !ok || p.Kind == core.PrincipalSession {
		return core.Principal{}, false
	}
	return p, true
}

func parseIdentityARN(s string) (core.Principal, bool) {
	var rest string
	sts := false
	switch {
	case strings.HasPrefix(s, "acs:ram::"):
		rest = s[len("acs:ram::"):]
	case strings.HasPrefix(s, "acs:sts::"):
		rest = s[len("acs:sts::"):]
		sts = true
	default:
		return core.Principal{}, false
	}
	i := strings.IndexByte(rest, ':')
	if i <= 0 {
		return core.Principal{}, false
	}
	p := core.Principal{Account: rest[:i]}
	if core.ContainsAnyByte(p.Account, "*?/") {
		return core.Principal{}, false
	}
	rel := rest[i+1:]
	switch {
	case rel == "*" && !sts:
		p.Kind = core.PrincipalAccount
	case rel == "root" && !sts:
		p.Kind = core.PrincipalRoot
	case strings.HasPrefix(rel, "user/") && !sts:
		p.Kind = core.PrincipalUser
		p.Name = rel[len("user/"):]
		if !validName(p.Name) {
			return core.Principal{}, false
		}
	case strings.HasPrefix(rel, "role/") && !sts:
		p.Kind = core.PrincipalRole
		p.Name = rel[len("role/"):]
		if j := strings.IndexByte(p.Name, '/'); j >= 0 {
			p.Kind = core.PrincipalSession
			p.Name, p.Session = p.Name[:j], p.Name[j+1:]
		}
	case strings.HasPrefix(rel, "assumed-role/"):
		rel = rel[len("assumed-role/"):]
		j := strings.IndexByte(rel, '/')
		if j < 0 {
			return core.Principal{}, false
		}
		p.Kind = core.PrincipalSession
		p.Name, p.Session = rel[:j], rel[j+1:]
	default:
		return core.Principal{}, false
	}
	if (p.Kind == core.PrincipalRole || p.Kind == core.PrincipalSession) && !validName(p.Name) {
		return core.Principal{}, false
	}
	if p.Kind == core.PrincipalSession && (p.Session == "" || core.ContainsAnyByte(p.Session, "*?")) {
		return core.Principal{}, false
	}
	return p, true
}

func validName(n string) bool {
	return n != "" && !core.ContainsAnyByte(n, "/*?:")
}
