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
	identity  []core.Attachment
	resources map[string][]core.Attachment
	n         int
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
	var holder core.Principal
	switch kind {
	case RAMPolicy:
		if target != "" {
			pr, ok := parseRequestPrincipal(target)
			if !ok || (pr.Kind != core.PrincipalUser && pr.Kind != core.PrincipalRole) {
				return errors.New("localauthz: a RAM policy attaches to a user or role ARN (acs:ram::<uid>:user/<name> or :role/<name>), not " + strconv.Quote(target))
			}
			holder = pr
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
	a := core.Attach(p, target, s.n)
	a.Holder = holder
	s.n++
	if kind == RAMPolicy {
		s.identity = append(s.identity, a)
		return nil
	}
	if s.resources == nil {
		s.resources = make(map[string][]core.Attachment)
	}
	s.resources[target] = append(s.resources[target], a)
	return nil
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
	if err := core.RequestError(r.Principal, ok, "acs:ram::<uid>:user/<name>, :role/<name>, :root or acs:sts::<uid>:assumed-role/<role>/<session>", r.Action, r.Resource); err != nil {
		d.Effect, d.Err = ImplicitDeny, err
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
	var ram, rs core.Side // the RAM side and the key (secret) policy side
	act := core.Action{Name: r.Action, Keys: suppliedKeys(r.Action)}
	root := p.Kind == core.PrincipalRoot
	if !root { // RAM policies cannot be attached to the account root
		for i := range s.identity {
			a := &s.identity[i]
			if a.Holds(&p) && ram.Eval(a, act, r.Resource, &p, r.Context, &tr) {
				break
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
	if ram.Deny == nil && len(s.resources) > 0 {
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
				m := core.EvalMatch(a.Stmts, act, r.Resource, &p, r.Context, &tr)
				if rs.RecordDeny(a, m) {
					break
				}
				if capable && rs.NewAllow(m) {
					if !scope() {
						d.Assumptions |= AssumeKeyPolicyScope
						continue
					}
					rs.RecordAllow(a, m)
				}
			}
		}
	}
	d.Assumptions |= core.TraceAssumptions(&tr)

	if ref := core.FirstRef(ram.Deny, rs.Deny); ref != nil {
		core.DenyBy(d, r.Action, r.Resource, ref)
		if ram.Deny == nil && tr.AccountPrincipal {
			d.Assumptions |= AssumeAccountPrincipal
		}
		return
	}
	// Three-valued: in the owning account a RAM or a resource policy Allow
	// suffices (the account root needs none); across accounts both sides
	// are needed, so a side that maybe allows makes the whole maybe, and a
	// side that does not, not.
	ramSide, resSide := ram.Allows(), rs.Allows()
	if root {
		ramSide = core.Yes
	}
	allowed := ramSide.Or(resSide)
	if cross {
		allowed = ramSide.And(resSide)
	}
	maybeDeny := core.FirstRef(ram.MaybeDeny, rs.MaybeDeny)
	switch core.Outcome(allowed, maybeDeny != nil) {
	case Conditional:
		// A Deny that maybe applies, or an Allow that only maybe does:
		// KMS, which sees the unknown keys, decides.
		core.MakeConditional(d, &tr, maybeDeny != nil, allowed == core.Maybe, core.FirstRef(maybeDeny, ram.MaybeAllow, rs.MaybeAllow))
		if root && !cross {
			d.Assumptions |= AssumeAccountRoot
		}
		return
	case Allow:
		d.Effect = Allow
		d.Decider = core.FirstRef(ram.Allow, rs.Allow)
		if root && !cross {
			d.Assumptions |= AssumeAccountRoot
		}
		return
	}
	// Not allowed even if every unknown key were favourable (a Deny that
	// maybe applies can only deny more): an implicit deny.
	ramOK, resOK := ramSide != core.No, resSide != core.No

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
	core.ExplainTrace(d, &tr)
	core.ExplainBlocked(d, &tr, r.Context, act.Keys, grantsWhere, s.identity, s.resources[r.Resource])
	if !ramOK && core.CaseOnlyMismatch(s.identity, act, r.Resource, &p) {
		d.Assumptions |= AssumeCaseSensitiveResource
	}
}

// grantsWhere reports whether a statement of attachment a can grant a
// pair missing at w: a RAM policy's what RAM can grant, a key or secret
// policy's what that policy can (in the owning account either grants a
// pair missing at WhereRAMOrKey or WhereRAMOrSecret).
func grantsWhere(a *core.Attachment, w Where) bool {
	isRAM := a.Kind == RAMPolicy
	switch {
	case w == WhereRAM && !isRAM,
		(w == WhereKey || w == WhereSecret) && isRAM:
		return false
	}
	return true
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

func compileGlobs(patterns ...string) []core.Glob { return core.CompileGlobs(patterns, true) }

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
