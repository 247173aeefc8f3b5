package localauthz

import (
	"errors"
	"strconv"
	"strings"
)

// Severity grades a lint [Finding].
type Severity string

const (
	SeverityError   Severity = "error"   // the policy does not do what it says
	SeverityWarning Severity = "warning" // risky or probably unintended
	SeverityInfo    Severity = "info"    // worth knowing
)

// Values returns every Severity.
func (Severity) Values() []Severity { return []Severity{SeverityError, SeverityWarning, SeverityInfo} }

// Finding is one lint result.
type Finding struct {
	Severity Severity `json:"severity"`
	Code     string   `json:"code"`
	Path     string   `json:"path"`
	Message  string   `json:"message"`
}

// String renders "severity code path: message".
func (f Finding) String() string {
	p := f.Path
	if p == "" {
		p = "(policy)"
	}
	return string(f.Severity) + " " + f.Code + " " + p + ": " + f.Message
}

// Lint finding codes.
const (
	CodeParse                = "parse"                   // the document does not parse (error)
	CodeUnsupported          = "unsupported"             // an element or operator RAM does not accept (error)
	CodeTooLarge             = "too-large"               // above the size limit (error)
	CodeFullAccess           = "full-access"             // kms:* (or *) allowed on * (warning)
	CodeUnscopedSensitive    = "unscoped-sensitive"      // GetSecretValue/Decrypt allowed on * (warning)
	CodeTagAccessWithTagEdit = "tag-access-with-tagging" // tag-based access and tag editing together (warning)
	CodeIPOnly               = "ip-only"                 // the only restriction is the source IP (warning)
	CodeUnknownAction        = "unknown-action"          // not a KMS action (error)
	CodeActionCase           = "action-case"             // a KMS action in non-canonical case (warning)
	CodeActionMatchesNothing = "action-matches-nothing"  // a wildcard matching no known KMS action (warning)
	CodeOutOfScope           = "out-of-scope"            // key/secret policy action it cannot grant (warning)
	CodeSourceVpcNonKMS      = "source-vpc-non-kms"      // acs:SourceVpc with non-kms: actions (error)
	CodeCreateSecretChild    = "create-secret-child"     // CreateSecret granted on secret/* only (warning)
	CodeNoAliasResource      = "no-alias-resource"       // key use granted without alias ARNs (info)
	CodeKeyNotSupplied       = "key-not-supplied"        // condition key the actions never supply (warning/info)
	CodeUnknownConditionKey  = "unknown-condition-key"   // kms: key KMS does not define (warning)
	CodeDuplicateSid         = "duplicate-sid"           // two statements share a Sid (warning)
	CodeSidCharset           = "sid-charset"             // Sid outside the documented characters (info)
	CodeRootPrincipal        = "root-principal"          // :root in a key policy is read narrowly (info)
	CodeKMSResourceShape     = "kms-resource-shape"      // a kms ARN that names no key, alias or secret (warning)
	CodeNoPermissionNeeded   = "no-permission-needed"    // kms:DescribeRegions, which no policy decides (info)
)

// LintDocument parses and lints a document. A document that does not parse
// yields one error finding naming the offending element.
func LintDocument(doc []byte, kind PolicyKind, opts ...ParseOption) []Finding {
	p, err := ParsePolicy(doc, kind, opts...)
	if err != nil {
		var pe *PolicyError
		if !errors.As(err, &pe) {
			return []Finding{{Severity: SeverityError, Code: CodeParse, Message: err.Error()}}
		}
		code := CodeParse
		switch {
		case errors.Is(err, ErrUnsupported):
			code = CodeUnsupported
		case errors.Is(err, ErrTooLarge):
			code = CodeTooLarge
		}
		msg := pe.Problem
		if pe.Expected != "" {
			msg += "; expected " + pe.Expected
		}
		if pe.Line > 0 {
			msg += " (line " + strconv.Itoa(pe.Line) + ", column " + strconv.Itoa(pe.Column) + ")"
		}
		return []Finding{{Severity: SeverityError, Code: code, Path: pe.Path, Message: msg}}
	}
	return Lint(p)
}

