package localauthz

import (
	"encoding/json"
	"strings"

	"github.com/kmsenvelope/kmsenvelope/localauthz/core"
)

// Call is one KMS operation an application intends to make.
type Call struct {
	// Operation is the KMS API name, e.g. "GetSecretValue".
	Operation string `json:"operation"`
	// Resource is the ARN the call names (see [Expand]).
	Resource string `json:"resource"`
	// Facts describe related resources (the secret's key, an alias's
	// target, whether keys are in a KMS instance).
	Facts Facts `json:"facts"`
	// Context carries the condition keys the call will present.
	Context Context `json:"context,omitempty"`
}

// Report is the preflight result of one call.
type Report struct {
	Principal string `json:"principal"`
	Call      Call   `json:"call"`
	// Decision aggregates the checks: ExplicitDeny if any requirement is
	// denied, else ImplicitDeny if any is missing, else Conditional if any
	// hinges on a key the client does not know (KMS decides), else Allow.
	Decision Decision `json:"decision"`
	Checks   []Check  `json:"checks"`
	// Err is set when the call could not be expanded (unknown operation,
	// missing facts); Decision is then ImplicitDeny with nothing missing.
	Err error `json:"-"`
}

// Preflight checks, before any KMS call is made, whether principal may make
// each call under the policies of the set.
func (s *PolicySet) Preflight(principal string, calls ...Call) []Report {
	out := make([]Report, len(calls))
	for i, c := range calls {
		out[i] = s.Check(principal, c)
	}
	return out
}

// Check expands one call into its requirements and evaluates each.
func (s *PolicySet) Check(principal string, c Call) Report {
	rep := Report{Principal: principal, Call: c}
	reqs, err := Expand(c.Operation, c.Resource, c.Facts)
	if err != nil {
		rep.Err = err
		rep.Decision = Decision{Effect: ImplicitDeny, Err: err}
		return rep
	}
	rep.Decision, rep.Checks = core.CheckAll(reqs, func(_ int, rq Requirement) Decision {
		return s.Evaluate(c.Facts.Request(principal, rq.Action, rq.Resource, c.Context))
	})
	if rep.Decision.Effect != ExplicitDeny && rep.Decision.Assumptions.Has(AssumeSecretKeyUnknown) {
		// The call may also need kms:Decrypt (kms:GenerateDataKey) on a
		// self-managed key that nobody named: deny, and say what is missing.
		rep.Decision.Effect = ImplicitDeny
		rep.Decision.Decider = nil
		rep.Decision.ConditionKeys = nil
		rep.Decision.MissingFacts = append(rep.Decision.MissingFacts, factSecretKeyType)
	}
	return rep
}

// factSecretKeyType is the fact a secret operation lacks when neither the
// secret's encryption key nor its type is given.
const factSecretKeyType = "Facts.EncryptionKeyType (service-managed) or Facts.EncryptionKey: the key that encrypts the secret"

// Request is the request for one (action, resource) requirement under the
// facts: InKMSInstance from InstanceResources[resource] when it is set,
// else from InKMSInstance; and ctx with the kms:tag/<key> condition keys
// of resource when Tags knows them (an alias presents the tags of its
// target key, AliasTargetKey), replacing any kms:tag keys of ctx.
func (f Facts) Request(principal, action, resource string, ctx Context) Request {
	inInstance := f.InKMSInstance
	if v, ok := f.InstanceResources[resource]; ok {
		inInstance = v
	}
	tags, ok := f.Tags[resource]
	if !ok && strings.Contains(resource, ":alias/") {
		// An alias, which cannot be tagged, presents the tags of its target
		// key: the destination alias of a ReEncrypt its own target's.
		target := f.AliasTargetKey
		if resource == f.DestinationKey && f.DestinationAliasTargetKey != "" {
			target = f.DestinationAliasTargetKey
		}
		if target != "" {
			tags, ok = f.Tags[target]
		}
	}
	if ok {
		out := make(Context, len(ctx)+len(tags))
		for k, v := range ctx {
			if !strings.HasPrefix(strings.ToLower(k), "kms:tag/") {
				out[k] = v
			}
		}
		for k, v := range tags {
			out.Set("kms:tag/"+k, v)
		}
		ctx = out
	}
	return Request{Principal: principal, Action: action, Resource: resource, Context: ctx, InKMSInstance: inInstance}
}

