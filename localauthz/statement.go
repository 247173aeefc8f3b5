package localauthz

import "strings"

// This file is the dialect-independent core of the evaluator: a compiled
// statement and how it matches a request. Dialect parsers (RAM in
// policy.go, Huawei Cloud in huawei_policy.go) produce compiledStatement
// values; nothing here knows about JSON element names.

// compiledStatement is one statement, compiled: action patterns are
// lowercased, resource patterns split by wildcard kind, condition values
// parsed.
type compiledStatement struct {
	deny        bool
	notAction   bool
	notResource bool        // NotResource: matches resources no pattern matches
	actionMode  actionMode  // how legacy action aliases take part in matching
	strictStar  bool        // the request resource "*" is matched only by the pattern "*"
	actions     []glob      // ASCII case-insensitive
	resources   []glob      // case-sensitive; nil means "the resource the policy is attached to"
	resourceSvc []string    // per resource: lower-case literal service matched case-insensitively (resources[i] is then the rest); nil if none
	principals  []principal // nil for identity policies (the policy's holder is the principal)
	// accountIsRoot: an account principal (acs:ram::<uid>:*) of an Allow
	// names the account's root identity only (Alibaba key and secret
	// policies); a Deny still names every identity of the account.
	accountIsRoot bool
	conds         []condition // ANDed
}

// actionMode says how a statement's action patterns meet the legacy
// aliases of the requested action (Huawei Cloud; RAM has none).
type actionMode uint8

const (
	actPlain      actionMode = iota // the pattern must match the action (RAM)
	actWithAlias                    // ... the action or any of its aliases (Huawei 5.0)
	actLegacyOnly                   // ... any alias, or the action itself if it has none (Huawei 1.1)
)

// reqAction is a requested action with its legacy aliases, looked up once
// per evaluation.
type reqAction struct {
	name    string
	aliases []string
	// keys are the condition-key classes the action supplies (see
	// condition.class); a condition on a key of another class sees it
	// absent, whatever the request context holds.
	keys keyClass
}

// keyClass is a bit set of condition-key classes. A dialect that knows
// which actions supply which keys classifies its keys; class 0 (the
// default) is always supplied.
type keyClass uint8

// allKeys supplies every class: the action's keys are not known.
const allKeys keyClass = 0xff

// maxTracedKeys bounds how many absent condition keys one evaluation
// reports; the trace lives on the stack.
const maxTracedKeys = 8

// matchTrace collects, without allocating, why statements did not apply.
type matchTrace struct {
	missing       [maxTracedKeys]string
	nMissing      int
	failed        [maxTracedKeys]*condition // present but not satisfied
	nFailed       int
	negatedAbsent bool // a negated condition held only because its key was absent
	forAllAbsent  bool // a ForAllValues condition held only because its key was absent
	// accountPrincipal: an account principal was read narrowly (an Allow
	// that did not extend to a RAM user or role) or broadly (a Deny that
	// did); see compiledStatement.accountIsRoot.
	accountPrincipal bool
	// denyUndecidable: a Deny applied although one of its conditions
	// could not be evaluated.
	denyUndecidable bool
}

func (t *matchTrace) addMissing(key string) {
	for i := 0; i < t.nMissing; i++ {
		if t.missing[i] == key {
			return
		}
	}
	if t.nMissing < maxTracedKeys {
		t.missing[t.nMissing] = key
		t.nMissing++
	}
}

// matchesAction reports whether the statement's Action (NotAction) covers
// action, looking up its aliases when the statement's dialect has them.
func (s *compiledStatement) matchesAction(action string) bool {
	a := reqAction{name: action}
	if s.actionMode != actPlain {
		a.aliases = huaweiAliasesOf(action)
	}
	return s.matchesReqAction(a)
}

func (s *compiledStatement) matchesReqAction(a reqAction) bool {
	hit := false
	switch {
	case s.actionMode == actPlain,
		s.actionMode == actLegacyOnly && len(a.aliases) == 0:
		hit = s.anyActionPattern(a.name)
	case s.actionMode == actWithAlias:
		hit = s.anyActionPattern(a.name)
		for i := 0; !hit && i < len(a.aliases); i++ {
			hit = s.anyActionPattern(a.aliases[i])
		}
	default: // legacy: through the aliases only
		for i := 0; !hit && i < len(a.aliases); i++ {
			hit = s.anyActionPattern(a.aliases[i])
		}
	}
	return hit != s.notAction
}

