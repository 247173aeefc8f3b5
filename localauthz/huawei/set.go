package huawei

import (
	"errors"
	"strings"

	"github.com/kmsenvelope/kmsenvelope/localauthz/core"
)

// The vocabulary shared with every dialect (see the core package). The
// Alibaba Cloud package (localauthz) repeats the same list on purpose: Go
// cannot re-export, and each dialect is an entry point whose users should
// not need to import the core.
type (
	// Policy is a parsed, validated and compiled policy document.
	Policy = core.Policy
	// PolicyKind is the kind of policy document: [IdentityPolicy], [SCP]
	// or [ResourcePolicy].
	PolicyKind = core.PolicyKind
	// ParseOption configures [ParsePolicy].
	ParseOption = core.ParseOption
	// Effect is the outcome of an evaluation.
	Effect = core.Effect
	// Decision is the result of evaluating a [Request].
	Decision = core.Decision
	// Context holds the condition keys of a request, such as g:SourceIp or
	// kms:KeySpec; keys are looked up case-insensitively.
	Context = core.Context
	// Assumption is a set of documented readings a [Decision] relied on.
	Assumption = core.Assumption
	// Missing is one (action, resource) pair that must be granted, and where.
	Missing = core.Missing
	// Denied is one (action, resource) pair a statement explicitly denies.
	Denied = core.Denied
	// StatementRef identifies one statement of a policy in a [PolicySet].
	StatementRef = core.StatementRef
	// Where names the place a missing permission must be granted.
	Where = core.Where
	// Requirement is one (action, resource) unit a call needs.
	Requirement = core.Requirement
	// Check is the decision for one unit of a call.
	Check = core.Check
	// Grant is a policy change that would grant what is missing.
	Grant = core.Grant
	// Finding is one lint result.
	Finding = core.Finding
	// Severity grades a lint [Finding].
	Severity = core.Severity
	// PolicyError describes why a policy document was rejected.
	PolicyError = core.PolicyError
	// Unmet is an Allow statement that covers a missing unit but whose
	// condition the request does not meet.
	Unmet = core.Unmet
)

// Sentinel errors; a *[PolicyError] matches one of them with errors.Is.
var (
	ErrSyntax        = core.ErrSyntax
	ErrTooLarge      = core.ErrTooLarge
	ErrUnsupported   = core.ErrUnsupported
	ErrInvalidPolicy = core.ErrInvalidPolicy
)

// ErrMissingFact reports a call that needs a field [Call] lacks.
var ErrMissingFact = core.ErrMissingFact

// Severities.
const (
	SeverityError   = core.SeverityError
	SeverityWarning = core.SeverityWarning
	SeverityInfo    = core.SeverityInfo
)

// Effects.
const (
	Allow        = core.Allow
	ImplicitDeny = core.ImplicitDeny
	ExplicitDeny = core.ExplicitDeny
	// Conditional: the outcome hinges on request condition keys the
	// client does not know ([Context].SetUnknown); the service decides.
	Conditional = core.Conditional
)

// The Huawei Cloud policy kinds.
const (
	// IdentityPolicy is an IAM identity policy (Version "5.0") or legacy
	// fine-grained policy (Version "1.1") of the caller.
	IdentityPolicy PolicyKind = "identity"
	// SCP is an Organizations service control policy.
	SCP PolicyKind = "scp"
	// ResourcePolicy is a resource policy attached to a KMS key.
	ResourcePolicy PolicyKind = "resource"
)

// PolicyKinds returns the Huawei Cloud policy kinds.
func PolicyKinds() []PolicyKind { return []PolicyKind{IdentityPolicy, SCP, ResourcePolicy} }

func validKind(k PolicyKind) bool { return k == IdentityPolicy || k == SCP || k == ResourcePolicy }

// Where a missing Huawei Cloud permission must be granted.
const (
	// WhereIdentity: an identity policy of the caller.
	WhereIdentity Where = "identity"
	// WhereSCP: a service control policy on the caller's path (SCPs grant
	// nothing; they bound what identity policies can grant).
	WhereSCP Where = "scp"
	// WhereResource: the resource policy of the key (cross-account access).
	WhereResource Where = "resource"
)

