package refpolicy

import (
	"net/netip"
	"strconv"
	"strings"
)

// Request is one permission check: may Principal perform Action on
// Resource, given the caller's RAM policies and the resource's own policy?
type Request struct {
	// Principal is the caller: acs:ram::<uid>:root, acs:ram::<uid>:user/<name>,
	// acs:ram::<uid>:role/<name>, or a role session,
	// acs:ram::<uid>:assumed-role/<role>/<session> (as STS GetCallerIdentity
	// spells it) or acs:sts::<uid>:assumed-role/<role>/<session> (the older
	// spelling, still accepted).
	Principal string
	// Action is the RAM action, e.g. kms:Decrypt.
	Action string
	// Resource is the resource ARN, or "*" for calls on no resource.
	Resource string
	// Context holds the condition keys of the request.
	Context map[string]string
	// Identity are the caller's RAM policies (its own and its groups', or
	// its role's), each with a name for the Decision.
	Identity []Named
	// ResourcePolicy is the key or secret policy of Resource, nil if none.
	ResourcePolicy *Named
	// InKMSInstance reports that Resource is a key or secret in a KMS
	// instance: only then does its policy apply (seed 004).
	InKMSInstance bool
}

// Named is a policy with the name a Decision refers to it by.
type Named struct {
	Name   string
	Policy *Policy
}

// Effect is the outcome of a Decision.
type Effect int

// Effects.
const (
	ImplicitDeny Effect = iota // nothing allows
	Allow
	ExplicitDeny // a Deny statement matched
)

func (e Effect) String() string {
	switch e {
	case Allow:
		return "Allow"
	case ExplicitDeny:
		return "ExplicitDeny"
	}
	return "ImplicitDeny"
}

// Decision is the result of Evaluate.
type Decision struct {
	Effect Effect
	// ByResourcePolicy reports that the explicit Deny came from the key or
	// secret policy rather than a RAM policy.
	ByResourcePolicy bool
	// Reason explains the decision in a sentence.
	Reason string
}

// caller is the parsed requesting identity.
type caller struct {
	account string
	kind    string // "root", "user", "role" (a role or a session of it)
	name    string
}

func parseCaller(s string) (caller, bool) {
	var rest string
	sts := false
	if r, ok := strings.CutPrefix(s, "acs:ram::"); ok {
		rest = r
	} else if r, ok := strings.CutPrefix(s, "acs:sts::"); ok {
		rest, sts = r, true
	} else {
		return caller{}, false
	}
	account, rel, ok := strings.Cut(rest, ":")
	if !ok || !validAccount(account) {
		return caller{}, false
	}
	r, isSession := strings.CutPrefix(rel, "assumed-role/")
	if sts || isSession {
		// acs:ram::<uid>:assumed-role/<role>/<session> (or acs:sts::...): a
		// role session is governed by its role (RAM: policies are attached
		// to the role).
		if !isSession {
			return caller{}, false
		}
		role, session, ok := strings.Cut(r, "/")
		if !ok || !validName(role) || session == "" {
			return caller{}, false
		}
		return caller{account: account, kind: "role", name: role}, true
	}
	if rel == "root" {
		return caller{account: account, kind: "root"}, true
	}
	kind, name, ok := strings.Cut(rel, "/")
	if !ok || (kind != "user" && kind != "role") || !validName(name) {
		return caller{}, false
	}
	return caller{account: account, kind: kind, name: name}, true
}

// resourceAccount returns the account of an ARN acs:<svc>:<region>:<uid>:...,
// or "" when it names none (the resource "*", or an account wildcard).
func resourceAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 5)
	if len(parts) < 5 || parts[0] != "acs" || !validAccount(parts[3]) {
		return ""
	}
	return parts[3]
}

