package huawei

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/kmsenvelope/kmsenvelope/localauthz/core"
)

// This file is the Huawei Cloud evaluation flow: URNs and principals,
// identity policies, KMS resource policies and the SCP boundary, over the
// shared statement core.

// factOrgPath is the fact a decision lacks when OU-level SCPs exist but the
// request does not place the caller in the organization.
const factOrgPath = "Request.Org: the caller's organization path (OU-level SCPs exist)"

// Org places the caller's account in a Huawei Cloud organization.
type Org struct {
	// IsManagementAccount: SCPs do not apply to the organization's
	// management account.
	IsManagementAccount bool `json:"isManagementAccount"`
	// Path lists the attachment levels from the root down to the account:
	// "root", "ou:<id>"..., "account:<id>". An SCP applies when its
	// attachment is on the path.
	Path []string `json:"path"`
}

// urn is a parsed Huawei Cloud resource name
// <service>:<region>:<account-id>:<type>:<path>; the path may contain ':'.
// Its strings point into the original.
type urn struct {
	service, region, account, typ, path string
}

func parseURN(s string) (urn, bool) {
	var parts [4]string
	rest := s
	for i := range parts {
		j := strings.IndexByte(rest, ':')
		if j < 0 {
			return urn{}, false
		}
		parts[i], rest = rest[:j], rest[j+1:]
	}
	if parts[0] == "" || parts[3] == "" || rest == "" {
		return urn{}, false
	}
	return urn{service: parts[0], region: parts[1], account: parts[2], typ: parts[3], path: rest}, true
}

func (u urn) concrete() bool {
	return !core.ContainsAnyByte(u.service, "*?") && !core.ContainsAnyByte(u.region, "*?") && !core.ContainsAnyByte(u.account, "*?") &&
		!core.ContainsAnyByte(u.typ, "*?") && !core.ContainsAnyByte(u.path, "*?")
}

// parseHuaweiRequestPrincipal parses the caller. It is shaped like the
// Alibaba dialect's ARN parser but kept apart on purpose: the grammars
// differ (iam::/sts:: with ':' before the name, external users, the SDK's
// extra colon; RAM has acs:ram::/acs:sts:: with '/', roles and root):
//
//	iam::<account-id>:user:<name>
//	sts::<account-id>:assumed-agency:<agency>/<session>
//	sts::<account-id>:external-user:<idp>/<session>
//
// One SDK comment writes sts::<account-id>::assumed-agency:...; the extra
// colon is accepted as a typo.
func parseHuaweiRequestPrincipal(s string) (core.Principal, bool) {
	var rest string
	sts := false
	switch {
	case strings.HasPrefix(s, "iam::"):
		rest = s[len("iam::"):]
	case strings.HasPrefix(s, "sts::"):
		rest = s[len("sts::"):]
		sts = true
	default:
		return core.Principal{}, false
	}
	i := strings.IndexByte(rest, ':')
	if i <= 0 || core.ContainsAnyByte(rest[:i], "*?/") {
		return core.Principal{}, false
	}
	p := core.Principal{Account: rest[:i]}
	rel := rest[i+1:]
	if sts && strings.HasPrefix(rel, ":") {
		rel = rel[1:]
	}
	switch {
	case !sts && strings.HasPrefix(rel, "user:"):
		p.Kind, p.Name = core.PrincipalUser, rel[len("user:"):]
		if !validHuaweiName(p.Name) {
			return core.Principal{}, false
		}
		return p, true
	case sts && strings.HasPrefix(rel, "assumed-agency:"):
		p.Kind = core.PrincipalSession
		rel = rel[len("assumed-agency:"):]
	case sts && strings.HasPrefix(rel, "external-user:"):
		p.Kind = core.PrincipalExternal
		rel = rel[len("external-user:"):]
	default:
		return core.Principal{}, false
	}
	j := strings.IndexByte(rel, '/')
	if j < 0 {
		return core.Principal{}, false
	}
	p.Name, p.Session = rel[:j], rel[j+1:]
	if !validHuaweiName(p.Name) || p.Session == "" || core.ContainsAnyByte(p.Session, "*?") {
		return core.Principal{}, false
	}
	return p, true
}

func validHuaweiName(n string) bool { return n != "" && !core.ContainsAnyByte(n, "/*?:") }