// Wheres returns every place a Huawei Cloud permission can be missing.
func Wheres() []Where { return []Where{WhereIdentity, WhereSCP, WhereResource} }

// Request is one (principal, action, resource) authorization unit.
type Request struct {
	// Principal is the caller: iam::<account-id>:user:<name>,
	// sts::<account-id>:assumed-agency:<agency>/<session> or
	// sts::<account-id>:external-user:<idp>/<session>.
	Principal string
	// Action is a KMS action such as kms:cmk:decryptData.
	Action string
	// Resource is the URN of the key, alias or keystore, or "*".
	Resource string
	// Context carries the request's condition keys; nil means none.
	Context Context
	// Org places the caller's account in the organization, for service
	// control policies; nil means unknown (see [Org]).
	Org *Org
}

// PolicySet holds the policies an evaluation considers: identity policies,
// SCPs by attachment and KMS resource policies by key URN.
//
// The zero value is an empty set ready to use. A PolicySet must not be
// modified while it is being evaluated; evaluation itself is safe for
// concurrent use.
type PolicySet struct {
	identity  []core.Attachment
	resources map[string][]core.Attachment
	scps      []core.Attachment // Target: the SCP's attachment, "root", "ou:<id>", "account:<id>" or "" (the caller's account)
	n         int
}

// Add adds a policy to the set. For an identity policy target is
// informational ("", "user:alice", "group:devs") unless it is a user or
// agency URN (iam::<account-id>:user:<name>, iam::<account-id>:agency:<name>),
// which restricts the policy to that identity (an agency's sessions); for
// an SCP it is "root", "ou:<id>", "account:<id>", or "" for the caller's
// account; for a resource policy the key URN. A policy of another dialect
// is an error.
func (s *PolicySet) Add(p *Policy, target string) error {
	if p == nil {
		return errors.New("localauthz: nil policy")
	}
	kind := p.Kind()
	if !validKind(kind) {
		return errors.New("localauthz: a " + string(kind) + " policy is not a Huawei Cloud policy (identity, scp or resource)")
	}
	holder, err := huaweiTarget(kind, target)
	if err != nil {
		return err
	}
	a := core.Attach(p, target, s.n)
	a.Holder = holder
	s.n++
	switch kind {
	case IdentityPolicy:
		s.identity = append(s.identity, a)
	case SCP:
		s.scps = append(s.scps, a)
	default:
		if s.resources == nil {
			s.resources = make(map[string][]core.Attachment)
		}
		s.resources[target] = append(s.resources[target], a)
	}
	return nil
}

// Evaluate decides one (action, resource) unit with Huawei Cloud's rules
// (see the package documentation): an explicit Deny in an identity
// policy, the key's resource policy or an applicable SCP wins; SCPs grant
// nothing but every attachment level on the caller's path needs an Allow;
// in the account that owns the resource an identity or resource policy
// Allow suffices, across accounts both are needed.
//
// Evaluate does not allocate when the result is Allow.
func (s *PolicySet) Evaluate(r Request) Decision {
	var d Decision
	s.evaluate(&r, &d)
	return d
}

// EvaluateAll decides several units that must all be allowed (for example
// the key and the alias URN of kms:alias:create), and aggregates them:
// ExplicitDeny if any unit is denied, else ImplicitDeny if any is missing,
// else Conditional if any is conditional, else Allow.
func (s *PolicySet) EvaluateAll(reqs ...Request) (Decision, []Check) {
	units := make([]Requirement, len(reqs))
	for i, r := range reqs {
		units[i] = Requirement{Action: r.Action, Resource: r.Resource}
	}
	return core.CheckAll(units, func(i int, _ Requirement) Decision { return s.Evaluate(reqs[i]) })
}

// Report is the preflight result of one Huawei Cloud KMS call, or of
// several units of one action.
type Report struct {
	Principal string `json:"principal"`
	// Call is the HTTP call checked; for a report made from units, only
	// its Resources and Context are set.
	Call Call `json:"call"`
	// Action is the action the call needs.
	Action string `json:"action"`
	// Decision aggregates the checks: ExplicitDeny if any unit is denied,
	// else ImplicitDeny if any is missing, else Conditional if any hinges
	// on a key the client does not know, else Allow.
	Decision Decision `json:"decision"`
	Checks   []Check  `json:"checks"`
	// Err is set when the call could not be expanded (unknown API,
	// missing facts); Decision is then ImplicitDeny with nothing missing.
	Err error `json:"-"`
}

