package localauthz

import (
	"errors"
	"strconv"
	"strings"

	"github.com/kmsenvelope/kmsenvelope/localauthz/core"
)

// Where a missing Alibaba Cloud permission must be granted.
const (
	// WhereRAM: a RAM identity policy of the caller.
	WhereRAM Where = "ram"
	// WhereKey: the key policy of the key (cross-account access).
	WhereKey Where = "key"
	// WhereRAMOrKey: either a RAM policy or the key policy (same account,
	// key in a KMS instance, action within key-policy scope).
	WhereRAMOrKey Where = "ram-or-key"
	// WhereSecret: the secret policy of the secret (cross-account access).
	WhereSecret Where = "secret"
	// WhereRAMOrSecret: either a RAM policy or the secret policy.
	WhereRAMOrSecret Where = "ram-or-secret"
	// WhereControlPolicy: a resource directory control policy (reported by
	// KMS only; see [FromAccessDenied]).
	WhereControlPolicy Where = "control-policy"
)

// Wheres returns every place an Alibaba Cloud permission can be missing.
func Wheres() []Where {
	return []Where{WhereRAM, WhereKey, WhereRAMOrKey, WhereSecret, WhereRAMOrSecret, WhereControlPolicy}
}

// ContextKeyEndpoint is a context key of this package (not of RAM), matched
// exactly: the KMS endpoint host the request is sent to. A KMS instance endpoint
// (*.cryptoservice.kms.aliyuncs.com) adds [AssumeInstanceEndpoint].
const ContextKeyEndpoint = "localauthz:endpoint"

// Request is one (principal, action, resource) authorization unit.
type Request struct {
	// Principal is the caller: acs:ram::<uid>:user/<name>, :role/<name>,
	// :root, or acs:sts::<uid>:assumed-role/<role>/<session>.
	Principal string
	// Action is a KMS action such as kms:Decrypt.
	Action string
	// Resource is the ARN of the key, alias, secret or container, or "*"
	// for operations without a resource.
	Resource string
	// Context carries the request's condition keys; nil means none.
	Context Context
	// InKMSInstance reports that Resource is a key or secret in a KMS
	// instance; key and secret policies are consulted only then.
	InKMSInstance bool
}

// PolicySet holds the policies an evaluation considers: RAM identity
// policies (attached to a principal, or to whichever principal is
// evaluated), and key and secret policies by resource ARN.
//
// The zero value is an empty set ready to use. A PolicySet must not be
// modified while it is being evaluated; evaluation itself is safe for
// concurrent use.
type PolicySet struct {
	identity  []attachment
	resources map[string][]attachment
	n         int
}

type attachment struct {
	stmts []core.Statement
	docs  []core.StatementDoc // the statements as written, for explanations
	to    core.Principal      // holder of a RAM policy; kind PrincipalNone: any caller
	refs  []StatementRef
}

// Add adds a policy to the set. For a RAM policy, target is the user or
// role ARN the policy is attached to, or "" to apply it to every principal
// evaluated (a flat list for one principal); an assumed-role session holds
// its role's policies. For a key or secret policy, target is the ARN of the
// key or secret the policy belongs to. A policy of another dialect is an
// error.
func (s *PolicySet) Add(p *Policy, target string) error {
	if p == nil {
		return errors.New("localauthz: nil policy")
	}
	kind := p.Kind()
	if !validKind(kind) {
		return errors.New("localauthz: a " + string(kind) + " policy is not an Alibaba Cloud policy (ram, key or secret)")
	}
	a := attachment{stmts: p.Statements()}
	switch kind {
	case RAMPolicy:
		if target != "" {
			pr, ok := parseRequestPrincipal(target)
			if !ok || (pr.Kind != core.PrincipalUser && pr.Kind != core.PrincipalRole) {
				return errors.New("localauthz: a RAM policy attaches to a user or role ARN (acs:ram::<uid>:user/<name> or :role/<name>), not " + strconv.Quote(target))
			}
			a.to = pr
		}
	default:
		r, ok := parseARN(target)
		want := kmsKey
		if kind == SecretPolicy {
			want = kmsSecret
		}
		if !ok || r.kmsType() != want || !r.concrete() || strings.ContainsAny(r.relative, "*?") {
			return errors.New("localauthz: a " + string(kind) + " policy attaches to a " + string(kind) + " ARN, not " + strconv.Quote(target))
		}
	}
	name := p.Name()
	if name == "" {
		name = string(kind) + "[" + strconv.Itoa(s.n) + "]"
	}
	s.n++
	stmts := p.Document().Statements
	a.docs = stmts
	a.refs = make([]StatementRef, len(stmts))
	for i, st := range stmts {
		a.refs[i] = StatementRef{Policy: name, Kind: kind, Statement: i, Sid: st.Sid}
	}
	if kind == RAMPolicy {
		s.identity = append(s.identity, a)
		return nil
	}
	if s.resources == nil {
		s.resources = make(map[string][]attachment)
	}
	s.resources[target] = append(s.resources[target], a)
	return nil
}