// Grant is a policy change that would grant what is missing: for
// [WhereRAM] a RAM policy document to attach to the caller, for
// [WhereKey] or [WhereSecret] one statement to add to the key or secret
// policy of Resource.
type Grant = core.Grant

// Grants returns the minimal policy changes that grant what the report
// lists as missing; a pair that a statement already grants under a
// condition the request does not meet gets none (see [Unmet]).
func (r Report) Grants() []Grant {
	return SuggestGrants(r.Principal, r.Decision.Missing, r.Decision.Unmet...)
}

// SuggestGrants returns minimal grants for missing pairs: one RAM policy
// document covering every pair that a RAM policy can grant (grouping
// actions that share resources), and one key or secret policy statement
// per key or secret that needs one. Pairs grantable in either place are
// granted in RAM. Pairs no policy can grant (another account's alias) get
// no suggestion.
//
// A suggestion never drops or widens an existing condition: a pair that
// unmet (from [Decision].Unmet) lists for its place gets no suggestion,
// since a statement already grants it when its condition is met; and the
// key or secret policy statement suggested for the other side of a
// cross-account pair whose RAM side is so conditioned keeps those
// conditions.
func SuggestGrants(principal string, missing []Missing, unmet ...Unmet) []Grant {
	var ram []Missing
	type resGrant struct {
		res, cond string
		where     Where
		actions   []string
	}
	var resGrants []*resGrant
	for _, m := range missing {
		if len(core.UnmetFor(m, unmet)) > 0 {
			continue // granted under a condition the request does not meet
		}
		switch m.Where {
		case WhereRAM, WhereRAMOrKey, WhereRAMOrSecret:
			ram = append(ram, m)
		case WhereKey, WhereSecret:
			if r, ok := parseARN(m.Resource); !ok || (r.kmsType() != kmsKey && r.kmsType() != kmsSecret) {
				continue // aliases and containers cannot carry a policy; nothing to suggest
			}
			var cond string
			if um := core.UnmetFor(Missing{Action: m.Action, Resource: m.Resource, Where: WhereRAM}, unmet); len(um) > 0 {
				cond = string(um[0].Conditions)
			}
			var g *resGrant
			for _, x := range resGrants {
				if x.res == m.Resource && x.cond == cond {
					g = x
				}
			}
			if g == nil {
				g = &resGrant{res: m.Resource, cond: cond, where: m.Where}
				resGrants = append(resGrants, g)
			}
			g.actions = core.AppendUnique(g.actions, m.Action)
		}
	}
	var out []Grant
	if len(ram) > 0 {
		out = append(out, Grant{Where: WhereRAM, Policy: core.IdentityPolicyFor("1", ram)})
	}
	pARN := PolicyHolder(principal)
	for _, g := range resGrants {
		out = append(out, Grant{Where: g.where, Resource: g.res, Policy: core.AllowStatement("RAM", []string{pARN}, g.actions, json.RawMessage(g.cond))})
	}
	return out
}

// PolicyHolder returns the identity RAM policies must be attached to (and
// key policies name) for principal: the role of an assumed-role session,
// else the principal itself.
func PolicyHolder(principal string) string {
	if p, ok := parseRequestPrincipal(principal); ok && p.Kind == core.PrincipalSession {
		return "acs:ram::" + p.Account + ":role/" + strings.ToLower(p.Name)
	}
	return principal
}

// Text renders the report for people, one fact per line.
func (r Report) Text() string {
	head := r.Call.Operation
	if r.Call.Resource != "" {
		head += " " + r.Call.Resource
	}
	return core.ReportText(head, r.Err, r.Checks, r.Decision, r.Grants(), func(g Grant) string {
		if g.Where == WhereRAM {
			return "grant in a RAM policy of " + PolicyHolder(r.Principal)
		}
		return ""
	})
}