// parseHuaweiPolicyPrincipal parses an entry of a resource policy's
// Principal.IAM list: an account ID (every identity of the account), a
// user URN iam::<account-id>:user:<name> or an agency URN
// iam::<account-id>:agency:<name> (every session of the agency).
func parseHuaweiPolicyPrincipal(s string) (core.Principal, bool) {
	if !strings.HasPrefix(s, "iam::") {
		if s == "" || !isAlnum(s) {
			return core.Principal{}, false
		}
		return core.Principal{Account: s, Kind: core.PrincipalAccount}, true
	}
	rest := s[len("iam::"):]
	i := strings.IndexByte(rest, ':')
	if i <= 0 || !isAlnum(rest[:i]) {
		return core.Principal{}, false
	}
	p := core.Principal{Account: rest[:i]}
	rel := rest[i+1:]
	switch {
	case strings.HasPrefix(rel, "user:"):
		p.Kind, p.Name = core.PrincipalUser, rel[len("user:"):]
	case strings.HasPrefix(rel, "agency:"):
		p.Kind, p.Name = core.PrincipalRole, rel[len("agency:"):]
	default:
		return core.Principal{}, false
	}
	if !validHuaweiName(p.Name) {
		return core.Principal{}, false
	}
	return p, true
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return s != ""
}

// huaweiTarget validates where a Huawei policy of kind is attached, and
// returns the identity an identity policy is restricted to.
func huaweiTarget(kind PolicyKind, target string) (core.Principal, error) {
	switch kind {
	case IdentityPolicy:
		// A user or agency URN restricts the policy to that identity;
		// anything else ("user:alice", "group:devs", "") only names the
		// holder and the policy applies to every principal evaluated.
		if pr, ok := parseHuaweiPolicyPrincipal(target); ok && pr.Kind != core.PrincipalAccount {
			return pr, nil
		}
	case SCP:
		if !validSCPTarget(target) {
			return core.Principal{}, errors.New("localauthz: an SCP attaches to \"root\", \"ou:<id>\" or \"account:<id>\" (or \"\" for the caller's account), not " + strconv.Quote(target))
		}
	case ResourcePolicy:
		if u, ok := parseURN(target); !ok || !u.concrete() {
			return core.Principal{}, errors.New("localauthz: a resource policy attaches to a key URN kms:<region>:<account-id>:KeyId:<key-id>, not " + strconv.Quote(target))
		}
	}
	return core.Principal{}, nil
}

func validSCPTarget(t string) bool {
	switch {
	case t == "" || t == "root":
		return true
	case strings.HasPrefix(t, "ou:"):
		return len(t) > len("ou:")
	case strings.HasPrefix(t, "account:"):
		return len(t) > len("account:")
	}
	return false
}

// callerAccountLevel reports whether an SCP target is the caller's account.
func callerAccountLevel(target, account string) bool {
	return target == "" || strings.HasPrefix(target, "account:") && target[len("account:"):] == account
}

// scpApplies reports whether an SCP attached at target bounds a caller of
// account. With an organization path it applies when its attachment is on
// the path (an SCP without attachment is the caller's account's); without
// one, SCPs at "root" and at the caller's account apply, and so does an OU
// SCP, which cannot be placed (unknown is then set): its Deny statements
// deny and its level must allow.
func scpApplies(target, account string, org *Org) (applies, unknown bool) {
	if target == "" {
		return true, false
	}
	if org == nil {
		if target == "root" || callerAccountLevel(target, account) {
			return true, false
		}
		// An OU SCP may or may not be on the caller's path; taking it to
		// apply errs toward denial.
		ou := strings.HasPrefix(target, "ou:")
		return ou, ou
	}
	for _, l := range org.Path {
		if l == target {
			return true, false
		}
	}
	return false, false
}

func sameSCPLevel(a, b, account string) bool {
	if callerAccountLevel(a, account) {
		return callerAccountLevel(b, account)
	}
	return a == b
}

// huaweiStmtAssumptions are the readings a deciding statement relied on.
func huaweiStmtAssumptions(st *core.Statement, act core.Action) Assumption {
	var a Assumption
	if st.ActionMode == core.ActionWithAlias && !st.NotAction && len(act.Aliases) > 0 && !st.AnyActionPattern(act.Name) {
		a |= AssumeActionAlias
	}
	for i := range st.Conds {
		if st.Conds[i].Op == core.OpStringContains {
			a |= AssumeStringLikeSubstring
		}
	}
	return a
}