// Grants returns the minimal policy changes that grant what the report
// lists as missing.
func (r Report) Grants() []Grant {
	return SuggestGrants(r.Principal, r.Decision.Missing, r.Decision.Unmet...)
}

// Text renders the report for people, one fact per line.
func (r Report) Text() string {
	head := r.Action
	if r.Call.Method != "" {
		head = strings.ToUpper(r.Call.Method) + " " + r.Call.Path
	}
	var res []string
	for _, c := range r.Checks {
		res = append(res, c.Resource)
	}
	if len(res) > 0 {
		head += " " + strings.Join(res, " ")
	}
	return core.ReportText(head, r.Err, r.Checks, r.Decision, r.Grants(), func(g Grant) string {
		switch g.Where {
		case WhereIdentity:
			return "grant in an identity policy of " + PolicyHolder(r.Principal)
		case WhereSCP:
			return "allow in an SCP at every level of the caller's organization path that lacks it"
		}
		return ""
	})
}

// MarshalJSON renders the report with its grants and error.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return core.MarshalReport(plain(r), r.Grants(), r.Err)
}

// SuggestGrants returns minimal grants for missing units: one 5.0 identity
// policy for every unit an identity policy can grant, one SCP Allow
// statement for the SCP boundary, and one resource-policy statement per
// key that needs one (aliases and keystores carry no resource policy).
//
// A suggestion never drops or widens an existing condition: a unit that
// unmet (from [Decision].Unmet) lists for its place gets no suggestion, a
// statement already grants it when its condition is met.
func SuggestGrants(principal string, missing []Missing, unmet ...Unmet) []Grant {
	var identity, scp []Missing
	var resOrder []string
	byRes := map[string][]string{}
	for _, m := range missing {
		if len(core.UnmetFor(m, unmet)) > 0 {
			continue
		}
		switch m.Where {
		case WhereIdentity:
			identity = append(identity, m)
		case WhereSCP:
			scp = append(scp, m)
		case WhereResource:
			if u, ok := parseURN(m.Resource); !ok || u.typ != ResourceKeyID {
				continue // only keys carry a resource policy
			}
			if _, ok := byRes[m.Resource]; !ok {
				resOrder = append(resOrder, m.Resource)
			}
			byRes[m.Resource] = core.AppendUnique(byRes[m.Resource], m.Action)
		}
	}
	var out []Grant
	if len(identity) > 0 {
		out = append(out, Grant{Where: WhereIdentity, Policy: core.IdentityPolicyFor("5.0", identity)})
	}
	if len(scp) > 0 {
		var actions []string
		for _, m := range scp {
			actions = core.AppendUnique(actions, m.Action)
		}
		out = append(out, Grant{Where: WhereSCP, Policy: core.AllowStatement("", nil, actions, nil)})
	}
	acct := ""
	if p, ok := parseHuaweiRequestPrincipal(principal); ok {
		acct = p.Account
	}
	for _, res := range resOrder {
		out = append(out, Grant{Where: WhereResource, Resource: res, Policy: core.AllowStatement("IAM", []string{acct}, byRes[res], nil)})
	}
	return out
}

// PolicyHolder returns the identity that identity policies must be
// attached to for principal: the agency of an assumed-agency session,
// else the principal itself.
func PolicyHolder(principal string) string {
	if p, ok := parseHuaweiRequestPrincipal(principal); ok && p.Kind == core.PrincipalSession {
		return "iam::" + p.Account + ":agency:" + p.Name
	}
	return principal
}

// WithMaxSize sets the size limit in bytes; n <= 0 removes the limit.
func WithMaxSize(n int) ParseOption { return core.WithMaxSize(n) }

// WithName names the policy; the name appears in [StatementRef] and in
// reports. Without it a [PolicySet] names the policy by kind and position.
func WithName(name string) ParseOption { return core.WithName(name) }
