package cases

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/kmsenvelope/kmsenvelope/localauthz"
	"github.com/kmsenvelope/kmsenvelope/localauthz/core"
	"github.com/kmsenvelope/kmsenvelope/localauthz/huawei"
)

// Case is one policy conformance case: a request evaluated against a set of
// policies, with the expected decision and the exact missing pairs. The
// schema is that of the project's authz-cases/README.md; teams can keep
// expected-access tests for their own policies in the same form.
type Case struct {
	Name     string         `json:"name"`
	Policies []Policy       `json:"policies"`
	Request  Request        `json:"request"`
	Expect   core.Effect    `json:"expect"`
	Missing  []core.Missing `json:"missing"`
	// ConditionKeys, when set, are the unknown keys a Conditional decision
	// must name (Decision.ConditionKeys, compared as a set ignoring case).
	ConditionKeys []string `json:"conditionKeys,omitempty"`
	Source        string   `json:"source,omitempty"`
	Ambiguous     bool     `json:"ambiguous,omitempty"`
	Notes         string   `json:"notes,omitempty"`
}

// Policy is one policy of a case.
type Policy struct {
	// Type is "ram", "key" or "secret" (Alibaba Cloud), or "identity",
	// "scp" or "resource" (Huawei Cloud).
	Type core.PolicyKind `json:"type"`
	// Resource is the key (secret) ARN a key (secret) policy belongs to.
	Resource string `json:"resource,omitempty"`
	// Principal is the user or role a RAM policy is attached to; "" means
	// the request's principal.
	Principal string `json:"principal,omitempty"`
	// AttachedTo is where a Huawei policy is attached: informational for
	// identity policies ("user:alice"), "root", "ou:<id>" or
	// "account:<id>" for SCPs (missing: the caller's account), the key URN
	// for resource policies.
	AttachedTo string          `json:"attachedTo,omitempty"`
	Document   json.RawMessage `json:"document"`
}

// Request is the request of a case.
type Request struct {
	Principal string `json:"principal"`
	Action    string `json:"action"`
	// Resource is the resource the caller names. In JSON it may also be an
	// array (Huawei cases): each URN is then a separate authorization unit,
	// all of which must be allowed; Resources holds them and Resource the
	// first.
	Resource  string   `json:"resource"`
	Resources []string `json:"-"`
	// Context maps condition keys to a string, number, boolean or an array
	// of them.
	Context core.Context `json:"context,omitempty"`
	// UnknownContext lists request condition keys the client cannot know
	// but KMS sees (["acs:SourceIp"]); they are marked unknown in the
	// context (core.Context.SetUnknown), replacing any value Context gives
	// them, and a decision that hinges on one is "Conditional".
	UnknownContext []string `json:"unknownContext,omitempty"`
	// Operation, when set, is expanded into every pair the KMS API needs.
	Operation string `json:"operation,omitempty"`
	// Related holds the [Facts] of the request by their JSON names
	// (keyInKmsInstance, encryptionKey or secretEncryptionKey,
	// encryptionKeyType or secretEncryptionKeyType, aliasTargetKey,
	// destinationKey, destinationAliasTargetKey, instanceResources, tags),
	// so any call the library can check can be written as a case. Without
	// an operation, instanceResources and tags apply to the request's
	// resource. A fact of the wrong type fails the case; other facts are
	// ignored.
	Related map[string]any `json:"related,omitempty"`
	// API (Huawei) is the HTTP request the action must derive from
	// (seed 003 Table 2); the case fails when it maps to another action.
	API *API `json:"api,omitempty"`
	// Org (Huawei) places the caller's account in the organization.
	Org *huawei.Org `json:"org,omitempty"`
}

// API is the HTTP request of a Huawei case.
type API struct {
	Method string `json:"method"`
	Path   string `json:"path"`
}

// UnmarshalJSON accepts "resource" as a string or an array of strings.
func (r *Request) UnmarshalJSON(data []byte) error {
	type plain Request
	var aux struct {
		plain
		Resource json.RawMessage `json:"resource"`
	}
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	*r = Request(aux.plain)
	raw := bytes.TrimSpace(aux.Resource)
	switch {
	case len(raw) == 0 || string(raw) == "null":
	case raw[0] == '[':
		if err := json.Unmarshal(raw, &r.Resources); err != nil {
			return fmt.Errorf("request.resource: %w", err)
		}
		if len(r.Resources) > 0 {
			r.Resource = r.Resources[0]
		}
	default:
		if err := json.Unmarshal(raw, &r.Resource); err != nil {
			return fmt.Errorf("request.resource: %w", err)
		}
	}
	return nil
}

