package core

import (
	"sort"
	"strings"
)

// This file is the evaluator: a compiled statement and how it matches a
// request. Dialect parsers produce Statement values; nothing here knows
// about JSON element names.

// Statement is one policy statement, compiled: action patterns are
// lowercased, resource patterns split by wildcard kind, condition values
// parsed. Dialect parsers build it; it must not be modified once it is in
// a [Policy].
type Statement struct {
	Deny        bool
	NotAction   bool
	NotResource bool        // NotResource: matches resources no pattern matches
	ActionMode  ActionMode  // how legacy action aliases take part in matching
	StrictStar  bool        // the request resource "*" is matched only by the pattern "*"
	Actions     []Glob      // ASCII case-insensitive
	Resources   []Glob      // case-sensitive; nil means "the resource the policy is attached to"
	ResourceSvc []string    // per resource: lower-case literal service matched case-insensitively (Resources[i] is then the rest); nil if none
	Principals  []Principal // nil for identity policies (the policy's holder is the principal)
	// AccountIsRoot: an account principal of an Allow names the account's
	// root identity only; a Deny still names every identity of the
	// account (Alibaba key and secret policies).
	AccountIsRoot bool
	Conds         []Condition // ANDed
}

// ActionMode says how a statement's action patterns meet the aliases of
// the requested action.
type ActionMode uint8

// Action modes.
const (
	ActionPlain      ActionMode = iota // the pattern must match the action
	ActionWithAlias                    // ... the action or any of its aliases
	ActionLegacyOnly                   // ... any alias, or the action itself if it has none
)

// Action is a requested action with what the dialect knows about it,
// looked up once per evaluation.
type Action struct {
	Name    string
	Aliases []string // names that also stand for the action (see ActionMode)
	// Keys are the condition-key classes the action supplies (see
	// Condition.Class); a condition on a key of another class sees it
	// absent, whatever the request context holds.
	Keys KeyClass
}

// KeyClass is a bit set of condition-key classes. A dialect that knows
// which actions supply which keys classifies its keys; class 0 (the
// default) is always supplied.
type KeyClass uint8

// AllKeys supplies every class: the action's keys are not known.
const AllKeys KeyClass = 0xff

// maxTracedKeys bounds how many absent condition keys one evaluation
// reports; the trace lives on the stack.
const maxTracedKeys = 8

// Trace collects, without allocating, why statements did not apply. The
// zero value is empty; a Trace belongs to one evaluation.
type Trace struct {
	missing  [maxTracedKeys]string
	nMissing int
	failed   [maxTracedKeys]*Condition // present but not satisfied
	nFailed  int
	// NegatedAbsent: a negated condition held only because its key was
	// absent.
	NegatedAbsent bool
	// ForAllAbsent: a ForAllValues condition held only because its key was
	// absent.
	ForAllAbsent bool
	// AccountPrincipal: an account principal was read narrowly (an Allow
	// that did not extend to a user or role) or broadly (a Deny that did);
	// see Statement.AccountIsRoot.
	AccountPrincipal bool
	// DenyUndecidable: a Deny applied although one of its conditions could
	// not be evaluated (Condition.Never).
	DenyUndecidable bool

	// unknown keys tested by statements that maybe match, by effect
	unkAllow, unkDeny   [maxUnknownKeys]string
	nUnkAllow, nUnkDeny int
	// Allow statements that covered the request but whose condition failed
	blocked  [maxBlocked]blockedAllow
	nBlocked int
}

// Bounds of what a Trace keeps about unknown keys and blocked Allows.
const (
	maxUnknownKeys = 4
	maxBlocked     = 4
)

type blockedAllow struct {
	st   *Statement
	cond *Condition
}

func addKey(list *[maxUnknownKeys]string, n *int, key string) {
	for i := 0; i < *n; i++ {
		if strings.EqualFold(list[i], key) {
			return
		}
	}
	if *n < maxUnknownKeys {
		list[*n] = key
		*n++
	}
}