// HasErrors reports whether any finding is an error.
func HasErrors(fs []Finding) bool {
	for _, f := range fs {
		if f.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Lint reports risky, ineffective or suspicious parts of a parsed policy.
//
// Huawei Cloud policies get the Huawei checks: unknown operators (such as
// the AWS spelling NumericLessThan) and operators of the wrong type for
// their key, which never match; StringLike (a substring test) where
// StringMatch was meant; kms:* on *; unknown actions and actions covered
// through a legacy alias; resources that cannot fit the actions; the SCP
// grammar; ForAllValues and negated Deny conditions on absent keys.
func Lint(p *Policy) []Finding {
	if p.Dialect() == DialectHuawei {
		return lintHuawei(p)
	}
	l := linter{p: p}
	l.run()
	return l.out
}

type linter struct {
	p   *Policy
	out []Finding
}

func (l *linter) add(sev Severity, code, path, msg string) {
	l.out = append(l.out, Finding{Severity: sev, Code: code, Path: path, Message: msg})
}

func listPath(base string, array bool, i int) string {
	if array {
		return joinIndex(base, i)
	}
	return base
}

// covered returns the known KMS actions a statement's Action/NotAction covers.
func covered(s *compiledStatement) []string {
	var out []string
	for _, a := range knownActions {
		if s.matchesAction(a) {
			out = append(out, a)
		}
	}
	return out
}

// relGlob compiles the relative part of a KMS resource pattern, or reports
// that the pattern is "*" (covers everything) or not a KMS ARN.
func relGlob(r string) (g glob, all, ok bool) {
	if r == "*" {
		return glob{}, true, true
	}
	a, isARN := parseARN(r)
	if !isARN || !(a.service == "kms" || a.service == "*") {
		return glob{}, false, false
	}
	return compileGlob(a.relative, false), false, true
}

// policyFacts are what the cross-statement checks need, gathered over
// every Allow statement (paths of the first statements concerned).
type policyFacts struct {
	tagCond, tagEdit             string // kms:tag-conditioned access; tag editing
	createSecret                 string // grants kms:CreateSecret
	createContainer, createChild bool   // ... on the container; on secret/<name>
	keyUse                       string // grants key use on key ARNs (its Resource)
	keyUseOnAlias                bool
}

func (l *linter) run() {
	var pf policyFacts
	sids := map[string]string{}
	for i := range l.p.doc.statements {
		sd, cs := &l.p.doc.statements[i], &l.p.stmts[i]
		l.sid(sd, sids)
		l.actions(sd, cs)
		l.conditions(sd, cs)
		if l.p.kind != RAMPolicy {
			l.scope(sd, cs)
			continue
		}
		l.resourceShapes(sd)
		if !cs.deny {
			l.breadth(sd, cs)
			pf.collect(sd, cs)
		}
	}
	if pf.tagCond != "" && pf.tagEdit != "" {
		l.add(SeverityWarning, CodeTagAccessWithTagEdit, pf.tagEdit, "grants tag editing while "+pf.tagCond+" grants access by kms:tag; whoever can tag a key can change who may use it (seed 001)")
	}
	if pf.createSecret != "" && pf.createChild && !pf.createContainer {
		l.add(SeverityWarning, CodeCreateSecretChild, joinKey(pf.createSecret, "Resource"), "kms:CreateSecret is authorized on the secret container acs:kms:<region>:<account>:secret, which secret/* does not match")
	}
	if pf.keyUse != "" && !pf.keyUseOnAlias {
		l.add(SeverityInfo, CodeNoAliasResource, pf.keyUse, "calls that name the key by alias are denied unless the alias ARN (acs:kms:<region>:<account>:alias/<name>) is also granted (seed 001)")
	}
}

func (l *linter) sid(sd *stmtDoc, seen map[string]string) {
	if !sd.hasSid {
		return
	}
	path := joinKey(sd.path, "Sid")
	if prev, dup := seen[sd.sid]; dup {
		l.add(SeverityWarning, CodeDuplicateSid, path, "Sid "+strconv.Quote(sd.sid)+" is also used by "+prev)
	} else {
		seen[sd.sid] = sd.path
	}
	if !sidCharsetOK(sd.sid) {
		l.add(SeverityInfo, CodeSidCharset, path, "Sid has characters outside letters, digits and _ / + = . @ - (the key-policy documentation's limit)")
	}
}

// resourceShapes flags kms ARNs that name no KMS resource type.
func (l *linter) resourceShapes(sd *stmtDoc) {
	for j, r := range sd.resources {
		a, ok := parseARN(r)
		if !ok || a.service != "kms" {
			continue
		}
		typ, _, _ := strings.Cut(a.relative, "/")
		if !strings.ContainsAny(typ, "*?") && typ != "key" && typ != "alias" && typ != "secret" {
			l.add(SeverityWarning, CodeKMSResourceShape, listPath(joinKey(sd.path, "Resource"), sd.resourcesArray, j),
				"KMS resources are key, key/<id>, alias, alias/<name>, secret or secret/<name>; "+strconv.Quote(a.relative)+" matches none of them")
		}
	}
}

// breadth flags Allow statements of a RAM policy that reach too far.
func (l *linter) breadth(sd *stmtDoc, cs *compiledStatement) {
	anyResource := false
	for _, r := range sd.resources {
		anyResource = anyResource || r == "*"
	}
	if !anyResource {
		return
	}
	full := false
	for _, a := range sd.actions {
		full = full || !sd.notAction && (a == "*" || strings.EqualFold(a, "kms:*"))
	}
	if full {
		l.add(SeverityWarning, CodeFullAccess, joinKey(sd.path, sd.actionElem()), "allows every KMS action on every resource; grant specific actions on specific keys and secrets instead")
	} else {
		for _, act := range []string{"kms:GetSecretValue", "kms:Decrypt"} {
			if cs.matchesAction(act) {
				l.add(SeverityWarning, CodeUnscopedSensitive, joinKey(sd.path, "Resource"), act+" is allowed on every resource (\"*\"); scope Resource to the secrets and keys the principal needs")
			}
		}
	}
	onlyIP := len(sd.conds) > 0
	for _, c := range sd.conds {
		onlyIP = onlyIP && (c.op == "IpAddress" || c.op == "NotIpAddress")
	}
	if onlyIP {
		l.add(SeverityWarning, CodeIPOnly, joinKey(sd.path, "Condition"), "the only restriction is the source IP address, which a proxy or VPN can change; also scope the resources (seed 001)")
	}
}

// collect gathers the facts of one Allow statement of a RAM policy.
func (pf *policyFacts) collect(sd *stmtDoc, cs *compiledStatement) {
	for _, c := range sd.conds {
		if pf.tagCond == "" && strings.HasPrefix(strings.ToLower(c.key), "kms:tag/") && !ramOperators[c.op].negate {
			pf.tagCond = sd.path
		}
	}
	for _, act := range []string{"kms:TagResource", "kms:UntagResource", "kms:TagResources", "kms:UntagResources"} {
		if pf.tagEdit == "" && cs.matchesAction(act) {
			pf.tagEdit = sd.path
		}
	}
	createSecret := cs.matchesAction("kms:CreateSecret")
	if createSecret && pf.createSecret == "" {
		pf.createSecret = sd.path
	}
	keyUse := false
	for _, act := range []string{"kms:Encrypt", "kms:GenerateDataKey", "kms:AsymmetricSign", "kms:AsymmetricEncrypt"} {
		keyUse = keyUse || cs.matchesAction(act)
	}
	for _, r := range sd.resources {
		g, all, ok := relGlob(r)
		if !ok {
			continue
		}
		onContainer := all || g.match("secret")
		pf.createContainer = pf.createContainer || createSecret && onContainer
		pf.createChild = pf.createChild || createSecret && !onContainer && g.match("secret/x")
		if keyUse {
			pf.keyUseOnAlias = pf.keyUseOnAlias || all || g.match("alias/x")
			if !all && g.match("key/x") && pf.keyUse == "" {
				pf.keyUse = joinKey(sd.path, "Resource")
			}
		}
	}
}

func sidCharsetOK(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_/+=.@-", c)) {
			return false
		}
	}
	return true
}

