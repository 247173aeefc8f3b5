package localauthz

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// Effect is the outcome of an evaluation.
type Effect string

const (
	// Allow: some statement allows the request and none denies it.
	Allow Effect = "Allow"
	// ImplicitDeny: no statement allows the request (or, across accounts,
	// one of the two sides does not).
	ImplicitDeny Effect = "ImplicitDeny"
	// ExplicitDeny: a Deny statement matches the request.
	ExplicitDeny Effect = "ExplicitDeny"
)

// Values returns every Effect.
func (Effect) Values() []Effect { return []Effect{Allow, ImplicitDeny, ExplicitDeny} }

// Where names the place a missing permission must be granted.
type Where string

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
	// WhereIdentity: a Huawei Cloud identity policy of the caller.
	WhereIdentity Where = "identity"
	// WhereSCP: a Huawei Cloud Organizations service control policy on the
	// caller's path (SCPs grant nothing; they bound what identity policies
	// can grant).
	WhereSCP Where = "scp"
	// WhereResource: the Huawei Cloud resource policy of the key
	// (cross-account access).
	WhereResource Where = "resource"
)

// Values returns every Where.
func (Where) Values() []Where {
	return []Where{WhereRAM, WhereKey, WhereRAMOrKey, WhereSecret, WhereRAMOrSecret, WhereControlPolicy,
		WhereIdentity, WhereSCP, WhereResource}
}

// Missing is one (action, resource) pair that must be granted, and where.
type Missing struct {
	Action   string `json:"action"`
	Resource string `json:"resource"`
	Where    Where  `json:"where"`
}

// StatementRef identifies one statement of a policy in a [PolicySet].
type StatementRef struct {
	Policy    string     `json:"policy"`    // the policy's name (see WithName) or "<kind>[<n>]"
	Kind      PolicyKind `json:"kind"`      // the policy's kind
	Statement int        `json:"statement"` // index in the policy's Statement list (0 for a single object; -1 unknown)
	Sid       string     `json:"sid,omitempty"`
}

// String returns a short reference such as `ram[0] Statement[1] (Sid "x")`.
func (r StatementRef) String() string {
	s := r.Policy + " Statement[" + strconv.Itoa(r.Statement) + "]"
	if r.Sid != "" {
		s += " (Sid " + strconv.Quote(r.Sid) + ")"
	}
	return s
}

// Denied is one (action, resource) pair that a statement explicitly denies.
type Denied struct {
	Action   string `json:"action"`
	Resource string `json:"resource"`
	StatementRef
}

// Decision is the result of evaluating a [Request].
type Decision struct {
	Effect Effect `json:"effect"`
	// Decider is the statement that decided: the denying statement for
	// ExplicitDeny, an allowing statement for Allow (nil when the account
	// root's ownership decided), nil for ImplicitDeny.
	Decider *StatementRef `json:"decider,omitempty"`
	// Missing lists what must be granted, for ImplicitDeny.
	Missing []Missing `json:"missing"`
	// Denied lists the explicitly denied pairs, for ExplicitDeny.
	Denied []Denied `json:"denied"`
	// MissingConditionKeys lists condition keys that statements tested but
	// the request did not carry, for ImplicitDeny.
	MissingConditionKeys []string `json:"missingConditionKeys,omitempty"`
	// UnmetConditions lists conditions, as "Operator key", whose key was
	// present but whose test failed, for ImplicitDeny.
	UnmetConditions []string `json:"unmetConditions,omitempty"`
	// MissingFacts names what the library would have needed to know to
	// decide without erring toward denial (for example the caller's
	// organization path when OU-level SCPs exist, or the key type of a
	// secret); a decision with missing facts is never Allow.
	MissingFacts []string `json:"missingFacts,omitempty"`
	// Assumptions lists the documented readings the decision relied on.
	Assumptions Assumption `json:"assumptions"`
	// Err is non-nil when the request itself is malformed (for example an
	// unparsable principal); Effect is then ImplicitDeny.
	Err error `json:"-"`
}

// MarshalJSON encodes the decision with empty lists as [] rather than null.
func (d Decision) MarshalJSON() ([]byte, error) {
	type plain Decision
	if d.Missing == nil {
		d.Missing = []Missing{}
	}
	if d.Denied == nil {
		d.Denied = []Denied{}
	}
	return json.Marshal(plain(d))
}

// Context holds the condition keys of a request and their values, such as
// acs:SourceIp, acs:CurrentTime or kms:tag/Project. Keys are looked up
// case-insensitively. A key with several values is multi-valued.
type Context map[string][]string

// Set sets key to values, replacing any previous values.
func (c Context) Set(key string, values ...string) { c[key] = values }

