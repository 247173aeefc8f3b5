package core

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Requirement is one (action, resource) pair an operation needs.
type Requirement struct {
	Action   string `json:"action"`
	Resource string `json:"resource"`
	Why      string `json:"why"`
	// Assumptions are the readings this requirement depends on.
	Assumptions Assumption `json:"assumptions,omitempty"`
}

// Check is the decision for one requirement of a call.
type Check struct {
	Requirement
	Decision Decision `json:"decision"`
}

// Aggregate combines the decisions of an operation's requirements:
// ExplicitDeny if any is denied, else ImplicitDeny if any is missing, else
// Conditional if any is conditional (ConditionKeys is then the union of
// theirs), else Allow (an empty list is allowed).
func Aggregate(checks []Check) Decision {
	out := Decision{Effect: Allow}
	for _, c := range checks {
		d := c.Decision
		out.Assumptions |= d.Assumptions
		out.Missing = append(out.Missing, d.Missing...)
		out.Denied = append(out.Denied, d.Denied...)
		out.Unmet = append(out.Unmet, d.Unmet...)
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
		if d.Effect == Conditional {
			out.ConditionKeys = ConditionKeys(out.ConditionKeys, d.ConditionKeys)
		}
		switch {
		case d.Effect == ExplicitDeny && out.Effect != ExplicitDeny:
			out.Effect, out.Decider = ExplicitDeny, d.Decider
		case d.Effect == ImplicitDeny && (out.Effect == Allow || out.Effect == Conditional):
			out.Effect, out.Decider = ImplicitDeny, nil
		case d.Effect == Conditional && out.Effect == Allow:
			out.Effect, out.Decider = Conditional, d.Decider
		case d.Effect == Allow && out.Effect == Allow && out.Decider == nil:
			out.Decider = d.Decider
		}
	}
	if out.Effect == ExplicitDeny {
		// granting the missing pairs would not help; the deny decides
		out.Missing, out.MissingConditionKeys, out.UnmetConditions, out.Unmet = nil, nil, nil, nil
	}
	if out.Effect != Conditional {
		out.ConditionKeys = nil // the outcome does not hinge on them
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

// WriteDecisionDetails writes a decision's missing pairs, denials, absent
// condition keys, unmet conditions, missing facts and assumptions, one per
// line, each after indent.
func WriteDecisionDetails(b *strings.Builder, indent string, d Decision) {
	for _, m := range d.Missing {
		if um := UnmetFor(m, d.Unmet); len(um) > 0 {
			b.WriteString(indent + "missing: " + m.Action + " on " + m.Resource + " (" + string(m.Where) + "): granted only under conditions the request does not meet; no grant is suggested (it would drop them):\n")
			for _, u := range um {
				b.WriteString(indent + "  " + u.String() + "\n")
			}
			continue
		}
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
	if d.Effect == Conditional && len(d.ConditionKeys) > 0 {
		b.WriteString(indent + "conditional on " + strings.Join(d.ConditionKeys, ", ") + " (the client does not know it; KMS decides)\n")
	}
	for _, f := range d.MissingFacts {
		b.WriteString(indent + "missing fact (denied until known): " + f + "\n")
	}
	for _, a := range d.Assumptions.List() {
		b.WriteString(indent + "assumption " + a.Code() + ": " + a.Description() + "\n")
	}
}

// Grant is a policy change that would grant what is missing: a policy
// document to attach to the caller, or a statement to add to the policy
// of Resource; Where says which (in the dialect's terms).
type Grant struct {
	Where    Where           `json:"where"`
	Resource string          `json:"resource,omitempty"`
	Policy   json.RawMessage `json:"policy"`
}

// IdentityPolicyFor builds {"Version":version,"Statement":[...]} granting exactly
// the pairs: actions with the same resource set share a statement.
func IdentityPolicyFor(version string, pairs []Missing) json.RawMessage {
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
		WriteJSONStrings(&b, s.actions)
		b.WriteString(`,"Resource":`)
		WriteJSONStrings(&b, s.resources)
		b.WriteByte('}')
	}
	b.WriteString("]}")
	return b.Bytes()
}

// ConditionJSON renders conditions as a Condition element,
// {"<operator>": {"<key>": ["<value>", ...]}}, operators and keys in the
// order written; nil for none.
func ConditionJSON(conds []ConditionDoc) json.RawMessage {
	if len(conds) == 0 {
		return nil
	}
	var ops []string
	byOp := map[string][]ConditionDoc{}
	for _, c := range conds {
		if _, ok := byOp[c.Op]; !ok {
			ops = append(ops, c.Op)
		}
		byOp[c.Op] = append(byOp[c.Op], c)
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, op := range ops {
		if i > 0 {
			b.WriteByte(',')
		}
		WriteJSONString(&b, op)
		b.WriteString(":{")
		for j, c := range byOp[op] {
			if j > 0 {
				b.WriteByte(',')
			}
			WriteJSONString(&b, c.Key)
			b.WriteByte(':')
			WriteJSONStrings(&b, c.Values)
		}
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return b.Bytes()
}

// CheckAll evaluates each requirement with eval, adds the requirement's
// assumptions to its decision, and aggregates the checks (see
// [Aggregate]).
func CheckAll(reqs []Requirement, eval func(i int, r Requirement) Decision) (Decision, []Check) {
	checks := make([]Check, len(reqs))
	for i, rq := range reqs {
		d := eval(i, rq)
		d.Assumptions |= rq.Assumptions
		checks[i] = Check{Requirement: rq, Decision: d}
	}
	return Aggregate(checks), checks
}

// ReportText renders a dialect's preflight report for people, one fact
// per line: "<head>: <effect>", the error, each check and the statement
// that decided it, the decision's details (see [WriteDecisionDetails]),
// then each grant under the heading grantHeading gives it; an empty
// heading is "add to the <where> policy of <resource>:".
func ReportText(head string, err error, checks []Check, d Decision, grants []Grant, grantHeading func(Grant) string) string {
	var b strings.Builder
	b.WriteString(head + ": " + string(d.Effect) + "\n")
	if err != nil {
		b.WriteString("  error: " + err.Error() + "\n")
	}
	for _, c := range checks {
		b.WriteString("  " + c.Action + " on " + c.Resource + ": " + string(c.Decision.Effect))
		if c.Decision.Decider != nil {
			b.WriteString(" by " + c.Decision.Decider.String())
		}
		b.WriteString("\n")
	}
	WriteDecisionDetails(&b, "  ", d)
	for _, g := range grants {
		h := grantHeading(g)
		if h == "" {
			h = "add to the " + string(g.Where) + " policy of " + g.Resource
		}
		b.WriteString("  " + h + ":\n    " + string(g.Policy) + "\n")
	}
	return b.String()
}

// MarshalReport encodes a dialect's report: the JSON object of plain (the
// report as a type without this MarshalJSON) followed by its "grants" and
// its "error" text, each omitted when empty.
func MarshalReport(plain any, grants []Grant, err error) ([]byte, error) {
	out, e := json.Marshal(plain)
	if e != nil {
		return nil, e
	}
	var extra struct {
		Grants []Grant `json:"grants,omitempty"`
		Error  string  `json:"error,omitempty"`
	}
	extra.Grants = grants
	if err != nil {
		extra.Error = err.Error()
	}
	more, e := json.Marshal(extra)
	if e != nil {
		return nil, e
	}
	if len(more) <= 2 || len(out) < 2 || out[len(out)-1] != '}' {
		return out, nil
	}
	if len(out) > 2 {
		out = append(out[:len(out)-1], ',')
	} else {
		out = out[:len(out)-1]
	}
	return append(out, more[1:]...), nil
}

// AllowStatement builds the statement {"Effect":"Allow","Principal":
// {"<principalOf>":[...]},"Action":[...],"Resource":["*"],"Condition":
// ...} that a grant suggests for a resource policy (or, without a
// principal, an SCP); principalOf "" leaves out Principal, a nil cond
// Condition.
func AllowStatement(principalOf string, principals, actions []string, cond json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	b.WriteString(`{"Effect":"Allow"`)
	if principalOf != "" {
		b.WriteString(`,"Principal":{`)
		WriteJSONString(&b, principalOf)
		b.WriteByte(':')
		WriteJSONStrings(&b, principals)
		b.WriteByte('}')
	}
	b.WriteString(`,"Action":`)
	WriteJSONStrings(&b, actions)
	b.WriteString(`,"Resource":["*"]`)
	if len(cond) > 0 {
		b.WriteString(`,"Condition":`)
		b.Write(cond)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// AppendUnique appends s to list unless list holds it.
func AppendUnique(list []string, s string) []string {
	if contains(list, s) {
		return list
	}
	return append(list, s)
}