// MarshalJSON renders the report with its grants and error.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return core.MarshalReport(plain(r), r.Grants(), r.Err)
}

// AccessDeniedDetail is the AccessDeniedDetail of a KMS Forbidden.NoPermission
// error (field names as KMS returns them).
type AccessDeniedDetail struct {
	AuthAction               string `json:"AuthAction"`
	AuthPrincipalType        string `json:"AuthPrincipalType"`
	AuthPrincipalOwnerId     string `json:"AuthPrincipalOwnerId"`
	AuthPrincipalDisplayName string `json:"AuthPrincipalDisplayName"`
	NoPermissionType         string `json:"NoPermissionType"` // ImplicitDeny | ExplicitDeny
	PolicyType               string `json:"PolicyType"`       // e.g. AccountLevelIdentityBasedPolicy
	EncodedDiagnosticMessage string `json:"EncodedDiagnosticMessage,omitempty"`
}

// FromAccessDenied reports a real KMS access denial in the vocabulary of
// [Report]: the caller, the decision, and the missing or denied pair.
// resource is the ARN of the call (KMS does not return it); it may be "".
func FromAccessDenied(d AccessDeniedDetail, resource string) Report {
	principal := principalFromDetail(d)
	op := strings.TrimPrefix(d.AuthAction, "kms:")
	rep := Report{Principal: principal, Call: Call{Operation: op, Resource: resource}}
	where := WhereRAM
	switch pt := strings.ToLower(d.PolicyType); {
	case strings.Contains(pt, "control"):
		where = WhereControlPolicy
	case strings.Contains(pt, "resource") && !strings.Contains(pt, "resourcegroup"):
		where = WhereKey
	}
	if strings.EqualFold(d.NoPermissionType, string(ExplicitDeny)) {
		rep.Decision = Decision{Effect: ExplicitDeny, Denied: []Denied{{
			Action: d.AuthAction, Resource: resource,
			StatementRef: StatementRef{Policy: d.PolicyType, Kind: kindOfWhere(where), Statement: -1},
		}}}
		return rep
	}
	rep.Decision = Decision{Effect: ImplicitDeny, Missing: []Missing{{Action: d.AuthAction, Resource: resource, Where: where}}}
	return rep
}

func kindOfWhere(w Where) PolicyKind {
	if w == WhereKey {
		return KeyPolicy
	}
	if w == WhereRAM {
		return RAMPolicy
	}
	return ""
}

// principalFromDetail rebuilds the caller's ARN from the detail fields.
func principalFromDetail(d AccessDeniedDetail) string {
	uid, name := d.AuthPrincipalOwnerId, d.AuthPrincipalDisplayName
	switch strings.ToLower(d.AuthPrincipalType) {
	case "subuser", "user", "ramuser":
		return "acs:ram::" + uid + ":user/" + name
	case "assumedroleuser", "assumed-role", "role":
		role, session, ok := strings.Cut(name, ":")
		if !ok {
			role, session, ok = strings.Cut(name, "/")
		}
		if !ok {
			return "acs:ram::" + uid + ":role/" + strings.ToLower(name)
		}
		return "acs:sts::" + uid + ":assumed-role/" + role + "/" + session
	case "account", "root", "alibabacloudaccount":
		return "acs:ram::" + uid + ":root"
	}
	return "acs:ram::" + uid + ":" + strings.ToLower(d.AuthPrincipalType) + "/" + name
}

// EvaluateAll decides several authorization units that must all be
// allowed, and aggregates them like [PolicySet.Check]:
// ExplicitDeny if any unit is denied, else ImplicitDeny if any is missing,
// else Conditional if any is conditional, else Allow.
func (s *PolicySet) EvaluateAll(reqs ...Request) (Decision, []Check) {
	units := make([]Requirement, len(reqs))
	for i, r := range reqs {
		units[i] = Requirement{Action: r.Action, Resource: r.Resource}
	}
	return core.CheckAll(units, func(i int, _ Requirement) Decision { return s.Evaluate(reqs[i]) })
}
