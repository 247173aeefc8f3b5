package core

import (
	"encoding/json"
	"errors"
	"sort"
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
	// Conditional: the outcome hinges on request condition keys the
	// caller cannot know (see [Context.SetUnknown]), which KMS sees; KMS
	// decides. [Decision].ConditionKeys names them. No Deny definitely
	// applies, and some Allow definitely or possibly does.
	Conditional Effect = "Conditional"
)

// Values returns every Effect.
func (Effect) Values() []Effect { return []Effect{Allow, ImplicitDeny, ExplicitDeny, Conditional} }

// Where names the place a missing permission must be granted. Each dialect
// defines its places (localauthz.WhereRAM, huawei.WhereSCP, ...).
type Where string

// Missing is one (action, resource) pair that must be granted, and where.
type Missing struct {
	Action   string `json:"action"`
	Resource string `json:"resource"`
	Where    Where  `json:"where"`
}

// Unmet is an Allow statement that covers a missing pair (same Action,
// Resource and Where as an entry of [Decision].Missing) but whose
// condition the request does not meet. Granting the pair without that
// condition would widen the policy, so no grant is suggested for it:
// meeting the condition grants it.
type Unmet struct {
	Action   string `json:"action"`
	Resource string `json:"resource"`
	Where    Where  `json:"where"`
	StatementRef
	// Condition is the first condition that failed, described for people,
	// e.g. "acs:SecureTransport is true (Bool); the request has false".
	Condition string `json:"condition"`
	// Conditions is the statement's whole Condition element (JSON), which
	// any grant suggested for the pair keeps.
	Conditions json.RawMessage `json:"conditions,omitempty"`
}

// String renders e.g. `ram[0] Statement[0] allows it when
// acs:SecureTransport is true (Bool); the request has false`.
func (u Unmet) String() string {
	return u.StatementRef.String() + " allows it when " + u.Condition
}

// UnmetFor returns the entries of unmet for the pair of m (same action,
// resource and place).
func UnmetFor(m Missing, unmet []Unmet) []Unmet {
	var out []Unmet
	for _, u := range unmet {
		if u.Action == m.Action && u.Resource == m.Resource && u.Where == m.Where {
			out = append(out, u)
		}
	}
	return out
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
	// Unmet lists, for ImplicitDeny, the Allow statements that cover a
	// missing pair but whose conditions the request does not meet (on a
	// key present with another value, or absent); see [Unmet].
	Unmet []Unmet `json:"unmet,omitempty"`
	// ConditionKeys names, for Conditional, the request condition keys the
	// outcome hinges on: keys marked unknown ([Context.SetUnknown]) that a
	// statement deciding the outcome tests (sorted, unique).
	ConditionKeys []string `json:"conditionKeys,omitempty"`
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
//
// A key is present (it has values), absent (not in the map, or no values),
// or unknown ([Context.SetUnknown]): the caller cannot know its value, but
// KMS, which sees the request, does. A condition on an unknown key is
// neither met nor failed, and a decision that hinges on it is
// [Conditional].
type Context map[string][]string

// unknownValue is the value slot of an unknown key; keys are unknown when
// their value slice is this very slice (compared by identity, so no
// string a caller sets can be mistaken for it).
var unknownValue = []string{"<unknown>"}

func isUnknown(v []string) bool { return len(v) == 1 && &v[0] == &unknownValue[0] }

// Set sets key to values, replacing any previous values (and an unknown
// mark).
func (c Context) Set(key string, values ...string) { c[key] = values }

// SetUnknown marks request condition keys whose value the caller cannot
// know, such as acs:SourceIp behind a NAT (KMS sees the public address)
// or acs:SourceVpc: they are neither present nor absent locally, and KMS
// decides conditions on them. It replaces any values the keys had.
func (c Context) SetUnknown(keys ...string) {
	for _, k := range keys {
		c[k] = unknownValue
	}
}

// Unknown reports whether key (matched case-insensitively) was marked
// with [Context.SetUnknown].
func (c Context) Unknown(key string) bool { return isUnknown(c.lookup(key)) }

// UnknownKeys returns the keys marked unknown, sorted.
func (c Context) UnknownKeys() []string {
	var out []string
	for k, v := range c {
		if isUnknown(v) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Get returns the first value of key; an unknown key has none.
func (c Context) Get(key string) (string, bool) {
	v := c.lookup(key)
	if len(v) == 0 || isUnknown(v) {
		return "", false
	}
	return v[0], true
}

// MarshalJSON writes the context as an object of string arrays; an
// unknown key is written as null.
func (c Context) MarshalJSON() ([]byte, error) {
	if c == nil {
		return []byte("null"), nil
	}
	out := make(map[string]any, len(c))
	for k, v := range c {
		if isUnknown(v) {
			out[k] = nil
		} else {
			out[k] = v
		}
	}
	return json.Marshal(out)
}

// UnmarshalJSON accepts an object whose values are a string, number or
// boolean, or an array of them: {"acs:SourceIp": "10.0.0.1",
// "kms:tag/env": ["prod", "staging"]}. A null value marks the key unknown
// (as [Context.SetUnknown] does).
func (c *Context) UnmarshalJSON(data []byte) error {
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	out := make(Context, len(raw))
	for k, v := range raw {
		if v == nil {
			out.SetUnknown(k)
			continue
		}
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
