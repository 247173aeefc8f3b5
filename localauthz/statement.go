package localauthz

// This file is the dialect-independent core of the evaluator: a compiled
// statement and how it matches a request. Dialect parsers (RAM in
// policy.go) produce compiledStatement values; nothing here knows about
// JSON element names.

// compiledStatement is one statement, compiled: action patterns are
// lowercased, resource patterns split by wildcard kind, condition values
// parsed.
type compiledStatement struct {
	deny       bool
	notAction  bool
	actions    []glob      // ASCII case-insensitive
	resources  []glob      // case-sensitive; nil means "the resource the policy is attached to"
	principals []principal // nil for identity policies (the policy's holder is the principal)
	conds      []condition // ANDed
}

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

func (s *compiledStatement) matchesAction(action string) bool {
	for i := range s.actions {
		if s.actions[i].match(action) {
			return !s.notAction
		}
	}
	return s.notAction
}

func (s *compiledStatement) matchesResource(resource string) bool {
	if s.resources == nil {
		return true
	}
	for i := range s.resources {
		if s.resources[i].match(resource) {
			return true
		}
	}
	return false
}

func (s *compiledStatement) matchesPrincipal(p *principal) bool {
	if s.principals == nil {
		return true
	}
	for i := range s.principals {
		if p.matchedBy(&s.principals[i]) {
			return true
		}
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
// condition fail are recorded in tr.
func (s *compiledStatement) conditionsHold(ctx Context, tr *matchTrace) bool {
	negAbsent := false
	for i := range s.conds {
		ok, absent := s.conds[i].eval(ctx)
		if !ok {
			if absent {
				tr.addMissing(s.conds[i].key)
			} else {
				tr.addFailed(&s.conds[i])
			}
			return false
		}
		if absent {
			negAbsent = true
		}
	}
	if negAbsent {
		tr.negatedAbsent = true
	}
	return true
}

// evalStatements returns the index of the first statement that denies the
// request and of the first that allows it, or -1.
func evalStatements(stmts []compiledStatement, action, resource string, p *principal, ctx Context, tr *matchTrace) (allow, deny int) {
	allow, deny = -1, -1
	for i := range stmts {
		s := &stmts[i]
		if !s.deny && allow >= 0 {
			continue // one Allow is enough; keep looking for a Deny
		}
		if !s.matchesAction(action) || !s.matchesResource(resource) || !s.matchesPrincipal(p) {
			continue
		}
		if !s.conditionsHold(ctx, tr) {
			continue
		}
		if s.deny {
			return allow, i
		}
		allow = i
	}
	return allow, deny
}
