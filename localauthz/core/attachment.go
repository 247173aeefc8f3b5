package core

import (
	"errors"
	"strconv"
)

// This file is the part of a decision every dialect makes the same way:
// the policies a set holds, how the statements of one side of a decision
// (the caller's identity policies, a resource's policies) are folded into
// the first that deny and allow, and how an implicit deny is explained.
// What differs between dialects (which sides exist, how they combine,
// where a missing permission goes) stays in the dialect.

// Attachment is a policy as a dialect's policy set holds it: its compiled
// statements, the statements as written (for explanations), a reference
// to each, and where it is attached.
type Attachment struct {
	Kind    PolicyKind
	Version string
	Stmts   []Statement
	Docs    []StatementDoc
	Refs    []StatementRef
	// Holder is the identity an identity policy is attached to; kind
	// PrincipalNone: whichever principal is evaluated.
	Holder Principal
	// Target is where the policy is attached, as the dialect's Add was
	// given it (a resource's ARN, an SCP's level).
	Target string
}

// Attach returns the attachment of p at target. A policy without a name
// (see [WithName]) is named "<kind>[<n>]", n counting the policies added
// to the set.
func Attach(p *Policy, target string, n int) Attachment {
	name := p.name
	if name == "" {
		name = string(p.kind) + "[" + strconv.Itoa(n) + "]"
	}
	docs := p.doc.Statements
	a := Attachment{Kind: p.kind, Version: p.doc.Version, Stmts: p.stmts, Docs: docs, Target: target, Refs: make([]StatementRef, len(docs))}
	for i := range docs {
		a.Refs[i] = StatementRef{Policy: name, Kind: p.kind, Statement: i, Sid: docs[i].Sid}
	}
	return a
}

// Holds reports whether the attachment's holder covers the caller p: any
// caller when it has none, else the holder itself or, for a role, any of
// its sessions.
func (a *Attachment) Holds(p *Principal) bool {
	return a.Holder.Kind == PrincipalNone || p.MatchedBy(&a.Holder)
}

// Side collects, over the policies of one side of a decision, the first
// statement that denies the request, the first that allows it, and the
// first Deny and Allow that maybe match (see [EvalMatch]). The zero value
// is empty.
type Side struct {
	Allow, Deny, MaybeAllow, MaybeDeny *StatementRef
	// AllowSt and DenySt are the statements of Allow and Deny.
	AllowSt, DenySt *Statement
}

// Eval evaluates the statements of a and records the outcome (see
// [Side.Record]); it reports whether a denies the request.
func (sd *Side) Eval(a *Attachment, act Action, resource string, p *Principal, ctx Context, tr *Trace) bool {
	return sd.Record(a, EvalMatch(a.Stmts, act, resource, p, ctx, tr))
}

// Record records m, the outcome of a's statements: its Deny, and
// otherwise the Allows and Denies not recorded yet. It reports whether a
// denies the request; the caller then stops.
func (sd *Side) Record(a *Attachment, m Match) bool {
	if sd.RecordDeny(a, m) {
		return true
	}
	sd.RecordAllow(a, m)
	return false
}

// RecordDeny records m's Deny and reports true, or else records a Deny
// that maybe matches if the side has none yet.
func (sd *Side) RecordDeny(a *Attachment, m Match) bool {
	if m.Deny >= 0 {
		sd.Deny, sd.DenySt = &a.Refs[m.Deny], &a.Stmts[m.Deny]
		return true
	}
	if m.MaybeDeny >= 0 && sd.MaybeDeny == nil {
		sd.MaybeDeny = &a.Refs[m.MaybeDeny]
	}
	return false
}

// NewAllow reports whether m has an Allow, or an Allow that maybe
// matches, of a kind the side has not recorded yet.
func (sd *Side) NewAllow(m Match) bool {
	return m.Allow >= 0 && sd.Allow == nil || m.MaybeAllow >= 0 && sd.MaybeAllow == nil
}

// RecordAllow records m's Allow and its Allow that maybe matches, each if
// the side has none yet.
func (sd *Side) RecordAllow(a *Attachment, m Match) {
	if m.Allow >= 0 && sd.Allow == nil {
		sd.Allow, sd.AllowSt = &a.Refs[m.Allow], &a.Stmts[m.Allow]
	}
	if m.MaybeAllow >= 0 && sd.MaybeAllow == nil {
		sd.MaybeAllow = &a.Refs[m.MaybeAllow]
	}
}

// Allows is the side's three-valued Allow.
func (sd *Side) Allows() Tri { return TriOf(sd.Allow != nil, sd.MaybeAllow != nil) }

// FirstRef returns the first non-nil reference, or nil.
func FirstRef(refs ...*StatementRef) *StatementRef {
	for _, r := range refs {
		if r != nil {
			return r
		}
	}
	return nil
}

// ErrIncompleteRequest is the [Decision].Err of a request without an
// action or a resource.
var ErrIncompleteRequest = errors.New("localauthz: request needs an action and a resource")