// evaluateHuawei decides one (action, resource) unit with Huawei Cloud's
// rules: an explicit Deny in an identity policy, the key's resource policy
// or an applicable SCP wins; SCPs grant nothing but every attachment level
// on the caller's path needs an Allow; in the account that owns the
// resource an identity or resource policy Allow suffices, across accounts
// both are needed.
func (s *PolicySet) evaluate(r *Request, d *Decision) {
	p, ok := parseHuaweiRequestPrincipal(r.Principal)
	if err := core.RequestError(r.Principal, ok, "iam::<account-id>:user:<name>, sts::<account-id>:assumed-agency:<agency>/<session> or sts::<account-id>:external-user:<idp>/<session>", r.Action, r.Resource); err != nil {
		d.Effect, d.Err = ImplicitDeny, err
		return
	}
	entry := huaweiActionEntry(r.Action)
	act := core.Action{Name: r.Action, Keys: core.AllKeys}
	if entry != nil {
		act.Aliases = entry.Aliases
		if len(entry.ResourceTypes) == 0 && r.Resource != "*" {
			// no resource-level permission: the unit is the resource "*"
			rr := *r
			rr.Resource = "*"
			r = &rr
		}
	}
	// match is what statements' resources are matched against: the
	// request's resource, or for an action that declares a resource type
	// but names no existing resource (kms:cmk:create), every resource of
	// that type in the caller's account. Table 1: "If this column includes
	// a resource type, you must specify the URN in the Resource element",
	// so kms:*:*:KeyId:* must grant kms:cmk:create; the literal '*' of the
	// region and the id is matched only by a pattern's wildcard, so a
	// pattern naming one key or region does not.
	match := r.Resource
	if entry != nil && entry.NamesNoResource && len(entry.ResourceTypes) > 0 && r.Resource == "*" {
		match = "kms:*:" + p.Account + ":" + entry.ResourceTypes[0] + ":*"
		d.Assumptions |= AssumeResourceTypeWide
	}
	u, isURN := parseURN(r.Resource)
	cross := isURN && u.account != "" && !core.ContainsAnyByte(u.account, "*?") && u.account != p.Account
	if r.Resource == "*" && match == "*" {
		d.Assumptions |= AssumeNoResource
	}
	if strings.EqualFold(r.Action, "kms:alias:associate") {
		d.Assumptions |= AssumeAliasAssociateRequestKey
	}

	var tr core.Trace
	var id, rs, scp core.Side // identity policies, the key's resource policies, the SCP boundary
	v11, v50 := false, false
	for i := range s.identity {
		a := &s.identity[i]
		if !a.Holds(&p) {
			continue
		}
		if a.Version == "1.1" {
			v11 = true
		} else {
			v50 = true
		}
		if id.Eval(a, act, match, &p, r.Context, &tr) {
			break
		}
	}
	if v11 && v50 {
		d.Assumptions |= AssumeMixedPolicyVersions
	}
	if id.Deny == nil && len(s.resources) > 0 {
		atts := s.resources[r.Resource]
		for i := range atts {
			if rs.Eval(&atts[i], act, r.Resource, &p, r.Context, &tr) {
				break
			}
		}
	}
	scpGate := core.Yes
	if id.Deny == nil && rs.Deny == nil && len(s.scps) > 0 && (r.Org == nil || !r.Org.IsManagementAccount) {
		scpGate = s.scpBoundary(r, match, act, &p, &tr, &scp, d)
	}
	d.Assumptions |= core.TraceAssumptions(&tr)
	if ref := core.FirstRef(id.Deny, rs.Deny, scp.Deny); ref != nil {
		core.DenyBy(d, r.Action, r.Resource, ref)
		denySt := id.DenySt // one side at most denies: each stops the next
		if denySt == nil {
			denySt = rs.DenySt
		}
		if denySt == nil {
			denySt = scp.DenySt
		}
		d.Assumptions |= huaweiStmtAssumptions(denySt, act)
		if scp.Deny != nil && d.Assumptions.Has(AssumeSCPPathUnknown) {
			d.MissingFacts = append(d.MissingFacts, factOrgPath)
		}
		if rs.Deny != nil {
			d.Assumptions |= AssumeKMSResourcePolicy
		}
		return
	}
	// Three-valued: the SCP boundary and, in the owning account, an
	// identity or resource policy Allow; across accounts both.
	idSide, resSide := id.Allows(), rs.Allows()
	granted := idSide.Or(resSide)
	if cross {
		granted = idSide.And(resSide)
	}
	allowed := scpGate.And(granted)
	maybeDeny := core.FirstRef(id.MaybeDeny, rs.MaybeDeny, scp.MaybeDeny)
	switch core.Outcome(allowed, maybeDeny != nil) {
	case Conditional:
		// KMS, which sees the unknown keys, decides.
		d.Assumptions &^= AssumeSCPPathUnknown
		core.MakeConditional(d, &tr, maybeDeny != nil, allowed == core.Maybe, core.FirstRef(maybeDeny, id.Allow, id.MaybeAllow, rs.Allow, rs.MaybeAllow))
		if resSide != core.No && (cross || idSide == core.No) {
			d.Assumptions |= AssumeKMSResourcePolicy
		}
		return
	case Allow:
		// OU SCPs that could not be placed were applied and still allow:
		// wherever the caller is, the answer is the same.
		d.Assumptions &^= AssumeSCPPathUnknown
		d.Effect = Allow
		d.Decider = id.Allow
		idOK, resOK := id.Allow != nil, rs.Allow != nil
		if idOK {
			d.Assumptions |= huaweiStmtAssumptions(id.AllowSt, act)
		}
		if resOK && (cross || !idOK) {
			d.Assumptions |= AssumeKMSResourcePolicy | huaweiStmtAssumptions(rs.AllowSt, act)
			if d.Decider == nil {
				d.Decider = rs.Allow
			}
		}
		return
	}

	// Not allowed even if every unknown key were favourable.
	idOK, resOK := idSide != core.No, resSide != core.No
	d.Effect = ImplicitDeny
	if scpGate == core.No && d.Assumptions.Has(AssumeSCPPathUnknown) {
		d.MissingFacts = append(d.MissingFacts, factOrgPath)
	}
	if scpGate == core.No {
		d.Missing = append(d.Missing, Missing{Action: r.Action, Resource: r.Resource, Where: WhereSCP})
	}
	switch {
	case !cross && !idOK && !resOK, cross && !idOK:
		d.Missing = append(d.Missing, Missing{Action: r.Action, Resource: r.Resource, Where: WhereIdentity})
	}
	if cross && !resOK {
		d.Missing = append(d.Missing, Missing{Action: r.Action, Resource: r.Resource, Where: WhereResource})
	}
	if resOK {
		d.Assumptions |= AssumeKMSResourcePolicy
	}
	core.ExplainTrace(d, &tr)
	grants := func(a *core.Attachment, w Where) bool {
		want := WhereIdentity
		switch a.Kind {
		case SCP:
			want = WhereSCP
		case ResourcePolicy:
			want = WhereResource
		}
		// in the owning account a resource policy grants what an
		// identity policy would
		return w == want || !cross && want == WhereResource && w == WhereIdentity
	}
	core.ExplainBlocked(d, &tr, r.Context, core.AllKeys, grants, s.identity, s.resources[r.Resource], s.scps)
	if !idOK && core.CaseOnlyMismatch(s.identity, act, match, &p) {
		d.Assumptions |= AssumeCaseSensitiveResource
	}
}

