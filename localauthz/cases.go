package localauthz

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Case is one policy conformance case: a request evaluated against a set of
// policies, with the expected decision and the exact missing pairs. The
// schema is that of the project's authz-cases/README.md; teams can keep
// expected-access tests for their own policies in the same form.
type Case struct {
	Name      string       `json:"name"`
	Policies  []CasePolicy `json:"policies"`
	Request   CaseRequest  `json:"request"`
	Expect    Effect       `json:"expect"`
	Missing   []Missing    `json:"missing"`
	Source    string       `json:"source,omitempty"`
	Ambiguous bool         `json:"ambiguous,omitempty"`
	Notes     string       `json:"notes,omitempty"`
}

// CasePolicy is one policy of a case.
type CasePolicy struct {
	// Type is "ram", "key" or "secret".
	Type PolicyKind `json:"type"`
	// Resource is the key (secret) ARN a key (secret) policy belongs to.
	Resource string `json:"resource,omitempty"`
	// Principal is the user or role a RAM policy is attached to; "" means
	// the request's principal.
	Principal string          `json:"principal,omitempty"`
	Document  json.RawMessage `json:"document"`
}

// CaseRequest is the request of a case.
type CaseRequest struct {
	Principal string `json:"principal"`
	Action    string `json:"action"`
	Resource  string `json:"resource"`
	// Context maps condition keys to a string, number, boolean or an array
	// of them.
	Context Context `json:"context,omitempty"`
	// Operation, when set, is expanded into every pair the KMS API needs.
	Operation string `json:"operation,omitempty"`
	// Related holds facts: keyInKmsInstance, secretEncryptionKey (or
	// encryptionKey), secretEncryptionKeyType (or encryptionKeyType),
	// aliasTargetKey, destinationKey. Unknown facts are ignored.
	Related map[string]any `json:"related,omitempty"`
}

// CaseResult is the outcome of running a case, shaped as the runner
// contract's JSON line.
type CaseResult struct {
	Name     string       `json:"name"`
	Decision Effect       `json:"decision"`
	Missing  []Missing    `json:"missing"`
	Denied   []CaseDenied `json:"denied"`
	Pass     bool         `json:"pass"`
	// Problems explains a failure; not part of the JSON line.
	Problems []string `json:"-"`
	// Assumptions are the readings the decision relied on.
	Assumptions Assumption `json:"-"`
}

// CaseDenied is an explicitly denied pair and the statement that denied it.
type CaseDenied struct {
	Action    string `json:"action"`
	Resource  string `json:"resource"`
	Policy    string `json:"policy"`
	Statement int    `json:"statement"`
}

// ParseCases decodes a JSON array of cases (or a single case object).
func ParseCases(data []byte) ([]Case, error) {
	data = bytes.TrimSpace(data)
	var cases []Case
	var err error
	if len(data) > 0 && data[0] == '{' {
		var c Case
		err = json.Unmarshal(data, &c)
		cases = []Case{c}
	} else {
		err = json.Unmarshal(data, &cases)
	}
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := lineCol(data, int(se.Offset))
			return nil, fmt.Errorf("localauthz: cases: line %d, column %d: %w", line, col, err)
		}
		return nil, fmt.Errorf("localauthz: cases: %w", err)
	}
	for i, c := range cases {
		if c.Name == "" {
			return nil, fmt.Errorf("localauthz: cases: case %d has no name", i)
		}
	}
	return cases, nil
}

// Run evaluates the case and compares the result with its expectations:
// the decision must equal Expect and the missing pairs must equal Missing
// as a set.
func (c Case) Run() CaseResult {
	res := CaseResult{Name: c.Name, Missing: []Missing{}, Denied: []CaseDenied{}}
	fail := func(format string, args ...any) CaseResult {
		res.Problems = append(res.Problems, fmt.Sprintf(format, args...))
		res.Pass = false
		return res
	}
	var set PolicySet
	for i, cp := range c.Policies {
		name := "policies[" + strconv.Itoa(i) + "]"
		p, err := ParsePolicy(cp.Document, cp.Type, WithName(name))
		if err != nil {
			return fail("%s: %v", name, err)
		}
		target := cp.Principal
		if cp.Type != RAMPolicy {
			target = cp.Resource
		}
		if err := set.Add(p, target); err != nil {
			return fail("%s: %v", name, err)
		}
	}
	ctx := c.Request.Context
	facts := caseFacts(c.Request.Related)
	var d Decision
	if c.Request.Operation != "" {
		rep := set.Check(c.Request.Principal, Call{Operation: c.Request.Operation, Resource: c.Request.Resource, Facts: facts, Context: ctx})
		if rep.Err != nil {
			return fail("operation %s: %v", c.Request.Operation, rep.Err)
		}
		found := false
		for _, ch := range rep.Checks {
			if strings.EqualFold(ch.Action, c.Request.Action) {
				found = true
			}
		}
		if !found && c.Request.Action != "" && len(rep.Checks) > 0 {
			return fail("operation %s does not need action %s", c.Request.Operation, c.Request.Action)
		}
		d = rep.Decision
	} else {
		d = set.Evaluate(Request{Principal: c.Request.Principal, Action: c.Request.Action, Resource: c.Request.Resource, Context: ctx, InKMSInstance: facts.InKMSInstance})
	}
	if d.Err != nil {
		res.Problems = append(res.Problems, d.Err.Error())
	}
	res.Decision = d.Effect
	res.Assumptions = d.Assumptions
	res.Missing = append(res.Missing, d.Missing...)
	for _, x := range d.Denied {
		res.Denied = append(res.Denied, CaseDenied{Action: x.Action, Resource: x.Resource, Policy: x.Policy, Statement: x.Statement})
	}
	if d.Effect != c.Expect {
		res.Problems = append(res.Problems, fmt.Sprintf("decision %s, want %s", d.Effect, c.Expect))
	}
	if !sameMissing(d.Missing, c.Missing) {
		res.Problems = append(res.Problems, fmt.Sprintf("missing %s, want %s", formatMissing(d.Missing), formatMissing(c.Missing)))
	}
	res.Pass = len(res.Problems) == 0
	return res
}

func caseFacts(m map[string]any) Facts {
	var f Facts
	str := func(keys ...string) string {
		for _, k := range keys {
			if s, ok := m[k].(string); ok {
				return s
			}
		}
		return ""
	}
	f.InKMSInstance, _ = m["keyInKmsInstance"].(bool)
	f.EncryptionKey = str("secretEncryptionKey", "encryptionKey")
	f.EncryptionKeyType = KeyType(str("secretEncryptionKeyType", "encryptionKeyType"))
	f.AliasTargetKey = str("aliasTargetKey")
	f.DestinationKey = str("destinationKey")
	return f
}

func sameMissing(got, want []Missing) bool {
	key := func(m Missing) string {
		return strings.ToLower(m.Action) + "\x00" + m.Resource + "\x00" + string(m.Where)
	}
	count := map[string]int{}
	for _, m := range got {
		count[key(m)]++
	}
	for _, m := range want {
		count[key(m)]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return true
}

func formatMissing(ms []Missing) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.Action + " on " + m.Resource + " (" + string(m.Where) + ")"
	}
	sort.Strings(parts)
	return "[" + strings.Join(parts, "; ") + "]"
}