// holds reports whether the RAM policy holder a covers the caller p: the
// user itself, or the role of a role or session.
func (a *attachment) holds(p *core.Principal) bool {
	return a.to.Kind == core.PrincipalNone || p.MatchedBy(&a.to)
}

// Evaluate decides one request.
//
// RAM semantics: an explicit Deny in any applicable policy wins; otherwise
// an Allow is needed, else the result is an implicit deny. In the account
// that owns the resource an Allow in either a RAM policy or the key (secret)
// policy suffices, and the account root needs none. Across accounts both the
// caller's RAM policy and the key (secret) policy must allow. Key and secret
// policies apply only to resources in a KMS instance, and grant only actions
// within their scope.
//
// kms:DescribeRegions needs no permission and is always allowed.
//
// Evaluate does not allocate when the result is Allow.
func (s *PolicySet) Evaluate(r Request) Decision {
	var d Decision
	s.evaluate(&r, &d)
	return d
}

func (s *PolicySet) evaluate(r *Request, d *Decision) {
	p, ok := parseRequestPrincipal(r.Principal)
	if !ok {
		d.Effect = ImplicitDeny
		d.Err = errors.New("localauthz: invalid principal " + strconv.Quote(r.Principal) + "; expected acs:ram::<uid>:user/<name>, :role/<name>, :root or acs:sts::<uid>:assumed-role/<role>/<session>")
		return
	}
	if r.Action == "" || r.Resource == "" {
		d.Effect = ImplicitDeny
		d.Err = errors.New("localauthz: request needs an action and a resource")
		return
	}
	if strings.EqualFold(r.Action, actionDescribeRegions) {
		// "The DescribeRegions operation does not require access control"
		// (seed 000); callers "are not affected if authorization is denied
		// in RAM" (seed 002): no policy, not even a Deny, decides it.
		d.Effect = Allow
		return
	}
	if len(r.Action) > 4 && strings.EqualFold(r.Action[:4], "kms:") && !strings.ContainsAny(r.Action, "*?") && !isKnownKMSAction(r.Action) {
		d.Effect = ImplicitDeny
		d.Err = unknownActionError(r.Action)
		return
	}
	if p.Kind == core.PrincipalSession {
		d.Assumptions |= AssumeSessionAsRole
	}
	// this package's own key: exact lookup, no case folding
	if ep := r.Context[ContextKeyEndpoint]; len(ep) > 0 && strings.Contains(ep[0], "cryptoservice") {
		d.Assumptions |= AssumeInstanceEndpoint
	}

	res, isARN := parseARN(r.Resource)
	typ := kmsOther
	cross := false
	if isARN {
		typ = res.kmsType()
		cross = res.concrete() && res.account != "" && res.account != p.Account
	}

	var tr core.Trace
	var ramAllow, ramDeny, resAllow, resDeny *StatementRef
	var ramMaybeAllow, ramMaybeDeny, resMaybeAllow, resMaybeDeny *StatementRef
	act := core.Action{Name: r.Action, Keys: suppliedKeys(r.Action)}
	root := p.Kind == core.PrincipalRoot
	if !root { // RAM policies cannot be attached to the account root
		for i := range s.identity {
			a := &s.identity[i]
			if !a.holds(&p) {
				continue
			}
			m := core.EvalMatch(a.stmts, act, r.Resource, &p, r.Context, &tr)
			if m.Deny >= 0 {
				ramDeny = &a.refs[m.Deny]
				break
			}
			if m.Allow >= 0 && ramAllow == nil {
				ramAllow = &a.refs[m.Allow]
			}
			if m.MaybeAllow >= 0 && ramMaybeAllow == nil {
				ramMaybeAllow = &a.refs[m.MaybeAllow]
			}
			if m.MaybeDeny >= 0 && ramMaybeDeny == nil {
				ramMaybeDeny = &a.refs[m.MaybeDeny]
			}
		}
	}

	resKind, where := PolicyKind(""), WhereRAM
	switch typ {
	case kmsKey:
		resKind, where = KeyPolicy, WhereRAMOrKey
	case kmsSecret:
		resKind, where = SecretPolicy, WhereRAMOrSecret
	}
	capable := resKind != "" && r.InKMSInstance
	// scope is needed only when a resource policy allows, or to say where
	// a missing permission goes
	scopeKnown, inScope := false, false
	scope := func() bool {
		if !scopeKnown {
			scopeKnown, inScope = true, capable && inResourcePolicyScope(resKind, r.Action, cross)
		}
		return inScope
	}
	if ramDeny == nil && len(s.resources) > 0 {
		if atts := s.resources[r.Resource]; len(atts) > 0 {
			if !capable {
				d.Assumptions |= AssumeResourcePolicyOutsideInstance
			}
			// Outside a KMS instance a key or secret has no resource policy,
			// so one registered for it means the instance fact is likely
			// missing: its Deny statements still apply (a Deny is never
			// dropped on a fact), its Allows do not.
			for i := range atts {
				a := &atts[i]
				m := core.EvalMatch(a.stmts, act, r.Resource, &p, r.Context, &tr)
				if m.Deny >= 0 {
					resDeny = &a.refs[m.Deny]
					break
				}
				if m.MaybeDeny >= 0 && resMaybeDeny == nil {
					resMaybeDeny = &a.refs[m.MaybeDeny]
				}
				if capable && (m.Allow >= 0 && resAllow == nil || m.MaybeAllow >= 0 && resMaybeAllow == nil) {
					if !scope() {
						d.Assumptions |= AssumeKeyPolicyScope
						continue
					}
					if m.Allow >= 0 && resAllow == nil {
						resAllow = &a.refs[m.Allow]
					}
					if m.MaybeAllow >= 0 && resMaybeAllow == nil {
						resMaybeAllow = &a.refs[m.MaybeAllow]
					}
				}
			}
		}
	}
	d.Assumptions |= core.TraceAssumptions(&tr)

	if ramDeny != nil || resDeny != nil {
		ref := ramDeny
		if ref == nil {
			ref = resDeny
		}
		d.Effect = ExplicitDeny
		d.Decider = ref
		d.Denied = []Denied{{Action: r.Action, Resource: r.Resource, StatementRef: *ref}}
		if ramDeny == nil && tr.AccountPrincipal {
			d.Assumptions |= AssumeAccountPrincipal
		}
		return
	}
	// Three-valued: in the owning account a RAM or a resource policy Allow
	// suffices; across accounts both sides are needed, so a side that maybe
	// allows makes the whole maybe, and a side that does not, not.
	ramSide := core.TriOf(root || ramAllow != nil, ramMaybeAllow != nil)
	resSide := core.TriOf(resAllow != nil, resMaybeAllow != nil)
	allowed := ramSide.Or(resSide)
	if cross {
		allowed = ramSide.And(resSide)
	}
	maybeDeny := firstRef(ramMaybeDeny, resMaybeDeny)
	switch {
	case allowed != core.No && (maybeDeny != nil || allowed == core.Maybe):
		// A Deny that maybe applies, or an Allow that only maybe does:
		// KMS, which sees the unknown keys, decides.
		d.Effect = Conditional
		d.Assumptions |= AssumeUnknownKeyConditional
		d.ConditionKeys = tr.HingeKeys(maybeDeny != nil, allowed == core.Maybe)
		d.Decider = maybeDeny
		if d.Decider == nil {
			d.Decider = firstRef(ramMaybeAllow, resMaybeAllow)
		}
		if root && !cross {
			d.Assumptions |= AssumeAccountRoot
		}
		return
	case allowed == core.Yes:
		d.Effect = Allow
		d.Decider = ramAllow
		if d.Decider == nil {
			d.Decider = resAllow
		}
		if root && !cross {
			d.Assumptions |= AssumeAccountRoot
		}
		return
	}
	// Not allowed even if every unknown key were favourable (a Deny that
	// maybe applies can only deny more): an implicit deny.
	ramOK := root || ramAllow != nil || ramMaybeAllow != nil
	resOK := resAllow != nil || resMaybeAllow != nil

	d.Effect = ImplicitDeny
	if tr.AccountPrincipal {
		d.Assumptions |= AssumeAccountPrincipal
	}
	if !cross {
		if !scope() {
			where = WhereRAM
		}
		d.Missing = []Missing{{Action: r.Action, Resource: r.Resource, Where: where}}
	} else {
		if !ramOK {
			d.Missing = append(d.Missing, Missing{Action: r.Action, Resource: r.Resource, Where: WhereRAM})
		}
		if !resOK {
			w := WhereKey
			if typ == kmsSecret {
				w = WhereSecret
			}
			d.Missing = append(d.Missing, Missing{Action: r.Action, Resource: r.Resource, Where: w})
			switch {
			case !capable:
				d.Assumptions |= AssumeCrossAccountNeedsResourcePolicy
			case !scope():
				d.Assumptions |= AssumeKeyPolicyScope
			}
		}
	}
	if d.MissingConditionKeys = tr.MissingKeys(); d.MissingConditionKeys != nil {
		d.Assumptions |= AssumeAbsentKeyFails
	}
	d.UnmetConditions = tr.UnmetConditions()
	s.explainBlocked(r, act.Keys, &tr, d)
	if !ramOK && s.caseOnlyMismatch(r, &p) {
		d.Assumptions |= AssumeCaseSensitiveResource
	}
}

