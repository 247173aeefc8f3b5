package core

import (
	"encoding/json"
	"math/bits"
	"strings"
	"sync"
)

// Assumption is a set of readings made where the public documentation is
// silent or inconsistent. A [Decision] carries the ones that influenced
// it. The zero value is the empty set.
//
// The evaluator defines the readings it makes itself (absent keys, case,
// unknown operators); each dialect defines its own with [DefineAssumption]
// when its package is initialized. Codes are stable; the bit of an
// assumption is not (it depends on which dialects a program links), so
// store and exchange codes, never numbers.
type Assumption uint64

var assumptions struct {
	mu    sync.RWMutex
	codes []string
	texts []string
}

// DefineAssumption registers a reading under a short, unique code
// ("session-as-role") with a one-sentence description, and returns it.
// Dialects call it from package-level variable declarations. It panics
// (a programmer error) when the code is taken or all 64 are.
func DefineAssumption(code, description string) Assumption {
	assumptions.mu.Lock()
	defer assumptions.mu.Unlock()
	for _, c := range assumptions.codes {
		if c == code {
			panic("localauthz/core: assumption " + code + " defined twice")
		}
	}
	if len(assumptions.codes) == 64 {
		panic("localauthz/core: more than 64 assumptions")
	}
	assumptions.codes = append(assumptions.codes, code)
	assumptions.texts = append(assumptions.texts, description)
	return Assumption(1) << (len(assumptions.codes) - 1)
}

// Readings of the evaluator itself, shared by every dialect.
var (
	// AssumeAbsentKeyFails: a condition key the policy tests was absent from
	// the request, so a positive operator failed.
	AssumeAbsentKeyFails = DefineAssumption("absent-key-fails",
		"a condition key tested by the policy was absent from the request; positive operators fail on absent keys")
	// AssumeAbsentKeyNegated: a negated operator (StringNotEquals,
	// NotIpAddress, ...) held because its key was absent.
	AssumeAbsentKeyNegated = DefineAssumption("absent-key-negated",
		"a negated operator held because its condition key was absent from the request")
	// AssumeCaseSensitiveResource: a resource pattern matched only when case
	// was ignored; resources are matched case-sensitively.
	AssumeCaseSensitiveResource = DefineAssumption("case-sensitive-resource",
		"a resource pattern matched only when ignoring case; resources are matched case-sensitively")
	// AssumeNoResource: the operation has no resource; only a Resource
	// pattern matching "*" (or the given scope) grants it.
	AssumeNoResource = DefineAssumption("no-resource",
		"the operation names no resource; it is checked against the resource \"*\"")
	// AssumeForAllValuesAbsent: a ForAllValues: condition held because its
	// key was absent (AWS set semantics).
	AssumeForAllValuesAbsent = DefineAssumption("forallvalues-absent",
		"a ForAllValues condition held because its key was absent from the request")
	// AssumeOperatorNeverMatches: a condition never matched because its
	// operator is unknown or of the wrong type for its key.
	AssumeOperatorNeverMatches = DefineAssumption("operator-never-matches",
		"a condition with an unknown operator, or one of the wrong type for its key, never matches")
	// AssumeDenyConditionUnknown: a Deny statement applied although one of
	// its conditions could not be evaluated (an unknown operator, or one of
	// the wrong type for its key): where it cannot know, the evaluator errs
	// toward denial.
	AssumeDenyConditionUnknown = DefineAssumption("deny-condition-unknown",
		"a Deny statement was applied although one of its conditions has an unknown operator or one of the wrong type for its key")
	// AssumeUnknownKeyConditional: the decision hinges on a request
	// condition key the caller marked unknown (Context.SetUnknown); it is
	// Conditional: KMS, which sees the key, decides. A Deny that only
	// maybe applies does not turn an implicit deny into Conditional.
	AssumeUnknownKeyConditional = DefineAssumption("unknown-key-conditional",
		"a statement deciding the outcome tests a request condition key the client does not know; the decision is Conditional and KMS, which sees the key, decides")
)

// TraceAssumptions returns the evaluator's own readings that a trace
// recorded: negated operators and ForAllValues conditions that held on
// absent keys, conditions that never match, Deny statements applied
// without evaluating a condition.
func TraceAssumptions(tr *Trace) Assumption {
	var a Assumption
	if tr.NegatedAbsent {
		a |= AssumeAbsentKeyNegated
	}
	if tr.ForAllAbsent {
		a |= AssumeForAllValuesAbsent
	}
	if tr.DenyUndecidable {
		a |= AssumeDenyConditionUnknown
	}
	for _, c := range tr.failed[:tr.nFailed] {
		if c.Never {
			a |= AssumeOperatorNeverMatches
		}
	}
	return a
}

// Values returns every defined single assumption, in definition order.
func (Assumption) Values() []Assumption {
	assumptions.mu.RLock()
	n := len(assumptions.codes)
	assumptions.mu.RUnlock()
	out := make([]Assumption, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, Assumption(1)<<i)
	}
	return out
}

// Has reports whether every assumption in b is in a.
func (a Assumption) Has(b Assumption) bool { return a&b == b }

// List returns the single assumptions in the set, in definition order.
func (a Assumption) List() []Assumption {
	var out []Assumption
	for s := a; s != 0; s &= s - 1 {
		one := Assumption(1) << bits.TrailingZeros64(uint64(s))
		if one.Code() != "" {
			out = append(out, one)
		}
	}
	return out
}

// Code returns the short code of a single assumption, "" otherwise.
func (a Assumption) Code() string {
	if a == 0 || a&(a-1) != 0 {
		return ""
	}
	i := bits.TrailingZeros64(uint64(a))
	assumptions.mu.RLock()
	defer assumptions.mu.RUnlock()
	if i >= len(assumptions.codes) {
		return ""
	}
	return assumptions.codes[i]
}

// Description explains a single assumption in one sentence.
func (a Assumption) Description() string {
	if a.Code() == "" {
		return ""
	}
	assumptions.mu.RLock()
	defer assumptions.mu.RUnlock()
	return assumptions.texts[bits.TrailingZeros64(uint64(a))]
}

// String returns the codes of the set joined by commas.
func (a Assumption) String() string {
	var codes []string
	for _, s := range a.List() {
		codes = append(codes, s.Code())
	}
	return strings.Join(codes, ",")
}

// MarshalJSON encodes the set as an array of codes.
func (a Assumption) MarshalJSON() ([]byte, error) {
	codes := []string{}
	for _, s := range a.List() {
		codes = append(codes, s.Code())
	}
	return json.Marshal(codes)
}