func (s *compiledStatement) anyActionPattern(name string) bool {
	for i := range s.actions {
		if s.actions[i].match(name) {
			return true
		}
	}
	return false
}

func (s *compiledStatement) matchesResource(resource string) bool {
	if s.resources == nil {
		return true
	}
	hit := false
	for i := range s.resources {
		if s.resourcePatternMatches(i, resource) {
			hit = true
			break
		}
	}
	return hit != s.notResource
}

// resourcePatternMatches matches one resource pattern: "*" in a
// strict-star statement is matched only by "*", and a pattern with a
// case-insensitive service segment compares that segment folded.
func (s *compiledStatement) resourcePatternMatches(i int, resource string) bool {
	g := &s.resources[i]
	if s.strictStar && resource == "*" {
		return g.kind == globAny
	}
	if s.resourceSvc != nil && s.resourceSvc[i] != "" {
		j := strings.IndexByte(resource, ':')
		return j >= 0 && equalLower(s.resourceSvc[i], resource[:j]) && g.match(resource[j+1:])
	}
	return g.match(resource)
}

func (s *compiledStatement) matchesPrincipal(p *principal, tr *matchTrace) bool {
	if s.principals == nil {
		return true
	}
	for i := range s.principals {
		q := &s.principals[i]
		if !p.matchedBy(q) {
			continue
		}
		if q.kind == pkAccount && s.accountIsRoot && p.kind != pkRoot {
			if !s.deny {
				tr.accountPrincipal = true
				continue // an Allow for the account grants its root only
			}
			tr.accountPrincipal = true // a Deny for the account denies all of it
		}
		return true
	}
	return false
}

func (t *matchTrace) addFailed(c *condition) {
	for i := 0; i < t.nFailed; i++ {
		if t.failed[i] == c {
			return
		}
	}
	if t.nFailed < maxTracedKeys {
		t.failed[t.nFailed] = c
		t.nFailed++
	}
}

// conditionsHold evaluates the ANDed conditions; absent keys that made a
// condition fail are recorded in tr, and so are absent keys that made one
// hold (a negated operator, or a vacuous ForAllValues).
func (s *compiledStatement) conditionsHold(ctx Context, keys keyClass, tr *matchTrace) bool {
	negAbsent, allAbsent := false, false
	for i := range s.conds {
		c := &s.conds[i]
		if c.never && s.deny {
			// A Deny whose condition cannot be evaluated (an unknown
			// operator, a wrong type) is taken to apply: the library errs
			// toward denial where it cannot know.
			tr.denyUndecidable = true
			continue
		}
		var vals []string
		if c.class == 0 || keys&c.class != 0 {
			vals = ctx.lookup(c.key)
		}
		ok, absent := c.eval(vals)
		if !ok {
			if absent {
				tr.addMissing(c.key)
			} else {
				tr.addFailed(c)
			}
			return false
		}
		if absent {
			switch {
			case c.ifExists: // documented behaviour, not an assumption
			case c.set == setForAllValues:
				allAbsent = true
			default:
				negAbsent = true
			}
		}
	}
	if negAbsent {
		tr.negatedAbsent = true
	}
	if allAbsent {
		tr.forAllAbsent = true
	}
	return true
}

// evalStatements returns the index of the first statement that denies the
// request and of the first that allows it, or -1.
func evalStatements(stmts []compiledStatement, action reqAction, resource string, p *principal, ctx Context, tr *matchTrace) (allow, deny int) {
	allow, deny = -1, -1
	for i := range stmts {
		s := &stmts[i]
		if !s.deny && allow >= 0 {
			continue // one Allow is enough; keep looking for a Deny
		}
		if !s.matchesReqAction(action) || !s.matchesResource(resource) || !s.matchesPrincipal(p, tr) {
			continue
		}
		if !s.conditionsHold(ctx, action.keys, tr) {
			continue
		}
		if s.deny {
			return allow, i
		}
		allow = i
	}
	return allow, deny
}