// Evaluate decides r. It never panics.
func Evaluate(r Request) Decision {
	who, ok := parseCaller(r.Principal)
	if !ok {
		return Decision{Reason: "the principal " + strconv.Quote(r.Principal) + " is not a RAM identity"}
	}
	owner := resourceAccount(r.Resource)
	cross := owner != "" && owner != who.account

	// Result A: the caller's RAM policies. The root has full permissions
	// and no RAM policies (seed 002).
	identityAllows := who.kind == "root"
	var identityAllowedBy string
	if who.kind != "root" {
		for _, np := range r.Identity {
			for i, st := range np.Policy.Statements {
				if !st.coversAction(r.Action) || !st.coversResource(r.Resource) || !st.conditionsHold(r.Context) {
					continue
				}
				ref := np.Name + " Statement[" + strconv.Itoa(i) + "]"
				if st.Deny {
					return Decision{Effect: ExplicitDeny, Reason: "explicitly denied by RAM policy " + ref}
				}
				if identityAllowedBy == "" {
					identityAllows, identityAllowedBy = true, "RAM policy "+ref
				}
			}
		}
	}

	// Result B: the key or secret policy, only in a KMS instance (seed 004).
	resourceAllows := false
	var resourceAllowedBy string
	if rp := r.ResourcePolicy; rp != nil && rp.Policy != nil && r.InKMSInstance {
		for i, st := range rp.Policy.Statements {
			if !st.namesCaller(who, st.Deny) || !st.coversAction(r.Action) || !st.coversResource("*") || !st.conditionsHold(r.Context) {
				continue
			}
			ref := rp.Policy.Kind.String() + " " + rp.Name + " Statement[" + strconv.Itoa(i) + "]"
			if st.Deny {
				// Assumption: a Deny outside the scope still denies.
				return Decision{Effect: ExplicitDeny, ByResourcePolicy: true, Reason: "explicitly denied by " + ref}
			}
			if resourceAllowedBy == "" && inScope(rp.Policy.Kind, r.Action, cross) {
				resourceAllows, resourceAllowedBy = true, ref
			}
		}
	}

	switch {
	case !cross && identityAllows:
		if identityAllowedBy == "" {
			return Decision{Effect: Allow, Reason: "the account root needs no policy"}
		}
		return Decision{Effect: Allow, Reason: "allowed by " + identityAllowedBy}
	case !cross && resourceAllows:
		return Decision{Effect: Allow, Reason: "allowed by " + resourceAllowedBy}
	case cross && identityAllows && resourceAllows:
		return Decision{Effect: Allow, Reason: "another account: allowed by both " + orRoot(identityAllowedBy) + " and " + resourceAllowedBy}
	case cross && identityAllows:
		return Decision{Reason: "another account's " + r.Resource + ": " + orRoot(identityAllowedBy) + " allows " + r.Action + " but no key or secret policy does (both are needed)"}
	case cross && resourceAllows:
		return Decision{Reason: "another account's " + r.Resource + ": " + resourceAllowedBy + " allows " + r.Action + " but no RAM policy of the caller does (both are needed)"}
	}
	return Decision{Reason: "no policy allows " + r.Action + " on " + r.Resource}
}

func orRoot(by string) string {
	if by == "" {
		return "the account root"
	}
	return by
}

// Key-policy scope, seed 004's "Permissions" list (the whole list, the
// sample's missing comma after kms:ScheduleKeyDeletion notwithstanding),
// and the key-user list of its third sample statement, the only one that
// names a RAM user of another account.
var (
	keyScope = []string{
		"kms:List*", "kms:Describe*", "kms:Create*", "kms:Enable*", "kms:Disable*",
		"kms:Get*", "kms:Set*", "kms:Update*", "kms:Delete*", "kms:Cancel*",
		"kms:TagResource", "kms:UntagResource", "kms:ImportKeyMaterial", "kms:ScheduleKeyDeletion",
		"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:GenerateAndExportDataKey",
		"kms:AsymmetricEncrypt", "kms:AsymmetricDecrypt", "kms:DescribeKey", "kms:DescribeKeyVersion",
		"kms:ListKeyVersions", "kms:ListAliasesByKeyId", "kms:TagResource",
	}
	keyUserScope = []string{
		"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:GenerateAndExportDataKey",
		"kms:AsymmetricEncrypt", "kms:AsymmetricDecrypt", "kms:DescribeKey", "kms:DescribeKeyVersion",
		"kms:ListKeyVersions", "kms:ListAliasesByKeyId", "kms:TagResource",
	}
	// Secret policies: the actions whose resource is a secret (seed 000's
	// secret and tag tables); assumed grantable to any principal.
	secretScope = []string{
		"kms:DescribeSecret", "kms:DeleteSecret", "kms:UpdateSecret", "kms:RestoreSecret",
		"kms:GetSecretValue", "kms:PutSecretValue", "kms:ListSecretVersionIds",
		"kms:UpdateSecretVersionStage", "kms:ListResourceTags", "kms:TagResource", "kms:UntagResource",
	}
)

func inScope(k Kind, action string, cross bool) bool {
	scope := keyScope
	switch {
	case k == Secret:
		scope = secretScope
	case cross:
		scope = keyUserScope
	}
	for _, p := range scope {
		if Match(p, action, true) {
			return true
		}
	}
	return false
}