// actions checks every Action/NotAction entry against the catalogue.
func (l *linter) actions(sd *stmtDoc, cs *compiledStatement) {
	actPath := joinKey(sd.path, sd.actionElem())
	for j, a := range sd.actions {
		path := listPath(actPath, sd.actionsArray, j)
		svc, _, ok := strings.Cut(a, ":")
		if !ok || !strings.EqualFold(svc, "kms") {
			continue // "*" and other services are not KMS's to check
		}
		g := &cs.actions[j]
		if g.hasWildcard() {
			matched := false
			for _, k := range knownActions {
				if g.match(k) {
					matched = true
					break
				}
			}
			if !matched {
				l.add(SeverityWarning, CodeActionMatchesNothing, path, strconv.Quote(a)+" matches no known KMS action")
			}
			continue
		}
		if c, known := canonical[strings.ToLower(a)]; known {
			if c != a {
				l.add(SeverityWarning, CodeActionCase, path, strconv.Quote(a)+" works (actions are case-insensitive) but is spelled "+c+" in the KMS documentation; did you mean "+c+"?")
			}
			continue
		}
		if strings.EqualFold(a, actionDescribeRegions) {
			l.add(SeverityInfo, CodeNoPermissionNeeded, path, strconv.Quote(a)+" needs no permission: \"The DescribeRegions operation does not require access control\" (seed 000), and a Deny does not stop it (seed 002); this entry has no effect")
			continue
		}
		msg := strconv.Quote(a) + " is not a KMS action"
		if s := closest(a, knownActions, 3); s != "" {
			msg += "; did you mean " + s + "?"
		}
		if strings.EqualFold(a, "kms:ReEncrypt") {
			msg = `"kms:ReEncrypt" is not an action; ReEncrypt needs kms:ReEncryptFrom on the source key and kms:ReEncryptTo on the destination key (or kms:ReEncrypt*)`
		}
		l.add(SeverityError, CodeUnknownAction, path, msg)
	}
}

