package localauthz

import (
	"bytes"
	"encoding/json"
	"strings"
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

// Check is the decision for one requirement of a call.
type Check struct {
	Requirement
	Decision Decision `json:"decision"`
}

// Report is the preflight result of one call.
type Report struct {
	Principal string `json:"principal"`
	Call      Call   `json:"call"`
	// Decision aggregates the checks: ExplicitDeny if any requirement is
	// denied, else ImplicitDeny if any is missing, else Allow.
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
	rep.Checks = make([]Check, len(reqs))
	for i, rq := range reqs {
		inInstance := c.Facts.InKMSInstance
		if v, ok := c.Facts.InstanceResources[rq.Resource]; ok {
			inInstance = v
		}
		d := s.Evaluate(Request{Principal: principal, Action: rq.Action, Resource: rq.Resource, Context: requirementContext(c, rq.Resource), InKMSInstance: inInstance})
		d.Assumptions |= rq.Assumptions
		rep.Checks[i] = Check{Requirement: rq, Decision: d}
	}
	rep.Decision = aggregate(rep.Checks)
	if rep.Decision.Effect != ExplicitDeny && rep.Decision.Assumptions.Has(AssumeSecretKeyUnknown) {
		// The call may also need kms:Decrypt (kms:GenerateDataKey) on a
		// self-managed key that nobody named: deny, and say what is missing.
		rep.Decision.Effect = ImplicitDeny
		rep.Decision.Decider = nil
		rep.Decision.MissingFacts = append(rep.Decision.MissingFacts, factSecretKeyType)
	}
	return rep
}

// factSecretKeyType is the fact a secret operation lacks when neither the
// secret's encryption key nor its type is given.
const factSecretKeyType = "Facts.EncryptionKeyType (service-managed) or Facts.EncryptionKey: the key that encrypts the secret"

// requirementContext is the call's context with the kms:tag/<key> condition
// keys of resource, when Facts.Tags knows them. An alias presents the tags
// of its target key.
func requirementContext(c Call, resource string) Context {
	tags, ok := c.Facts.Tags[resource]
	if !ok && c.Facts.AliasTargetKey != "" && strings.Contains(resource, ":alias/") {
		tags, ok = c.Facts.Tags[c.Facts.AliasTargetKey]
	}
	if !ok {
		return c.Context
	}
	out := make(Context, len(c.Context)+len(tags))
	for k, v := range c.Context {
		if !strings.HasPrefix(strings.ToLower(k), "kms:tag/") {
			out[k] = v
		}
	}
	for k, v := range tags {
		out.Set("kms:tag/"+k, v)
	}
	return out
}

// aggregate combines the decisions of an operation's requirements.
func aggregate(checks []Check) Decision {
	out := Decision{Effect: Allow}
	for _, c := range checks {
		d := c.Decision
		out.Assumptions |= d.Assumptions
		out.Missing = append(out.Missing, d.Missing...)
		out.Denied = append(out.Denied, d.Denied...)
		for _, k := range d.MissingConditionKeys {
			if !contains(out.MissingConditionKeys, k) {
				out.MissingConditionKeys = append(out.MissingConditionKeys, k)
			}
		}
		for _, k := range d.UnmetConditions {
			if !contains(out.UnmetConditions, k) {
				out.UnmetConditions = append(out.UnmetConditions, k)
			}
		}
		for _, k := range d.MissingFacts {
			if !contains(out.MissingFacts, k) {
				out.MissingFacts = append(out.MissingFacts, k)
			}
		}
		if out.Err == nil {
			out.Err = d.Err
		}
		switch {
		case d.Effect == ExplicitDeny && out.Effect != ExplicitDeny:
			out.Effect, out.Decider = ExplicitDeny, d.Decider
		case d.Effect == ImplicitDeny && out.Effect == Allow:
			out.Effect, out.Decider = ImplicitDeny, nil
		case d.Effect == Allow && out.Effect == Allow && out.Decider == nil:
			out.Decider = d.Decider
		}
	}
	if out.Effect == ExplicitDeny {
		// granting the missing pairs would not help; the deny decides
		out.Missing, out.MissingConditionKeys, out.UnmetConditions = nil, nil, nil
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Grant is a policy change that would grant what is missing.
type Grant struct {
	// Where is WhereRAM (a RAM policy document to attach to the caller),
	// WhereKey or WhereSecret (one statement to add to the key or secret
	// policy of Resource); for Huawei Cloud WhereIdentity (a 5.0 identity
	// policy), WhereSCP (an SCP Allow statement) or WhereResource (a
	// statement for the key's resource policy).
	Where    Where           `json:"where"`
	Resource string          `json:"resource,omitempty"`
	Policy   json.RawMessage `json:"policy"`
}

// Grants returns the minimal policy changes that grant what the report
// lists as missing.
func (r Report) Grants() []Grant { return SuggestGrants(r.Principal, r.Decision.Missing) }

// SuggestGrants returns minimal grants for missing pairs: one RAM policy
// document covering every pair that a RAM policy can grant (grouping
// actions that share resources), and one key or secret policy statement
// per key or secret that needs one. Pairs grantable in either place are
// granted in RAM. Pairs no policy can grant (another account's alias) get
// no suggestion.
func SuggestGrants(principal string, missing []Missing) []Grant {
	var ram, identity, scp []Missing
	var resOrder []string
	byRes := map[string][]string{}
	resWhere := map[string]Where{}
	for _, m := range missing {
		switch m.Where {
		case WhereRAM, WhereRAMOrKey, WhereRAMOrSecret:
			ram = append(ram, m)
		case WhereIdentity:
			identity = append(identity, m)
		case WhereSCP:
			scp = append(scp, m)
		case WhereKey, WhereSecret, WhereResource:
			if m.Where == WhereResource {
				if u, ok := parseURN(m.Resource); !ok || u.typ != HuaweiResourceKeyID {
					continue // only keys carry a resource policy
				}
			} else if r, ok := parseARN(m.Resource); !ok || (r.kmsType() != kmsKey && r.kmsType() != kmsSecret) {
				continue // aliases and containers cannot carry a policy; nothing to suggest
			}
			if _, ok := byRes[m.Resource]; !ok {
				resOrder = append(resOrder, m.Resource)
				resWhere[m.Resource] = m.Where
			}
			if !contains(byRes[m.Resource], m.Action) {
				byRes[m.Resource] = append(byRes[m.Resource], m.Action)
			}
		}
	}
	var out []Grant
	if len(ram) > 0 {
		out = append(out, Grant{Where: WhereRAM, Policy: policyFor("1", ram)})
	}
	if len(identity) > 0 {
		out = append(out, Grant{Where: WhereIdentity, Policy: policyFor("5.0", identity)})
	}
	if len(scp) > 0 {
		var actions []string
		for _, m := range scp {
			if !contains(actions, m.Action) {
				actions = append(actions, m.Action)
			}
		}
		var b bytes.Buffer
		b.WriteString(`{"Effect":"Allow","Action":`)
		writeJSONStrings(&b, actions)
		b.WriteString(`,"Resource":["*"]}`)
		out = append(out, Grant{Where: WhereSCP, Policy: b.Bytes()})
	}
	pARN := PolicyHolder(principal)
	for _, res := range resOrder {
		var b bytes.Buffer
		if resWhere[res] == WhereResource {
			acct := ""
			if p, ok := parseHuaweiRequestPrincipal(principal); ok {
				acct = p.account
			}
			b.WriteString(`{"Effect":"Allow","Principal":{"IAM":`)
			writeJSONStrings(&b, []string{acct})
		} else {
			b.WriteString(`{"Effect":"Allow","Principal":{"RAM":`)
			writeJSONStrings(&b, []string{pARN})
		}
		b.WriteString(`},"Action":`)
		writeJSONStrings(&b, byRes[res])
		b.WriteString(`,"Resource":["*"]}`)
		out = append(out, Grant{Where: resWhere[res], Resource: res, Policy: b.Bytes()})
	}
	return out
}

// PolicyHolder returns the identity policies must name or be attached to
// for principal: the role of an assumed-role session, else the principal
// itself.
func PolicyHolder(principal string) string {
	if p, ok := parseHuaweiRequestPrincipal(principal); ok && p.kind == pkSession {
		return "iam::" + p.account + ":agency:" + p.name
	}
	if p, ok := parseRequestPrincipal(principal); ok && p.kind == pkSession {
		return "acs:ram::" + p.account + ":role/" + strings.ToLower(p.name)
	}
	return principal
}

// policyFor builds {"Version":version,"Statement":[...]} granting exactly
// the pairs: actions with the same resource set share a statement.
func policyFor(version string, pairs []Missing) json.RawMessage {
	var actions []string
	resOf := map[string][]string{}
	for _, m := range pairs {
		if _, ok := resOf[m.Action]; !ok {
			actions = append(actions, m.Action)
		}
		if !contains(resOf[m.Action], m.Resource) {
			resOf[m.Action] = append(resOf[m.Action], m.Resource)
		}
	}
	type stmt struct{ actions, resources []string }
	var stmts []stmt
	for _, act := range actions {
		key := strings.Join(resOf[act], "\n")
		merged := false
		for i := range stmts {
			if strings.Join(stmts[i].resources, "\n") == key {
				stmts[i].actions = append(stmts[i].actions, act)
				merged = true
				break
			}
		}
		if !merged {
			stmts = append(stmts, stmt{actions: []string{act}, resources: resOf[act]})
		}
	}
	var b bytes.Buffer
	b.WriteString(`{"Version":"` + version + `","Statement":[`)
	for i, s := range stmts {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"Effect":"Allow","Action":`)
		writeJSONStrings(&b, s.actions)
		b.WriteString(`,"Resource":`)
		writeJSONStrings(&b, s.resources)
		b.WriteByte('}')
	}
	b.WriteString("]}")
	return b.Bytes()
}

// Text renders the report for people, one fact per line.
func (r Report) Text() string {
	var b strings.Builder
	b.WriteString(r.Call.Operation)
	if r.Call.Resource != "" {
		b.WriteString(" " + r.Call.Resource)
	}
	b.WriteString(": " + string(r.Decision.Effect) + "\n")
	if r.Err != nil {
		b.WriteString("  error: " + r.Err.Error() + "\n")
	}
	for _, c := range r.Checks {
		b.WriteString("  " + c.Action + " on " + c.Resource + ": " + string(c.Decision.Effect))
		if c.Decision.Decider != nil {
			b.WriteString(" by " + c.Decision.Decider.String())
		}
		b.WriteString("\n")
	}
	writeDecisionDetails(&b, "  ", r.Decision)
	for _, g := range r.Grants() {
		switch g.Where {
		case WhereRAM:
			b.WriteString("  grant in a RAM policy of " + PolicyHolder(r.Principal) + ":\n    " + string(g.Policy) + "\n")
		case WhereIdentity:
			b.WriteString("  grant in an identity policy of " + PolicyHolder(r.Principal) + ":\n    " + string(g.Policy) + "\n")
		case WhereSCP:
			b.WriteString("  allow in an SCP at every level of the caller's organization path that lacks it:\n    " + string(g.Policy) + "\n")
		default:
			b.WriteString("  add to the " + string(g.Where) + " policy of " + g.Resource + ":\n    " + string(g.Policy) + "\n")
		}
	}
	return b.String()
}

// writeDecisionDetails writes missing pairs, denials, absent condition keys
// and assumptions, one per line.
func writeDecisionDetails(b *strings.Builder, indent string, d Decision) {
	for _, m := range d.Missing {
		b.WriteString(indent + "missing: " + m.Action + " on " + m.Resource + " (grant in " + string(m.Where) + ")\n")
	}
	for _, x := range d.Denied {
		b.WriteString(indent + "denied: " + x.Action + " on " + x.Resource + " by " + x.StatementRef.String() + "\n")
	}
	if len(d.MissingConditionKeys) > 0 {
		b.WriteString(indent + "condition keys absent from the request: " + strings.Join(d.MissingConditionKeys, ", ") + "\n")
	}
	if len(d.UnmetConditions) > 0 {
		b.WriteString(indent + "conditions not met: " + strings.Join(d.UnmetConditions, ", ") + "\n")
	}
	for _, f := range d.MissingFacts {
		b.WriteString(indent + "missing fact (denied until known): " + f + "\n")
	}
	for _, a := range d.Assumptions.List() {
		b.WriteString(indent + "assumption " + a.Code() + ": " + a.Description() + "\n")
	}
}

// MarshalJSON renders the report with its grants and error.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	var errText string
	if r.Err != nil {
		errText = r.Err.Error()
	}
	return json.Marshal(struct {
		plain
		Grants []Grant `json:"grants,omitempty"`
		Error  string  `json:"error,omitempty"`
	}{plain(r), r.Grants(), errText})
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
// allowed (for example the key and the alias URN of a Huawei
// kms:alias:create), and aggregates them like [PolicySet.Check]:
// ExplicitDeny if any unit is denied, else ImplicitDeny if any is missing,
// else Allow.
func (s *PolicySet) EvaluateAll(reqs ...Request) (Decision, []Check) {
	checks := make([]Check, len(reqs))
	for i, r := range reqs {
		checks[i] = Check{Requirement: Requirement{Action: r.Action, Resource: r.Resource}, Decision: s.Evaluate(r)}
	}
	return aggregate(checks), checks
}