// RequestError returns why a request is malformed, for [Decision].Err
// (the request is then implicitly denied): its principal did not parse
// (parsed is false; forms lists what the dialect accepts), or it lacks an
// action or a resource. It returns nil for a well-formed request.
func RequestError(principal string, parsed bool, forms, action, resource string) error {
	if !parsed {
		return errors.New("localauthz: invalid principal " + strconv.Quote(principal) + "; expected " + forms)
	}
	if action == "" || resource == "" {
		return ErrIncompleteRequest
	}
	return nil
}

// Outcome is the effect of the three-valued combination every dialect
// makes once its sides are evaluated and no Deny definitely applies:
// allowed is whether the request is allowed, maybeDeny whether a Deny
// maybe applies. Something allows and the outcome hinges on a key the
// client does not know (a Deny maybe applies, or the Allow only maybe
// does): Conditional; it definitely allows: Allow; else ImplicitDeny (a
// Deny that maybe applies could only deny more).
func Outcome(allowed Tri, maybeDeny bool) Effect {
	switch {
	case allowed != No && (maybeDeny || allowed == Maybe):
		return Conditional
	case allowed == Yes:
		return Allow
	}
	return ImplicitDeny
}

// DenyBy makes d an ExplicitDeny of (action, resource) by the statement
// ref.
func DenyBy(d *Decision, action, resource string, ref *StatementRef) {
	d.Effect = ExplicitDeny
	d.Decider = ref
	d.Denied = []Denied{{Action: action, Resource: resource, StatementRef: *ref}}
}

// MakeConditional makes d Conditional, decided by decider: KMS, which
// sees the unknown keys, decides. The keys it hinges on are those tested
// by Deny statements that maybe apply (deny) and by Allow statements that
// only maybe apply (allow).
func MakeConditional(d *Decision, tr *Trace, deny, allow bool, decider *StatementRef) {
	d.Effect = Conditional
	d.Assumptions |= AssumeUnknownKeyConditional
	d.ConditionKeys = tr.HingeKeys(deny, allow)
	d.Decider = decider
}

// ExplainTrace records in an implicitly denied d what the trace knows
// about statements that did not apply: the condition keys the request
// lacked ([AssumeAbsentKeyFails]) and the conditions it did not meet.
func ExplainTrace(d *Decision, tr *Trace) {
	if d.MissingConditionKeys = tr.MissingKeys(); d.MissingConditionKeys != nil {
		d.Assumptions |= AssumeAbsentKeyFails
	}
	d.UnmetConditions = tr.UnmetConditions()
}

// Locate finds the statement st among groups of attachments: its
// attachment and index, or nil.
func Locate(st *Statement, groups ...[]Attachment) (*Attachment, int) {
	for _, g := range groups {
		for i := range g {
			a := &g[i]
			for j := range a.Stmts {
				if &a.Stmts[j] == st {
					return a, j
				}
			}
		}
	}
	return nil, -1
}

// ExplainBlocked lists in d.Unmet, for each pair of d.Missing, the Allow
// statements the trace blocked (see [Trace.Blocked]) that cover the
// request but whose condition it did not meet, and that can grant the
// pair where it is missing: grants(a, w) says whether a statement of
// attachment a grants a pair missing at w. No unconditional grant is then
// suggested for the pair (that would drop the condition). groups are the
// attachments the evaluation considered; keys the classes the action
// supplies.
func ExplainBlocked(d *Decision, tr *Trace, ctx Context, keys KeyClass, grants func(a *Attachment, w Where) bool, groups ...[]Attachment) {
	for i := 0; i < tr.NumBlocked(); i++ {
		st, c := tr.Blocked(i)
		a, j := Locate(st, groups...)
		if a == nil {
			continue
		}
		for _, m := range d.Missing {
			if !grants(a, m.Where) {
				continue
			}
			d.Unmet = append(d.Unmet, Unmet{
				Action: m.Action, Resource: m.Resource, Where: m.Where, StatementRef: a.Refs[j],
				Condition:  c.Describe() + "; " + DescribeRequest(c, ctx, keys),
				Conditions: ConditionJSON(a.Docs[j].Conds),
			})
		}
	}
}

// CaseOnlyMismatch reports whether an Allow statement of the attachments
// that hold p covers act and would have matched resource had case been
// ignored ([AssumeCaseSensitiveResource]).
func CaseOnlyMismatch(atts []Attachment, act Action, resource string, p *Principal) bool {
	for i := range atts {
		a := &atts[i]
		if !a.Holds(p) {
			continue
		}
		for j := range a.Stmts {
			st := &a.Stmts[j]
			if st.Deny || st.NotResource || !st.MatchesAction(act) || st.MatchesResource(resource) {
				continue
			}
			if st.MatchesResourceFold(resource) {
				return true
			}
		}
	}
	return false
}

// ContainsAnyByte is strings.ContainsAny for a short ASCII set, without
// the set construction cost on the evaluation path.
func ContainsAnyByte(s, chars string) bool {
	for i := 0; i < len(s); i++ {
		for j := 0; j < len(chars); j++ {
			if s[i] == chars[j] {
				return true
			}
		}
	}
	return false
}