// MarshalJSON writes "resource" as an array when the request has several.
func (r Request) MarshalJSON() ([]byte, error) {
	type plain Request
	var res any = r.Resource
	if len(r.Resources) > 1 {
		res = r.Resources
	}
	return json.Marshal(struct {
		plain
		Resource any `json:"resource"`
	}{plain(r), res})
}

// context returns the request's condition keys with UnknownContext
// marked unknown; the case's own map is not modified.
func (r Request) context() core.Context {
	if len(r.UnknownContext) == 0 {
		return r.Context
	}
	ctx := make(core.Context, len(r.Context)+len(r.UnknownContext))
	for k, v := range r.Context {
		ctx[k] = v
	}
	for _, k := range r.UnknownContext {
		for old := range ctx {
			if strings.EqualFold(old, k) {
				delete(ctx, old)
			}
		}
	}
	ctx.SetUnknown(r.UnknownContext...)
	return ctx
}

// check compares a decision with the case's expectations.
func (c Case) check(res *Result, d core.Decision, missing, wantMissing []core.Missing) {
	res.Decision = d.Effect
	res.Assumptions = d.Assumptions
	res.ConditionKeys = d.ConditionKeys
	if d.Effect != c.Expect {
		res.Problems = append(res.Problems, fmt.Sprintf("decision %s, want %s", d.Effect, c.Expect))
	}
	if !sameMissing(missing, wantMissing) {
		res.Problems = append(res.Problems, fmt.Sprintf("missing %s, want %s", formatMissing(d.Missing), formatMissing(c.Missing)))
	}
	if c.ConditionKeys != nil && !sameKeys(d.ConditionKeys, c.ConditionKeys) {
		res.Problems = append(res.Problems, fmt.Sprintf("condition keys %v, want %v", d.ConditionKeys, c.ConditionKeys))
	}
	res.Pass = len(res.Problems) == 0
}

func sameKeys(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.EqualFold(g, w)
		}
		if !found {
			return false
		}
	}
	return true
}

// units returns the resources of the request, one per authorization unit.
func (r Request) units() []string {
	if len(r.Resources) > 0 {
		return r.Resources
	}
	return []string{r.Resource}
}

// Result is the outcome of running a case, shaped as the runner
// contract's JSON line.
type Result struct {
	Name     string         `json:"name"`
	Decision core.Effect    `json:"decision"`
	Missing  []core.Missing `json:"missing"`
	Denied   []Denied       `json:"denied"`
	// ConditionKeys are the unknown keys a Conditional decision hinges on.
	ConditionKeys []string `json:"conditionKeys,omitempty"`
	Pass          bool     `json:"pass"`
	// Problems explains a failure; not part of the JSON line.
	Problems []string `json:"-"`
	// Assumptions are the readings the decision relied on.
	Assumptions core.Assumption `json:"-"`
}

// Denied is an explicitly denied pair and the statement that denied it.
type Denied struct {
	Action    string `json:"action"`
	Resource  string `json:"resource"`
	Policy    string `json:"policy"`
	Statement int    `json:"statement"`
}

// Parse decodes a JSON array of cases (or a single case object).
func Parse(data []byte) ([]Case, error) {
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
			line, col := core.LineCol(data, int(se.Offset))
			return nil, fmt.Errorf("localauthz/cases: line %d, column %d: %w", line, col, err)
		}
		return nil, fmt.Errorf("localauthz/cases: %w", err)
	}
	for i, c := range cases {
		if c.Name == "" {
			return nil, fmt.Errorf("localauthz/cases: case %d has no name", i)
		}
	}
	return cases, nil
}