// Get returns the first value of key.
func (c Context) Get(key string) (string, bool) {
	v := c.lookup(key)
	if len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// UnmarshalJSON accepts an object whose values are a string, number or
// boolean, or an array of them: {"acs:SourceIp": "10.0.0.1",
// "kms:tag/env": ["prod", "staging"]}.
func (c *Context) UnmarshalJSON(data []byte) error {
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	out := make(Context, len(raw))
	for k, v := range raw {
		vals, ok := v.([]any)
		if !ok {
			vals = []any{v}
		}
		for _, e := range vals {
			var s string
			switch t := e.(type) {
			case string:
				s = t
			case bool:
				s = strconv.FormatBool(t)
			case float64:
				s = strconv.FormatFloat(t, 'f', -1, 64)
			default:
				return errors.New("localauthz: context key " + strconv.Quote(k) + ": values must be strings, numbers or booleans")
			}
			out[k] = append(out[k], s)
		}
	}
	*c = out
	return nil
}

func (c Context) lookup(key string) []string {
	if v, ok := c[key]; ok {
		return v
	}
	for k, v := range c {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

// ContextKeyEndpoint is a context key of this package (not of RAM), matched
// exactly: the KMS endpoint host the request is sent to. A KMS instance endpoint
// (*.cryptoservice.kms.aliyuncs.com) adds [AssumeInstanceEndpoint].
const ContextKeyEndpoint = "localauthz:endpoint"

// Request is one (principal, action, resource) authorization unit.
type Request struct {
	// Principal is the caller: acs:ram::<uid>:user/<name>, :role/<name>,
	// :root, or acs:sts::<uid>:assumed-role/<role>/<session>; for Huawei
	// Cloud iam::<account-id>:user:<name>,
	// sts::<account-id>:assumed-agency:<agency>/<session> or
	// sts::<account-id>:external-user:<idp>/<session>.
	Principal string
	// Action is a KMS action such as kms:Decrypt (Huawei Cloud:
	// kms:cmk:decryptData).
	Action string
	// Resource is the ARN (URN) of the key, alias, secret or container, or
	// "*" for operations without a resource.
	Resource string
	// Context carries the request's condition keys; nil means none.
	Context Context
	// InKMSInstance reports that Resource is a key or secret in a KMS
	// instance; key and secret policies are consulted only then (Alibaba
	// Cloud only).
	InKMSInstance bool
	// Org places the caller's account in a Huawei Cloud organization, for
	// service control policies; nil means unknown (see [Org]).
	Org *Org
}

// PolicySet holds the policies an evaluation considers: RAM identity
// policies (attached to a principal, or to whichever principal is
// evaluated), and key and secret policies by resource ARN; or, in the
// Huawei Cloud dialect, identity policies, SCPs by attachment and KMS
// resource policies by key URN. All policies of a set share one dialect.
//
// The zero value is an empty set ready to use. A PolicySet must not be
// modified while it is being evaluated; evaluation itself is safe for
// concurrent use.
type PolicySet struct {
	dialect   Dialect // of the first policy added; "" while empty
	identity  []attachment
	resources map[string][]attachment
	scps      []attachment // Huawei service control policies
	n         int
}

type attachment struct {
	policy *Policy
	to     principal // holder of a RAM (identity) policy; kind pkNone: any caller
	target string    // an SCP's attachment: "root", "ou:<id>", "account:<id>" or "" (the caller's account)
	refs   []StatementRef
}

// Add adds a policy to the set. For a RAM policy, target is the user or
// role ARN the policy is attached to, or "" to apply it to every principal
// evaluated (a flat list for one principal); an assumed-role session holds
// its role's policies. For a key or secret policy, target is the ARN of the
// key or secret the policy belongs to.
//
// Huawei Cloud: for an identity policy target is informational ("",
// "user:alice", "group:devs") unless it is a user or agency URN
// (iam::<account-id>:user:<name>, iam::<account-id>:agency:<name>), which
// restricts the policy to that identity (an agency's sessions); for an SCP
// it is "root", "ou:<id>", "account:<id>", or "" for the caller's account;
// for a resource policy the key URN. A policy of the other dialect than
// the set's is an error.
func (s *PolicySet) Add(p *Policy, target string) error {
	if p == nil {
		return errors.New("localauthz: nil policy")
	}
	if d := p.kind.Dialect(); s.dialect != "" && d != s.dialect {
		return errors.New("localauthz: a " + string(d) + " policy cannot join a set of " + string(s.dialect) + " policies")
	}
	a := attachment{policy: p}
	switch p.kind {
	case RAMPolicy:
		if target != "" {
			pr, ok := parseRequestPrincipal(target)
			if !ok || (pr.kind != pkUser && pr.kind != pkRole) {
				return errors.New("localauthz: a RAM policy attaches to a user or role ARN (acs:ram::<uid>:user/<name> or :role/<name>), not " + strconv.Quote(target))
			}
			a.to = pr
		}
	case HuaweiIdentityPolicy, HuaweiSCP, HuaweiResourcePolicy:
		if err := a.huaweiTarget(target); err != nil {
			return err
		}
	default:
		r, ok := parseARN(target)
		want := kmsKey
		if p.kind == SecretPolicy {
			want = kmsSecret
		}
		if !ok || r.kmsType() != want || !r.concrete() || strings.ContainsAny(r.relative, "*?") {
			return errors.New("localauthz: a " + string(p.kind) + " policy attaches to a " + string(p.kind) + " ARN, not " + strconv.Quote(target))
		}
	}
	name := p.name
	if name == "" {
		name = string(p.kind) + "[" + strconv.Itoa(s.n) + "]"
	}
	s.n++
	s.dialect = p.kind.Dialect()
	a.refs = make([]StatementRef, len(p.doc.statements))
	for i, st := range p.doc.statements {
		a.refs[i] = StatementRef{Policy: name, Kind: p.kind, Statement: i, Sid: st.sid}
	}
	switch p.kind {
	case RAMPolicy, HuaweiIdentityPolicy:
		s.identity = append(s.identity, a)
		return nil
	case HuaweiSCP:
		s.scps = append(s.scps, a)
		return nil
	}
	if s.resources == nil {
		s.resources = make(map[string][]attachment)
	}
	s.resources[target] = append(s.resources[target], a)
	return nil
}

// Dialect returns the dialect of the policies in the set, or "" when it is
// empty.
func (s *PolicySet) Dialect() Dialect { return s.dialect }

// holds reports whether the RAM policy holder a covers the caller p: the
// user itself, or the role of a role or session.
func (a *attachment) holds(p *principal) bool {
	return a.to.kind == pkNone || p.matchedBy(&a.to)
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
// Evaluate does not allocate when the result is Allow.
//
// A set of Huawei Cloud policies (or an empty set asked about a Huawei
// principal) is evaluated with Huawei's rules instead; see
// [PolicySet.Evaluate] in the package documentation (# Huawei Cloud).
func (s *PolicySet) Evaluate(r Request) Decision {
	var d Decision
	if s.dialect == DialectHuawei || s.dialect == "" && looksHuaweiPrincipal(r.Principal) {
		s.evaluateHuawei(&r, &d)
	} else {
		s.evaluate(&r, &d)
	}
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
	if p.kind == pkSession {
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
		cross = res.concrete() && res.account != "" && res.account != p.account
	}

	var tr matchTrace
	var ramAllow, ramDeny, resAllow, resDeny *StatementRef
	act := reqAction{name: r.Action, keys: suppliedKeys(r.Action)}
	root := p.kind == pkRoot
	if !root { // RAM policies cannot be attached to the account root
		for i := range s.identity {
			a := &s.identity[i]
			if !a.holds(&p) {
				continue
			}
			al, de := evalStatements(a.policy.stmts, act, r.Resource, &p, r.Context, &tr)
			if de >= 0 {
				ramDeny = &a.refs[de]
				break
			}
			if al >= 0 && ramAllow == nil {
				ramAllow = &a.refs[al]
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
				al, de := evalStatements(a.policy.stmts, act, r.Resource, &p, r.Context, &tr)
				if de >= 0 {
					resDeny = &a.refs[de]
					break
				}
				if capable && al >= 0 && resAllow == nil {
					if scope() {
						resAllow = &a.refs[al]
					} else {
						d.Assumptions |= AssumeKeyPolicyScope
					}
				}
			}
		}
	}
	if tr.negatedAbsent {
		d.Assumptions |= AssumeAbsentKeyNegated
	}

	ramOK := root || ramAllow != nil
	switch {
	case ramDeny != nil || resDeny != nil:
		ref := ramDeny
		if ref == nil {
			ref = resDeny
		}
		d.Effect = ExplicitDeny
		d.Decider = ref
		d.Denied = []Denied{{Action: r.Action, Resource: r.Resource, StatementRef: *ref}}
		if ramDeny == nil && tr.accountPrincipal {
			d.Assumptions |= AssumeAccountPrincipal
		}
		return
	case !cross && (ramOK || resAllow != nil), cross && ramOK && resAllow != nil:
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

	d.Effect = ImplicitDeny
	if tr.accountPrincipal {
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
		if resAllow == nil {
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
	if tr.nMissing > 0 {
		d.MissingConditionKeys = append([]string(nil), tr.missing[:tr.nMissing]...)
		d.Assumptions |= AssumeAbsentKeyFails
	}
	for _, c := range tr.failed[:tr.nFailed] {
		d.UnmetConditions = append(d.UnmetConditions, c.name+" "+c.key)
	}
	if !ramOK && s.caseOnlyMismatch(r, &p) {
		d.Assumptions |= AssumeCaseSensitiveResource
	}
}

// caseOnlyMismatch reports whether some applicable RAM statement would have
// matched the resource if case were ignored.
func (s *PolicySet) caseOnlyMismatch(r *Request, p *principal) bool {
	for i := range s.identity {
		a := &s.identity[i]
		if !a.holds(p) {
			continue
		}
		for j := range a.policy.stmts {
			st := &a.policy.stmts[j]
			if st.deny || !st.matchesAction(r.Action) || st.matchesResource(r.Resource) {
				continue
			}
			for k := range st.resources {
				if st.resources[k].matchFold(r.Resource) {
					return true
				}
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

func compileGlobs(patterns ...string) []glob {
	out := make([]glob, len(patterns))
	for i, p := range patterns {
		out[i] = compileGlob(p, true)
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
		if scope[i].match(action) {
			return true
		}
	}
	return false
}