// NumBlocked returns how many Allow statements covered the request (action,
// resource, principal) but failed a condition on a known (present or
// absent) key.
func (t *Trace) NumBlocked() int { return t.nBlocked }

// Blocked returns blocked Allow statement i (0 <= i < NumBlocked) and the
// first of its conditions that failed.
func (t *Trace) Blocked(i int) (*Statement, *Condition) {
	return t.blocked[i].st, t.blocked[i].cond
}

// HingeKeys returns, for [Decision].ConditionKeys, the sorted unique
// unknown keys tested by Deny statements that maybe matched (deny) and by
// Allow statements that maybe matched (allow); nil for none. It allocates
// the one slice it returns.
func (t *Trace) HingeKeys(deny, allow bool) []string {
	n := 0
	if deny {
		n += t.nUnkDeny
	}
	if allow {
		n += t.nUnkAllow
	}
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	if deny {
		out = appendFoldUnique(out, t.unkDeny[:t.nUnkDeny])
	}
	if allow {
		out = appendFoldUnique(out, t.unkAllow[:t.nUnkAllow])
	}
	// insertion sort: a handful of keys, and sort.Strings would allocate
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// ConditionKeys returns the sorted, unique union of key lists, for
// [Decision].ConditionKeys.
func ConditionKeys(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = appendFoldUnique(out, l)
	}
	sort.Strings(out)
	return out
}

// appendFoldUnique appends the keys that out does not hold, ignoring
// case.
func appendFoldUnique(out, keys []string) []string {
	for _, k := range keys {
		dup := false
		for _, o := range out {
			dup = dup || strings.EqualFold(o, k)
		}
		if !dup {
			out = append(out, k)
		}
	}
	return out
}

func (t *Trace) addMissing(key string) { addOnce(&t.missing, &t.nMissing, key) }

func (t *Trace) addFailed(c *Condition) { addOnce(&t.failed, &t.nFailed, c) }

// addOnce appends v to the first *n entries of list unless it is among
// them, while there is room.
func addOnce[T comparable](list *[maxTracedKeys]T, n *int, v T) {
	for i := 0; i < *n; i++ {
		if list[i] == v {
			return
		}
	}
	if *n < maxTracedKeys {
		list[*n] = v
		*n++
	}
}

// MissingKeys returns the condition keys that statements tested but the
// request lacked, or nil.
func (t *Trace) MissingKeys() []string {
	if t.nMissing == 0 {
		return nil
	}
	return append([]string(nil), t.missing[:t.nMissing]...)
}

// NumFailed returns how many conditions had their key but failed.
func (t *Trace) NumFailed() int { return t.nFailed }

// Failed returns failed condition i (0 <= i < NumFailed).
func (t *Trace) Failed(i int) *Condition { return t.failed[i] }

// UnmetConditions renders the failed conditions as "Operator key", or nil.
func (t *Trace) UnmetConditions() []string {
	var out []string
	for _, c := range t.failed[:t.nFailed] {
		out = append(out, c.Name+" "+c.Key)
	}
	return out
}

// MatchesAction reports whether the statement's Action (NotAction) covers
// a, through its aliases as the statement's ActionMode says.
func (s *Statement) MatchesAction(a Action) bool {
	hit := false
	switch {
	case s.ActionMode == ActionPlain,
		s.ActionMode == ActionLegacyOnly && len(a.Aliases) == 0:
		hit = s.AnyActionPattern(a.Name)
	case s.ActionMode == ActionWithAlias:
		hit = s.AnyActionPattern(a.Name)
		for i := 0; !hit && i < len(a.Aliases); i++ {
			hit = s.AnyActionPattern(a.Aliases[i])
		}
	default: // legacy: through the aliases only
		for i := 0; !hit && i < len(a.Aliases); i++ {
			hit = s.AnyActionPattern(a.Aliases[i])
		}
	}
	return hit != s.NotAction
}

