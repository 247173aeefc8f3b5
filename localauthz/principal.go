package localauthz

import "strings"

// principalKind classifies a RAM (or Huawei Cloud IAM) identity. Huawei
// users are pkUser, agencies pkRole and their sessions pkSession.
type principalKind uint8

const (
	pkNone     principalKind = iota
	pkAccount                // acs:ram::<uid>:*  (policy only: every identity of the account)
	pkRoot                   // acs:ram::<uid>:root
	pkUser                   // acs:ram::<uid>:user/<name>
	pkRole                   // acs:ram::<uid>:role/<name>
	pkSession                // acs:sts::<uid>:assumed-role/<role>/<session> (request only); Huawei: an agency session
	pkExternal               // Huawei: sts::<account>:external-user:<idp>/<session> (request only)
)

// principal is a parsed identity ARN. Its strings point into the ARN, so
// parsing does not allocate.
type principal struct {
	account string
	kind    principalKind
	name    string // user or role name
	session string
}

// parseRequestPrincipal parses the identity making a request:
//
//	acs:ram::<uid>:root
//	acs:ram::<uid>:user/<name>
//	acs:ram::<uid>:role/<name>                    (a role, any session)
//	acs:sts::<uid>:assumed-role/<role>/<session>  (a session of the role;
//	acs:ram::<uid>:assumed-role/<role>/<session>   all three forms)
//	acs:ram::<uid>:role/<role>/<session>
func parseRequestPrincipal(s string) (principal, bool) {
	p, ok := parseIdentityARN(s)
	if !ok || p.kind == pkAccount {
		return principal{}, false
	}
	return p, true
}

// parsePolicyPrincipal parses an entry of a key or secret policy's
// Principal.RAM list: an account (:* or :root), a user or a role.
func parsePolicyPrincipal(s string) (principal, bool) {
	p, ok := parseIdentityARN(s)
	if !ok || p.kind == pkSession {
		return principal{}, false
	}
	return p, true
}

func parseIdentityARN(s string) (principal, bool) {
	var rest string
	sts := false
	switch {
	case strings.HasPrefix(s, "acs:ram::"):
		rest = s[len("acs:ram::"):]
	case strings.HasPrefix(s, "acs:sts::"):
		rest = s[len("acs:sts::"):]
		sts = true
	default:
		return principal{}, false
	}
	i := strings.IndexByte(rest, ':')
	if i <= 0 {
		return principal{}, false
	}
	p := principal{account: rest[:i]}
	if hasAny(p.account, "*?/") {
		return principal{}, false
	}
	rel := rest[i+1:]
	switch {
	case rel == "*" && !sts:
		p.kind = pkAccount
	case rel == "root" && !sts:
		p.kind = pkRoot
	case strings.HasPrefix(rel, "user/") && !sts:
		p.kind = pkUser
		p.name = rel[len("user/"):]
		if !validName(p.name) {
			return principal{}, false
		}
	case strings.HasPrefix(rel, "role/") && !sts:
		p.kind = pkRole
		p.name = rel[len("role/"):]
		if j := strings.IndexByte(p.name, '/'); j >= 0 {
			p.kind = pkSession
			p.name, p.session = p.name[:j], p.name[j+1:]
		}
	case strings.HasPrefix(rel, "assumed-role/"):
		rel = rel[len("assumed-role/"):]
		j := strings.IndexByte(rel, '/')
		if j < 0 {
			return principal{}, false
		}
		p.kind = pkSession
		p.name, p.session = rel[:j], rel[j+1:]
	default:
		return principal{}, false
	}
	if (p.kind == pkRole || p.kind == pkSession) && !validName(p.name) {
		return principal{}, false
	}
	if p.kind == pkSession && (p.session == "" || hasAny(p.session, "*?")) {
		return principal{}, false
	}
	return p, true
}

func validName(n string) bool {
	return n != "" && !hasAny(n, "/*?:")
}

// hasAny is strings.ContainsAny for a short ASCII set, without the set
// construction cost on the evaluation path.
func hasAny(s, chars string) bool {
	for i := 0; i < len(s); i++ {
		for j := 0; j < len(chars); j++ {
			if s[i] == chars[j] {
				return true
			}
		}
	}
	return false
}

// matchedBy reports whether q (a key or secret policy principal, or the
// holder of a RAM policy) names the requesting identity p. Role names
// compare case-insensitively (RAM stores them in lower case); a session is
// matched by its role.
func (p *principal) matchedBy(q *principal) bool {
	if p.account != q.account {
		return false
	}
	switch q.kind {
	case pkAccount:
		return true
	case pkRoot:
		return p.kind == pkRoot
	case pkUser:
		return p.kind == pkUser && p.name == q.name
	case pkRole:
		return (p.kind == pkRole || p.kind == pkSession) && strings.EqualFold(p.name, q.name)
	}
	return false
}