// scpBoundary evaluates the SCPs that apply to the caller, level by level:
// every level with an applicable SCP needs a matching Allow; any matching
// Deny denies. It reports, three-valued, whether the boundary admits the
// request, and records in side the denying statement if any, and a Deny
// that maybe applies.
func (s *PolicySet) scpBoundary(r *Request, match string, act core.Action, p *core.Principal, tr *core.Trace, side *core.Side, d *Decision) core.Tri {
	gate := core.Yes
	applies := func(i int) bool {
		ok, unknown := scpApplies(s.scps[i].Target, p.Account, r.Org)
		if unknown {
			d.Assumptions |= AssumeSCPPathUnknown
		}
		return ok
	}
	for i := range s.scps {
		if !applies(i) {
			continue
		}
		first := true
		for j := 0; j < i && first; j++ {
			if sameSCPLevel(s.scps[i].Target, s.scps[j].Target, p.Account) && applies(j) {
				first = false
			}
		}
		if !first {
			continue // its level was evaluated with the first SCP of the level
		}
		levelOK := core.No
		for j := i; j < len(s.scps); j++ {
			b := &s.scps[j]
			if j != i && (!sameSCPLevel(s.scps[i].Target, b.Target, p.Account) || !applies(j)) {
				continue
			}
			m := core.EvalMatch(b.Stmts, act, match, p, r.Context, tr)
			if side.RecordDeny(b, m) {
				return core.No
			}
			levelOK = levelOK.Or(m.Allows())
		}
		gate = gate.And(levelOK)
	}
	if r.Org != nil {
		for _, l := range r.Org.Path {
			found := false
			for i := range s.scps {
				if t := s.scps[i].Target; t == l || callerAccountLevel(t, p.Account) && callerAccountLevel(l, p.Account) {
					found = true
					break
				}
			}
			if !found {
				d.Assumptions |= AssumeSCPUnlistedLevel
			}
		}
	}
	return gate
}