// Dialect detects the dialect of a case: Huawei Cloud when a policy is of
// a Huawei kind or is written like one (Version "5.0" or "1.1", actions
// service:type:operation), or the request's principal is a Huawei URN
// (iam::, sts::) or its action is written like a Huawei action; Alibaba
// Cloud otherwise.
func (c Case) Dialect() Dialect {
	for _, p := range c.Policies {
		if d := DialectOf(p.Type); d != "" {
			return d
		}
	}
	if looksHuaweiPrincipal(c.Request.Principal) || looksHuaweiAction(c.Request.Action) {
		return DialectHuawei
	}
	for _, p := range c.Policies {
		if d, _ := DetectPolicy(p.Document); d == DialectHuawei {
			return d
		}
	}
	return DialectAlibaba
}

// Run evaluates the case in its detected dialect (see [Case.Dialect]) and
// compares the result with its expectations: the decision must equal
// Expect and the missing pairs must equal Missing as a set.
func (c Case) Run() Result { return c.RunDialect(c.Dialect()) }

// RunDialect evaluates the case as a case of dialect d; a policy of the
// other dialect's kind makes the case fail.
func (c Case) RunDialect(dialect Dialect) Result {
	res := Result{Name: c.Name, Missing: []core.Missing{}, Denied: []Denied{}}
	var d core.Decision
	var err error
	missing, want := func(ms []core.Missing) []core.Missing { return ms }, c.Missing
	if dialect == DialectHuawei {
		d, err = c.evaluateHuawei()
		// Huawei cases compare missing as a set
		missing, want = dedupeMissing, dedupeMissing(c.Missing)
	} else {
		d, err = c.evaluateAlibaba()
	}
	if err != nil {
		res.Problems = append(res.Problems, err.Error())
		res.Pass = false
		return res
	}
	if d.Err != nil {
		res.Problems = append(res.Problems, d.Err.Error())
	}
	got := missing(d.Missing)
	res.Missing = append(res.Missing, got...)
	for _, x := range d.Denied {
		res.Denied = append(res.Denied, Denied{Action: x.Action, Resource: x.Resource, Policy: x.Policy, Statement: x.Statement})
	}
	c.check(&res, d, got, want)
	return res
}

// addPolicies parses each policy of the case, which must be of dialect
// (kinds names its policy types), and adds it with add, which parses it
// under its name and adds it to the dialect's set.
func (c Case) addPolicies(dialect Dialect, kinds string, add func(cp Policy, name string) error) error {
	for i, cp := range c.Policies {
		name := "policies[" + strconv.Itoa(i) + "]"
		if DialectOf(cp.Type) != dialect {
			return fmt.Errorf("%s: policy type %q is not %s", name, cp.Type, kinds)
		}
		if err := add(cp, name); err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
	}
	return nil
}

// evaluateAlibaba decides an Alibaba Cloud case: its operation, expanded
// with the facts it needs, or its one request.
func (c Case) evaluateAlibaba() (core.Decision, error) {
	var set localauthz.PolicySet
	err := c.addPolicies(DialectAlibaba, "an Alibaba Cloud policy type (ram, key or secret)", func(cp Policy, name string) error {
		p, err := localauthz.ParsePolicy(cp.Document, cp.Type, localauthz.WithName(name))
		if err != nil {
			return err
		}
		target := cp.Principal
		if cp.Type != localauthz.RAMPolicy {
			target = cp.Resource
		}
		return set.Add(p, target)
	})
	if err != nil {
		return core.Decision{}, err
	}
	ctx := c.Request.context()
	facts, err := caseFacts(c.Request.Related)
	if err != nil {
		return core.Decision{}, fmt.Errorf("request.%v", err)
	}
	if c.Request.Operation == "" {
		return set.Evaluate(facts.Request(c.Request.Principal, c.Request.Action, c.Request.Resource, ctx)), nil
	}
	rep := set.Check(c.Request.Principal, localauthz.Call{Operation: c.Request.Operation, Resource: c.Request.Resource, Facts: facts, Context: ctx})
	if rep.Err != nil {
		return core.Decision{}, fmt.Errorf("operation %s: %v", c.Request.Operation, rep.Err)
	}
	found := false
	for _, ch := range rep.Checks {
		if strings.EqualFold(ch.Action, c.Request.Action) {
			found = true
		}
	}
	if !found && c.Request.Action != "" && len(rep.Checks) > 0 {
		return core.Decision{}, fmt.Errorf("operation %s does not need action %s", c.Request.Operation, c.Request.Action)
	}
	return rep.Decision, nil
}