// AnyActionPattern reports whether one of the action patterns matches
// name, ignoring NotAction and aliases.
func (s *Statement) AnyActionPattern(name string) bool {
	for i := range s.Actions {
		if s.Actions[i].Match(name) {
			return true
		}
	}
	return false
}

// MatchesResource reports whether the statement's Resource (NotResource)
// covers resource.
func (s *Statement) MatchesResource(resource string) bool {
	if s.Resources == nil {
		return true
	}
	hit := false
	for i := range s.Resources {
		if s.resourcePatternMatches(i, resource) {
			hit = true
			break
		}
	}
	return hit != s.NotResource
}

// resourcePatternMatches matches one resource pattern: "*" in a
// strict-star statement is matched only by "*", and a pattern with a
// case-insensitive service segment compares that segment folded.
func (s *Statement) resourcePatternMatches(i int, resource string) bool {
	g := &s.Resources[i]
	if s.StrictStar && resource == "*" {
		return g.kind == globAny
	}
	if s.ResourceSvc != nil && s.ResourceSvc[i] != "" {
		j := strings.IndexByte(resource, ':')
		return j >= 0 && EqualLower(s.ResourceSvc[i], resource[:j]) && g.Match(resource[j+1:])
	}
	return g.Match(resource)
}

// MatchesResourceFold reports whether a resource pattern without a folded
// service segment would match resource if case were ignored; it explains
// case-only mismatches.
func (s *Statement) MatchesResourceFold(resource string) bool {
	for k := range s.Resources {
		if (s.ResourceSvc == nil || s.ResourceSvc[k] == "") && s.Resources[k].MatchFold(resource) {
			return true
		}
	}
	return false
}

func (s *Statement) matchesPrincipal(p *Principal, tr *Trace) bool {
	if s.Principals == nil {
		return true
	}
	for i := range s.Principals {
		q := &s.Principals[i]
		if !p.MatchedBy(q) {
			continue
		}
		if q.Kind == PrincipalAccount && s.AccountIsRoot && p.Kind != PrincipalRoot {
			tr.AccountPrincipal = true
			if !s.Deny {
				continue // an Allow for the account grants its root only
			}
		}
		return true
	}
	return false
}

// Tri is a three-valued outcome: a statement (or a side of a decision)
// matches, does not, or maybe does, when conditions on unknown keys decide.
type Tri uint8

// Three-valued outcomes.
const (
	No Tri = iota
	Maybe
	Yes
)

// And is the three-valued conjunction: No if either is No, else Maybe if
// either is Maybe.
func (a Tri) And(b Tri) Tri { return min(a, b) }

// Or is the three-valued disjunction: Yes if either is Yes, else Maybe if
// either is Maybe.
func (a Tri) Or(b Tri) Tri { return max(a, b) }

// TriOf returns Yes for definite, else Maybe for maybe, else No.
func TriOf(definite, maybe bool) Tri {
	switch {
	case definite:
		return Yes
	case maybe:
		return Maybe
	}
	return No
}