// Call is one HTTP request a Huawei Cloud KMS client intends to make.
type Call struct {
	// Method and Path are the HTTP method and path, e.g. "POST" and
	// "/v1.0/<project_id>/kms/decrypt-data" (see [OperationForRequest]).
	Method string `json:"method"`
	Path   string `json:"path"`
	// Region and Account (the account, or domain, ID owning the key) build
	// the resource URNs kms:<region>:<account-id>:<type>:<id>.
	Region  string `json:"region,omitempty"`
	Account string `json:"account,omitempty"`
	// KeyID is the key_id of the request body; a {key_id} of the path wins.
	KeyID string `json:"keyId,omitempty"`
	// Alias is the key alias of the kms:alias:* APIs.
	Alias string `json:"alias,omitempty"`
	// KeystoreID is the keystore of the keystore APIs when the path has none.
	KeystoreID string `json:"keystoreId,omitempty"`
	// Resources, when set, are the URNs to authorize, instead of those
	// built from the fields above.
	Resources []string `json:"resources,omitempty"`
	// Context carries the condition keys the call will present.
	Context Context `json:"context,omitempty"`
	// Org places the caller's account in the organization (SCPs).
	Org *Org `json:"org,omitempty"`
}

// Expand maps a call to its Table 2 operation and returns every
// (action, resource) unit it needs: one per resource type of the action
// (the KeyId and the alias URN for kms:alias:create, delete and associate),
// or the resource "*" for an action without a resource type or one that
// names no existing resource (kms:cmk:create, kms:cmk:list, ...).
func Expand(c Call) (Operation, []Requirement, error) {
	op, err := OperationForRequest(c.Method, c.Path)
	if err != nil {
		return op, nil, err
	}
	var reqs []Requirement
	add := func(res, why string, as Assumption) {
		reqs = append(reqs, Requirement{Action: op.Action, Resource: res, Why: why, Assumptions: as})
	}
	if len(c.Resources) > 0 {
		for _, r := range c.Resources {
			add(r, c.Method+" "+op.Path+" is authorized on "+r, 0)
		}
		return op, reqs, nil
	}
	a := lookupHuaweiAction(op.Action)
	if a == nil || len(a.ResourceTypes) == 0 || a.NamesNoResource {
		add("*", op.Action+" names no resource; it is authorized on \"*\"", AssumeNoResource)
		return op, reqs, nil
	}
	for _, typ := range a.ResourceTypes {
		var id string
		switch typ {
		case ResourceKeyID:
			id = firstNonEmpty(op.Params["key_id"], c.KeyID)
		case ResourceKeystore:
			id = firstNonEmpty(op.Params["keystore_id"], c.KeystoreID)
		case ResourceAlias:
			id = c.Alias
		}
		if id == "" {
			return op, nil, fmt.Errorf("%w: %s needs the %s it acts on (Call.%s)", ErrMissingFact, op.Action, typ, map[string]string{ResourceKeyID: "KeyID", ResourceKeystore: "KeystoreID", ResourceAlias: "Alias"}[typ])
		}
		if c.Region == "" || c.Account == "" {
			return op, nil, fmt.Errorf("%w: %s needs Call.Region and Call.Account to build the %s URN", ErrMissingFact, op.Action, typ)
		}
		var as Assumption
		why := op.Action + " is authorized on the " + typ
		if op.Action == "kms:alias:associate" && typ == ResourceKeyID {
			as, why = AssumeAliasAssociateRequestKey, "kms:alias:associate is authorized on the key named in the request"
		}
		add("kms:"+c.Region+":"+c.Account+":"+typ+":"+id, why, as)
	}
	return op, reqs, nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// Check expands one Huawei Cloud KMS HTTP call into its units and
// evaluates each.
func (s *PolicySet) Check(principal string, c Call) Report {
	rep := Report{Principal: principal, Call: c}
	op, reqs, err := Expand(c)
	rep.Action = op.Action
	if err != nil {
		rep.Err = err
		rep.Decision = Decision{Effect: ImplicitDeny, Err: err}
		return rep
	}
	rep.Decision, rep.Checks = core.CheckAll(reqs, func(_ int, rq Requirement) Decision {
		return s.Evaluate(Request{Principal: principal, Action: rq.Action, Resource: rq.Resource, Context: c.Context, Org: c.Org})
	})
	return rep
}

// Preflight checks, before any call is made, whether principal may make
// each Huawei Cloud KMS HTTP call under the policies of the set.
func (s *PolicySet) Preflight(principal string, calls ...Call) []Report {
	out := make([]Report, len(calls))
	for i, c := range calls {
		out[i] = s.Check(principal, c)
	}
	return out
}