// evaluateHuawei decides a Huawei Cloud case: every resource of the
// request is a unit, all of which must be allowed; the decision
// aggregates the units like a preflight (ExplicitDeny, else ImplicitDeny,
// else Conditional, else Allow).
func (c Case) evaluateHuawei() (core.Decision, error) {
	var set huawei.PolicySet
	err := c.addPolicies(DialectHuawei, "a Huawei Cloud policy type (identity, scp or resource)", func(cp Policy, name string) error {
		p, err := huawei.ParsePolicy(cp.Document, cp.Type, huawei.WithName(name))
		if err != nil {
			return err
		}
		target := cp.AttachedTo
		if target == "" && cp.Type == huawei.ResourcePolicy {
			target = cp.Resource
		}
		return set.Add(p, target)
	})
	if err != nil {
		return core.Decision{}, err
	}
	rq := c.Request
	if rq.API != nil {
		op, err := huawei.OperationForRequest(rq.API.Method, rq.API.Path)
		if err != nil {
			return core.Decision{}, fmt.Errorf("api: %v", err)
		}
		if !strings.EqualFold(op.Action, rq.Action) {
			return core.Decision{}, fmt.Errorf("api %s %s is authorized by %s, not %s", rq.API.Method, rq.API.Path, op.Action, rq.Action)
		}
	}
	units := rq.units()
	reqs := make([]huawei.Request, len(units))
	for i, u := range units {
		reqs[i] = huawei.Request{Principal: rq.Principal, Action: rq.Action, Resource: u, Context: rq.context(), Org: rq.Org}
	}
	d, _ := set.EvaluateAll(reqs...)
	return d, nil
}

// missingKey identifies a missing pair; actions compare case-insensitively.
func missingKey(m core.Missing) string {
	return strings.ToLower(m.Action) + "\x00" + m.Resource + "\x00" + string(m.Where)
}

// dedupeMissing drops repeated pairs.
func dedupeMissing(ms []core.Missing) []core.Missing {
	out := make([]core.Missing, 0, len(ms))
	seen := map[string]bool{}
	for _, m := range ms {
		if k := missingKey(m); !seen[k] {
			seen[k] = true
			out = append(out, m)
		}
	}
	return out
}

// caseFacts reads a case's related facts into localauthz.Facts: every field by its
// JSON name (encryptionKey, encryptionKeyType, aliasTargetKey,
// destinationKey, destinationAliasTargetKey, keyInKmsInstance,
// instanceResources, tags), and the README's secretEncryptionKey and
// secretEncryptionKeyType for the first two. A fact of the wrong type is an
// error naming it; facts the library does not use are ignored.
func caseFacts(m map[string]any) (localauthz.Facts, error) {
	var f localauthz.Facts
	if len(m) == 0 {
		return f, nil
	}
	known := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		switch k {
		case "secretEncryptionKey":
			k = "encryptionKey"
		case "secretEncryptionKeyType":
			k = "encryptionKeyType"
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return f, fmt.Errorf("related.%s: %w", k, err)
		}
		if _, dup := known[k]; dup {
			return f, fmt.Errorf("related.%s is given twice (as %s and its synonym)", k, k)
		}
		known[k] = raw
	}
	fields := map[string]any{
		"encryptionKey": &f.EncryptionKey, "encryptionKeyType": &f.EncryptionKeyType,
		"aliasTargetKey": &f.AliasTargetKey, "destinationKey": &f.DestinationKey,
		"destinationAliasTargetKey": &f.DestinationAliasTargetKey, "keyInKmsInstance": &f.InKMSInstance,
		"instanceResources": &f.InstanceResources, "tags": &f.Tags,
	}
	for k, raw := range known {
		dst, ok := fields[k]
		if !ok {
			continue
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return f, fmt.Errorf("related.%s: %w", k, err)
		}
	}
	return f, nil
}

func sameMissing(got, want []core.Missing) bool {
	count := map[string]int{}
	for _, m := range got {
		count[missingKey(m)]++
	}
	for _, m := range want {
		count[missingKey(m)]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return true
}

func formatMissing(ms []core.Missing) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.Action + " on " + m.Resource + " (" + string(m.Where) + ")"
	}
	sort.Strings(parts)
	return "[" + strings.Join(parts, "; ") + "]"
}