func (st *Statement) coversAction(action string) bool {
	any := false
	for _, p := range st.Actions {
		if Match(p, action, true) {
			any = true
			break
		}
	}
	return any != st.NotAction
}

func (st *Statement) coversResource(resource string) bool {
	for _, p := range st.Resources {
		if Match(p, resource, false) {
			return true
		}
	}
	return false
}

// namesCaller reports whether a key or secret policy statement's Principal
// names the caller (rule 4 of the package documentation). In a Deny
// statement acs:ram::<uid>:* names every identity of the account: the seeds
// show the form only in an Allow, and the reading that errs toward denial
// is taken where they are silent.
func (st *Statement) namesCaller(who caller, deny bool) bool {
	for _, p := range st.Principals {
		if p.Account != who.account {
			continue
		}
		switch p.Kind {
		case "account":
			if deny || who.kind == "root" {
				return true
			}
		case "root":
			if who.kind == "root" {
				return true
			}
		case "user", "role":
			if who.kind == p.Kind && who.name == p.Name {
				return true
			}
		}
	}
	return false
}

// Match reports whether s matches pattern, where '*' matches any run of
// characters (':' and '/' included) and '?' any one character; fold makes
// the comparison case-insensitive.
func Match(pattern, s string, fold bool) bool {
	if fold {
		pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	}
	// Iterative glob with backtracking to the last '*'.
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(pattern) && (pattern[pi] == '?' || pattern[pi] == s[si]):
			pi++
			si++
		case pi < len(pattern) && pattern[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(pattern) && pattern[pi] == '*' {
		pi++
	}
	return pi == len(pattern)
}

func (st *Statement) conditionsHold(ctx map[string]string) bool {
	for i := range st.Conditions {
		if !st.Conditions[i].holds(ctx) {
			return false
		}
	}
	return true
}

// lookup finds a condition key, comparing names case-insensitively.
func lookup(ctx map[string]string, key string) (string, bool) {
	if v, ok := ctx[key]; ok {
		return v, true
	}
	for k, v := range ctx {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

// negated operators hold when the key is absent or matches no value.
var negated = map[string]string{
	"StringNotEquals":           "StringEquals",
	"StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
	"StringNotLike":             "StringLike",
	"NumericNotEquals":          "NumericEquals",
	"DateNotEquals":             "DateEquals",
	"NotIpAddress":              "IpAddress",
}

func (c *Condition) holds(ctx map[string]string) bool {
	v, present := lookup(ctx, c.Key)
	if positive, isNeg := negated[c.Operator]; isNeg {
		if !present {
			return true
		}
		return !c.anyMatches(positive, v)
	}
	if !present {
		return false
	}
	return c.anyMatches(c.Operator, v)
}

// anyMatches reports whether the request value v satisfies op (a positive
// operator) for at least one of the condition's values.
func (c *Condition) anyMatches(op, v string) bool {
	switch op {
	case "StringEquals":
		for _, w := range c.Values {
			if v == w {
				return true
			}
		}
	case "StringEqualsIgnoreCase":
		for _, w := range c.Values {
			if strings.EqualFold(v, w) {
				return true
			}
		}
	case "StringLike":
		for _, w := range c.Values {
			if Match(w, v, false) {
				return true
			}
		}
	case "NumericEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals":
		x, ok := parseNumber(v)
		if !ok {
			return false
		}
		for _, w := range c.nums {
			if compare(op, cmpFloat(x, w)) {
				return true
			}
		}
	case "DateEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals":
		t, ok := parseDate(v)
		if !ok {
			return false
		}
		for _, w := range c.dates {
			if compare(op, t.Compare(w)) {
				return true
			}
		}
	case "Bool":
		b, ok := parseBool(v)
		if !ok {
			return false
		}
		for _, w := range c.bools {
			if b == w {
				return true
			}
		}
	case "IpAddress":
		a, err := netip.ParseAddr(v)
		if err != nil {
			return false
		}
		a = a.Unmap()
		for _, pf := range c.prefixes {
			if pf.Contains(a) {
				return true
			}
		}
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compare applies the relation named by the operator's suffix to the result
// of comparing the request value with the policy value.
func compare(op string, c int) bool {
	switch {
	case strings.HasSuffix(op, "LessThanEquals"):
		return c <= 0
	case strings.HasSuffix(op, "LessThan"):
		return c < 0
	case strings.HasSuffix(op, "GreaterThanEquals"):
		return c >= 0
	case strings.HasSuffix(op, "GreaterThan"):
		return c > 0
	}
	return c == 0
}