// conditionsMatch evaluates the ANDed conditions, three-valued: No when
// one fails, Maybe when none fails but one tests an unknown key (for
// every operator: a negated one, IfExists, a set quantifier; KMS sees the
// key and may find it present with any value, or absent), else Yes.
// Absent keys that made a condition fail are recorded in tr, and so are
// absent keys that made one hold (a negated operator, or a vacuous
// ForAllValues). A condition that never matches (Condition.Never) is
// decided without the key, unknown or not.
func (s *Statement) conditionsMatch(ctx Context, keys KeyClass, tr *Trace) Tri {
	negAbsent, allAbsent := false, false
	nUnk := 0
	for i := range s.Conds {
		c := &s.Conds[i]
		if c.Never && s.Deny {
			// A Deny whose condition cannot be evaluated (an unknown
			// operator, a wrong type) is taken to apply: the evaluator
			// errs toward denial where it cannot know.
			tr.DenyUndecidable = true
			continue
		}
		var vals []string
		if c.Class == 0 || keys&c.Class != 0 {
			vals = ctx.lookup(c.Key)
		}
		if !c.Never && isUnknown(vals) {
			nUnk++
			continue
		}
		ok, absent := c.eval(vals)
		if !ok {
			if absent {
				tr.addMissing(c.Key)
			} else {
				tr.addFailed(c)
			}
			if !s.Deny && tr.nBlocked < maxBlocked {
				tr.blocked[tr.nBlocked] = blockedAllow{st: s, cond: c}
				tr.nBlocked++
			}
			return No
		}
		if absent {
			switch {
			case c.IfExists: // documented behaviour, not an assumption
			case c.Set == SetForAllValues:
				allAbsent = true
			default:
				negAbsent = true
			}
		}
	}
	if negAbsent {
		tr.NegatedAbsent = true
	}
	if allAbsent {
		tr.ForAllAbsent = true
	}
	if nUnk > 0 {
		// rare: record the unknown keys the statement hinges on
		for i := range s.Conds {
			c := &s.Conds[i]
			if c.Never || !(c.Class == 0 || keys&c.Class != 0) || !isUnknown(ctx.lookup(c.Key)) {
				continue
			}
			if s.Deny {
				addKey(&tr.unkDeny, &tr.nUnkDeny, c.Key)
			} else {
				addKey(&tr.unkAllow, &tr.nUnkAllow, c.Key)
			}
		}
		return Maybe
	}
	return Yes
}

// Match is the outcome of evaluating a statement list: the index of the
// first statement that denies the request, of the first that allows it,
// and of the first Deny and Allow that maybe match (their conditions test
// unknown keys and none fails); -1 for none.
type Match struct {
	Allow, Deny, MaybeAllow, MaybeDeny int
}

// Allows is the three-valued outcome of the list's Allow statements.
func (m Match) Allows() Tri { return TriOf(m.Allow >= 0, m.MaybeAllow >= 0) }

// Denies is the three-valued outcome of the list's Deny statements.
func (m Match) Denies() Tri { return TriOf(m.Deny >= 0, m.MaybeDeny >= 0) }

// EvalStatements returns the index of the first statement that denies the
// request and of the first that allows it, or -1. A statement that maybe
// matches (see [EvalMatch]) counts as denying if it is a Deny and not as
// allowing if it is an Allow: two-valued, it errs toward denial. It does
// not allocate.
func EvalStatements(stmts []Statement, action Action, resource string, p *Principal, ctx Context, tr *Trace) (allow, deny int) {
	m := EvalMatch(stmts, action, resource, p, ctx, tr)
	if m.Deny < 0 && m.MaybeDeny >= 0 {
		return m.Allow, m.MaybeDeny
	}
	return m.Allow, m.Deny
}

// EvalMatch evaluates a statement list three-valued: it returns at the
// first statement that denies the request, and otherwise reports the first
// that allows it and the first Deny and Allow that maybe match (their
// conditions test keys marked unknown and none fails). It does not
// allocate.
func EvalMatch(stmts []Statement, action Action, resource string, p *Principal, ctx Context, tr *Trace) Match {
	m := Match{Allow: -1, Deny: -1, MaybeAllow: -1, MaybeDeny: -1}
	for i := range stmts {
		s := &stmts[i]
		if !s.Deny && m.Allow >= 0 {
			continue // one Allow is enough; keep looking for a Deny
		}
		if !s.MatchesAction(action) || !s.MatchesResource(resource) || !s.matchesPrincipal(p, tr) {
			continue
		}
		switch s.conditionsMatch(ctx, action.Keys, tr) {
		case No:
			continue
		case Maybe:
			if s.Deny && m.MaybeDeny < 0 {
				m.MaybeDeny = i
			} else if !s.Deny && m.MaybeAllow < 0 {
				m.MaybeAllow = i
			}
			continue
		}
		if s.Deny {
			m.Deny = i
			return m
		}
		m.Allow = i
	}
	return m
}