func firstRef(refs ...*StatementRef) *StatementRef {
	for _, r := range refs {
		if r != nil {
			return r
		}
	}
	return nil
}

// explainBlocked lists in d.Unmet, for each missing pair, the Allow
// statements of the place it names that cover the request but whose
// condition the request did not meet: no unconditional grant is then
// suggested for the pair (that would drop the condition).
func (s *PolicySet) explainBlocked(r *Request, keys core.KeyClass, tr *core.Trace, d *Decision) {
	for i := 0; i < tr.NumBlocked(); i++ {
		st, c := tr.Blocked(i)
		ref, doc, isRAM := s.locate(r.Resource, st)
		if ref == nil {
			continue
		}
		for _, m := range d.Missing {
			switch {
			case m.Where == WhereRAM && !isRAM,
				(m.Where == WhereKey || m.Where == WhereSecret) && isRAM:
				continue
			}
			d.Unmet = append(d.Unmet, core.Unmet{
				Action: m.Action, Resource: m.Resource, Where: m.Where, StatementRef: *ref,
				Condition:  c.Describe() + "; " + core.DescribeRequest(c, r.Context, keys),
				Conditions: core.ConditionJSON(doc.Conds),
			})
		}
	}
}

// locate finds the policy statement st of an attachment that applies to
// resource: its reference, its document, and whether it is a RAM policy's.
func (s *PolicySet) locate(resource string, st *core.Statement) (*StatementRef, *core.StatementDoc, bool) {
	for i := range s.identity {
		a := &s.identity[i]
		for j := range a.stmts {
			if &a.stmts[j] == st {
				return &a.refs[j], &a.docs[j], true
			}
		}
	}
	atts := s.resources[resource]
	for i := range atts {
		a := &atts[i]
		for j := range a.stmts {
			if &a.stmts[j] == st {
				return &a.refs[j], &a.docs[j], false
			}
		}
	}
	return nil, nil, false
}

