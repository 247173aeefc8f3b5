package core

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// PolicyKind names the kind of a policy document. Each dialect defines its
// kinds (localauthz.RAMPolicy, huawei.SCP, ...).
type PolicyKind string

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

// Where names the place a missing permission must be granted. Each dialect
// defines its places (localauthz.WhereRAM, huawei.WhereSCP, ...).
type Where string

// Missing is one (action, resource) pair that must be granted, and where.
type Missing struct {
	Action   string `json:"action"`
	Resource string `json:"resource"`
	Where    Where  `json:"where"`
}

// StatementRef identifies one statement of a policy in a policy set.
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

// Decision is the result of evaluating a request.
type Decision struct {
	Effect Effect `json:"effect"`
	// Decider is the statement that decided: the denying statement for
	// ExplicitDeny, an allowing statement for Allow (nil when no statement
	// decided, such as the account root's ownership), nil for ImplicitDeny.
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
	// MissingFacts names what the evaluator would have needed to know to
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
// acs:SourceIp or kms:tag/Project. Keys are looked up case-insensitively.
// A key with several values is multi-valued.
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