// conditions checks condition keys against the actions that supply them.
func (l *linter) conditions(sd *stmtDoc, cs *compiledStatement) {
	var cov []string
	covDone := false
	for _, c := range sd.conds {
		path := joinKey(joinKey(joinKey(sd.path, "Condition"), c.op), c.key)
		lk := strings.ToLower(c.key)
		if lk == "acs:sourcevpc" {
			for j, a := range sd.actions {
				svc, _, _ := strings.Cut(a, ":")
				if sd.notAction || !strings.EqualFold(svc, "kms") {
					l.add(SeverityError, CodeSourceVpcNonKMS, listPath(joinKey(sd.path, sd.actionElem()), sd.actionsArray, j), "acs:SourceVpc works only when every action of the statement starts with kms: (KMS condition-key reference)")
					break
				}
			}
		}
		if !strings.HasPrefix(lk, condKeyKMSPrefix) {
			continue
		}
		if !knownKMSConditionKey(c.key) {
			l.add(SeverityWarning, CodeUnknownConditionKey, path, strconv.Quote(c.key)+" is not a KMS condition key (kms:tag/<TagKey>, kms:EncryptionAlgorithm, kms:EncryptionContext:<Key>)")
			continue
		}
		if !covDone {
			cov, covDone = covered(cs), true
		}
		var unsupplied []string
		for _, a := range cov {
			if !suppliesConditionKey(a, c.key) {
				unsupplied = append(unsupplied, a)
			}
		}
		switch {
		case len(cov) > 0 && len(unsupplied) == len(cov):
			effect := "the statement can never apply"
			if ramOperators[c.op].negate {
				effect = "the negated condition always holds"
			}
			l.add(SeverityWarning, CodeKeyNotSupplied, path, "none of the statement's actions supplies "+c.key+"; "+effect)
		case len(unsupplied) > 0:
			var explicit []string
			for j, a := range sd.actions {
				if !cs.actions[j].hasWildcard() && !sd.notAction && contains(unsupplied, canonical[strings.ToLower(a)]) {
					explicit = append(explicit, a)
				}
			}
			if len(explicit) > 0 {
				l.add(SeverityInfo, CodeKeyNotSupplied, path, strings.Join(explicit, ", ")+" never supplies "+c.key+"; for those actions the condition cannot match")
			}
		}
	}
}

// scope checks that a key or secret policy's Allow actions are grantable.
func (l *linter) scope(sd *stmtDoc, cs *compiledStatement) {
	actPath := joinKey(sd.path, sd.actionElem())
	for _, ps := range sd.principals {
		if strings.HasSuffix(ps, ":root") {
			l.add(SeverityInfo, CodeRootPrincipal, joinKey(sd.path, "Principal"), ps+" is read as the account's root identity only; name RAM users and roles (acs:ram::<uid>:user/<name>, :role/<name>) to grant them")
		}
	}
	if cs.deny || sd.notAction {
		return
	}
	for j, a := range sd.actions {
		g := &cs.actions[j]
		inScope := false
		for _, k := range knownActions {
			if g.match(k) && inResourcePolicyScope(l.p.kind, k, false) {
				inScope = true
				break
			}
		}
		if !inScope {
			l.add(SeverityWarning, CodeOutOfScope, listPath(actPath, sd.actionsArray, j), strconv.Quote(a)+" is outside what a "+string(l.p.kind)+" policy can grant; it has no effect (grant it in RAM instead)")
		}
	}
}