// caseOnlyMismatch reports whether some applicable RAM statement would have
// matched the resource if case were ignored.
func (s *PolicySet) caseOnlyMismatch(r *Request, p *core.Principal) bool {
	for i := range s.identity {
		a := &s.identity[i]
		if !a.holds(p) {
			continue
		}
		for j := range a.stmts {
			st := &a.stmts[j]
			if st.Deny || !st.MatchesAction(core.Action{Name: r.Action}) || st.MatchesResource(r.Resource) {
				continue
			}
			if st.MatchesResourceFold(r.Resource) {
				return true
			}
		}
	}
	return false
}

// Key-policy scope (seed 004): the actions a key policy can grant. Users of
// other accounts can only be "users" of a key, so the narrower list applies
// to them.
var (
	keyPolicyScope = compileGlobs(
		"kms:List*", "kms:Describe*", "kms:Create*", "kms:Enable*", "kms:Disable*",
		"kms:Get*", "kms:Set*", "kms:Update*", "kms:Delete*", "kms:Cancel*",
		"kms:TagResource", "kms:UntagResource", "kms:ImportKeyMaterial", "kms:ScheduleKeyDeletion",
		"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:GenerateAndExportDataKey",
		"kms:AsymmetricEncrypt", "kms:AsymmetricDecrypt", "kms:DescribeKey", "kms:DescribeKeyVersion",
		"kms:ListKeyVersions", "kms:ListAliasesByKeyId")
	keyPolicyUserScope = compileGlobs(
		"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:GenerateAndExportDataKey",
		"kms:AsymmetricEncrypt", "kms:AsymmetricDecrypt", "kms:DescribeKey", "kms:DescribeKeyVersion",
		"kms:ListKeyVersions", "kms:ListAliasesByKeyId", "kms:TagResource")
	// Secret policies: no scope list is published; the actions whose
	// resource is a secret are assumed grantable, to any principal.
	secretPolicyScope = compileGlobs(
		"kms:DescribeSecret", "kms:DeleteSecret", "kms:UpdateSecret", "kms:RestoreSecret",
		"kms:GetSecretValue", "kms:PutSecretValue", "kms:ListSecretVersionIds",
		"kms:UpdateSecretVersionStage", "kms:RotateSecret", "kms:ListResourceTags",
		"kms:TagResource", "kms:UntagResource")
)

func compileGlobs(patterns ...string) []core.Glob {
	out := make([]core.Glob, len(patterns))
	for i, p := range patterns {
		out[i] = core.CompileGlob(p, true)
	}
	return out
}

func inResourcePolicyScope(kind PolicyKind, action string, cross bool) bool {
	scope := keyPolicyScope
	switch {
	case kind == SecretPolicy:
		scope = secretPolicyScope
	case cross:
		scope = keyPolicyUserScope
	}
	for i := range scope {
		if scope[i].Match(action) {
			return true
		}
	}
	return false
}
