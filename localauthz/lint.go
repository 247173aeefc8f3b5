package localauthz

import (
	"slices"
	"strconv"
	"strings"

	"github.com/kmsenvelope/kmsenvelope/localauthz/core"
)

// Lint finding codes.
const (
	CodeParse                = core.CodeParse                // the document does not parse (error)
	CodeUnsupported          = core.CodeUnsupported          // an element or operator RAM does not accept (error)
	CodeTooLarge             = core.CodeTooLarge             // above the size limit (error)
	CodeFullAccess           = core.CodeFullAccess           // kms:* (or *) allowed on * (warning)
	CodeUnscopedSensitive    = "unscoped-sensitive"          // GetSecretValue/Decrypt allowed on * (warning)
	CodeTagAccessWithTagEdit = "tag-access-with-tagging"     // tag-based access and tag editing together (warning)
	CodeIPOnly               = "ip-only"                     // the only restriction is the source IP (warning)
	CodeUnknownAction        = core.CodeUnknownAction        // not a KMS action (error)
	CodeActionCase           = core.CodeActionCase           // a KMS action in non-canonical case (warning)
	CodeActionMatchesNothing = core.CodeActionMatchesNothing // a wildcard matching no known KMS action (warning)
	CodeOutOfScope           = "out-of-scope"                // key/secret policy action it cannot grant (warning)
	CodeSourceVpcNonKMS      = "source-vpc-non-kms"          // acs:SourceVpc with non-kms: actions (error)
	CodeCreateSecretChild    = "create-secret-child"         // CreateSecret granted on secret/* only (warning)
	CodeNoAliasResource      = "no-alias-resource"           // key use granted without alias ARNs (info)
	CodeKeyNotSupplied       = "key-not-supplied"            // condition key the actions never supply (warning/info)
	CodeUnknownConditionKey  = core.CodeUnknownConditionKey  // a key KMS's condition-key page does not list, in a kms:-only statement (warning)
	CodeDuplicateSid         = core.CodeDuplicateSid         // two statements share a Sid (warning)
	CodeSidCharset           = "sid-charset"                 // Sid outside the documented characters (info)
	CodeRootPrincipal        = "root-principal"              // :root in a key policy is read narrowly (info)
	CodeKMSResourceShape     = core.CodeKMSResourceShape     // a kms ARN that names no key, alias or secret (warning)
	CodeNoPermissionNeeded   = "no-permission-needed"        // kms:DescribeRegions, which no policy decides (info)
)

// LintDocument parses and lints a document. A document that does not parse
// yields one error finding naming the offending element.
func LintDocument(doc []byte, kind PolicyKind, opts ...ParseOption) []Finding {
	p, err := ParsePolicy(doc, kind, opts...)
	if err != nil {
		return []Finding{core.ParseFinding(err)}
	}
	return Lint(p)
}

// Lint reports risky, ineffective or suspicious parts of a parsed Alibaba
// Cloud policy; a policy of another dialect has no findings here (see the
// huawei package's Lint).
func Lint(p *Policy) []Finding {
	if !validKind(p.Kind()) {
		return nil
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

// covered returns the known KMS actions a statement's Action/NotAction covers.
func covered(s *core.Statement) []string {
	var out []string
	for _, a := range knownActions {
		if s.MatchesAction(core.Action{Name: a}) {
			out = append(out, a)
		}
	}
	return out
}

// relGlob compiles the relative part of a KMS resource pattern, or reports
// that the pattern is "*" (covers everything) or not a KMS ARN.
func relGlob(r string) (g core.Glob, all, ok bool) {
	if r == "*" {
		return core.Glob{}, true, true
	}
	a, isARN := parseARN(r)
	if !isARN || !(a.service == "kms" || a.service == "*") {
		return core.Glob{}, false, false
	}
	return core.CompileGlob(a.relative, false), false, true
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
	for i := range l.p.Document().Statements {
		sd, cs := &l.p.Document().Statements[i], &l.p.Statements()[i]
		l.sid(sd, sids)
		l.actions(sd, cs)
		l.conditions(sd, cs)
		if l.p.Kind() != RAMPolicy {
			l.scope(sd, cs)
			continue
		}
		l.resourceShapes(sd)
		if !cs.Deny {
			l.breadth(sd, cs)
			pf.collect(sd, cs)
		}
	}
	if pf.tagCond != "" && pf.tagEdit != "" {
		l.add(SeverityWarning, CodeTagAccessWithTagEdit, pf.tagEdit, "grants tag editing while "+pf.tagCond+" grants access by kms:tag; whoever can tag a key can change who may use it (seed 001)")
	}
	if pf.createSecret != "" && pf.createChild && !pf.createContainer {
		l.add(SeverityWarning, CodeCreateSecretChild, core.JoinKey(pf.createSecret, "Resource"), "kms:CreateSecret is authorized on the secret container acs:kms:<region>:<account>:secret, which secret/* does not match")
	}
	if pf.keyUse != "" && !pf.keyUseOnAlias {
		l.add(SeverityInfo, CodeNoAliasResource, pf.keyUse, "calls that name the key by alias are denied unless the alias ARN (acs:kms:<region>:<account>:alias/<name>) is also granted (seed 001)")
	}
}

func (l *linter) sid(sd *core.StatementDoc, seen map[string]string) {
	if !sd.HasSid {
		return
	}
	if f, dup := core.DuplicateSid(sd, seen); dup {
		l.out = append(l.out, f)
	}
	if !sidCharsetOK(sd.Sid) {
		l.add(SeverityInfo, CodeSidCharset, core.JoinKey(sd.Path, "Sid"), "Sid has characters outside letters, digits and _ / + = . @ - (the key-policy documentation's limit)")
	}
}

// resourceShapes flags kms ARNs that name no KMS resource type.
func (l *linter) resourceShapes(sd *core.StatementDoc) {
	for j, r := range sd.Resources {
		a, ok := parseARN(r)
		if !ok || a.service != "kms" {
			continue
		}
		typ, _, _ := strings.Cut(a.relative, "/")
		if !strings.ContainsAny(typ, "*?") && typ != "key" && typ != "alias" && typ != "secret" {
			l.add(SeverityWarning, CodeKMSResourceShape, core.ListPath(core.JoinKey(sd.Path, "Resource"), sd.ResourcesArray, j),
				"KMS resources are key, key/<id>, alias, alias/<name>, secret or secret/<name>; "+strconv.Quote(a.relative)+" matches none of them")
		}
	}
}

// breadth flags Allow statements of a RAM policy that reach too far.
func (l *linter) breadth(sd *core.StatementDoc, cs *core.Statement) {
	anyResource := false
	for _, r := range sd.Resources {
		anyResource = anyResource || r == "*"
	}
	if !anyResource {
		return
	}
	full := false
	for _, a := range sd.Actions {
		full = full || !sd.NotAction && (a == "*" || strings.EqualFold(a, "kms:*"))
	}
	if full {
		l.add(SeverityWarning, CodeFullAccess, core.JoinKey(sd.Path, sd.ActionElem()), "allows every KMS action on every resource; grant specific actions on specific keys and secrets instead")
	} else {
		for _, act := range []string{"kms:GetSecretValue", "kms:Decrypt"} {
			if cs.MatchesAction(core.Action{Name: act}) {
				l.add(SeverityWarning, CodeUnscopedSensitive, core.JoinKey(sd.Path, "Resource"), act+" is allowed on every resource (\"*\"); scope Resource to the secrets and keys the principal needs")
			}
		}
	}
	onlyIP := len(sd.Conds) > 0
	for _, c := range sd.Conds {
		onlyIP = onlyIP && (c.Op == "IpAddress" || c.Op == "NotIpAddress")
	}
	if onlyIP {
		l.add(SeverityWarning, CodeIPOnly, core.JoinKey(sd.Path, "Condition"), "the only restriction is the source IP address, which a proxy or VPN can change; also scope the resources (seed 001)")
	}
}

// collect gathers the facts of one Allow statement of a RAM policy.
func (pf *policyFacts) collect(sd *core.StatementDoc, cs *core.Statement) {
	for _, c := range sd.Conds {
		if pf.tagCond == "" && strings.HasPrefix(strings.ToLower(c.Key), "kms:tag/") && !ramOperators[c.Op].Negate {
			pf.tagCond = sd.Path
		}
	}
	for _, act := range []string{"kms:TagResource", "kms:UntagResource", "kms:TagResources", "kms:UntagResources"} {
		if pf.tagEdit == "" && cs.MatchesAction(core.Action{Name: act}) {
			pf.tagEdit = sd.Path
		}
	}
	createSecret := cs.MatchesAction(core.Action{Name: "kms:CreateSecret"})
	if createSecret && pf.createSecret == "" {
		pf.createSecret = sd.Path
	}
	keyUse := false
	for _, act := range []string{"kms:Encrypt", "kms:GenerateDataKey", "kms:AsymmetricSign", "kms:AsymmetricEncrypt"} {
		keyUse = keyUse || cs.MatchesAction(core.Action{Name: act})
	}
	for _, r := range sd.Resources {
		g, all, ok := relGlob(r)
		if !ok {
			continue
		}
		onContainer := all || g.Match("secret")
		pf.createContainer = pf.createContainer || createSecret && onContainer
		pf.createChild = pf.createChild || createSecret && !onContainer && g.Match("secret/x")
		if keyUse {
			pf.keyUseOnAlias = pf.keyUseOnAlias || all || g.Match("alias/x")
			if !all && g.Match("key/x") && pf.keyUse == "" {
				pf.keyUse = core.JoinKey(sd.Path, "Resource")
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
func (l *linter) actions(sd *core.StatementDoc, cs *core.Statement) {
	actPath := core.JoinKey(sd.Path, sd.ActionElem())
	for j, a := range sd.Actions {
		path := core.ListPath(actPath, sd.ActionsArray, j)
		svc, _, ok := strings.Cut(a, ":")
		if !ok || !strings.EqualFold(svc, "kms") {
			continue // "*" and other services are not KMS's to check
		}
		g := &cs.Actions[j]
		if g.HasWildcard() {
			matched := false
			for _, k := range knownActions {
				if g.Match(k) {
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
		if s := core.Closest(a, knownActions, 3); s != "" {
			msg += "; did you mean " + s + "?"
		}
		if strings.EqualFold(a, "kms:ReEncrypt") {
			msg = `"kms:ReEncrypt" is not an action; ReEncrypt needs kms:ReEncryptFrom on the source key and kms:ReEncryptTo on the destination key (or kms:ReEncrypt*)`
		}
		l.add(SeverityError, CodeUnknownAction, path, msg)
	}
}

// conditions checks condition keys against the actions that supply them.
func (l *linter) conditions(sd *core.StatementDoc, cs *core.Statement) {
	var cov []string
	covDone := false
	for _, c := range sd.Conds {
		path := core.JoinKey(core.JoinKey(core.JoinKey(sd.Path, "Condition"), c.Op), c.Key)
		lk := strings.ToLower(c.Key)
		if lk == "acs:sourcevpc" {
			for j, a := range sd.Actions {
				svc, _, _ := strings.Cut(a, ":")
				if sd.NotAction || !strings.EqualFold(svc, "kms") {
					l.add(SeverityError, CodeSourceVpcNonKMS, core.ListPath(core.JoinKey(sd.Path, sd.ActionElem()), sd.ActionsArray, j), "acs:SourceVpc works only when every action of the statement starts with kms: (KMS condition-key reference)")
					break
				}
			}
		}
		if !strings.HasPrefix(lk, condKeyKMSPrefix) {
			if onlyKMSActions(sd) && !knownUniversalConditionKey(c.Key) {
				l.add(SeverityWarning, CodeUnknownConditionKey, path, strconv.Quote(c.Key)+" is not a condition key KMS supports: its condition-key reference lists the universal keys "+
					strings.Join(universalConditionKeys, ", ")+" and kms:tag/<TagKey>, kms:EncryptionAlgorithm, kms:EncryptionContext:<Key>; a key KMS never supplies is absent from every request")
			}
			continue
		}
		if !knownKMSConditionKey(c.Key) {
			l.add(SeverityWarning, CodeUnknownConditionKey, path, strconv.Quote(c.Key)+" is not a KMS condition key (kms:tag/<TagKey>, kms:EncryptionAlgorithm, kms:EncryptionContext:<Key>)")
			continue
		}
		if !covDone {
			cov, covDone = covered(cs), true
		}
		var unsupplied []string
		for _, a := range cov {
			if !suppliesConditionKey(a, c.Key) {
				unsupplied = append(unsupplied, a)
			}
		}
		switch {
		case len(cov) > 0 && len(unsupplied) == len(cov):
			effect := "the statement can never apply"
			if ramOperators[c.Op].Negate {
				effect = "the negated condition always holds"
			}
			l.add(SeverityWarning, CodeKeyNotSupplied, path, "none of the statement's actions supplies "+c.Key+"; "+effect)
		case len(unsupplied) > 0:
			var explicit []string
			for j, a := range sd.Actions {
				if !cs.Actions[j].HasWildcard() && !sd.NotAction && slices.Contains(unsupplied, canonical[strings.ToLower(a)]) {
					explicit = append(explicit, a)
				}
			}
			if len(explicit) > 0 {
				l.add(SeverityInfo, CodeKeyNotSupplied, path, strings.Join(explicit, ", ")+" never supplies "+c.Key+"; for those actions the condition cannot match")
			}
		}
	}
}

// onlyKMSActions reports whether every action of a statement is a kms:
// action (key and secret policies always are): its conditions are then
// KMS's to check; a statement that also names other services may use
// their keys.
func onlyKMSActions(sd *core.StatementDoc) bool {
	if sd.NotAction {
		return false
	}
	for _, a := range sd.Actions {
		svc, _, ok := strings.Cut(a, ":")
		if !ok || !strings.EqualFold(svc, "kms") {
			return false
		}
	}
	return len(sd.Actions) > 0
}

// scope checks that a key or secret policy's Allow actions are grantable.
func (l *linter) scope(sd *core.StatementDoc, cs *core.Statement) {
	actPath := core.JoinKey(sd.Path, sd.ActionElem())
	for _, ps := range sd.Principals {
		if strings.HasSuffix(ps, ":root") {
			l.add(SeverityInfo, CodeRootPrincipal, core.JoinKey(sd.Path, "Principal"), ps+" is read as the account's root identity only; name RAM users and roles (acs:ram::<uid>:user/<name>, :role/<name>) to grant them")
		}
	}
	if cs.Deny || sd.NotAction {
		return
	}
	for j, a := range sd.Actions {
		g := &cs.Actions[j]
		inScope := false
		for _, k := range knownActions {
			if g.Match(k) && inResourcePolicyScope(l.p.Kind(), k, false) {
				inScope = true
				break
			}
		}
		if !inScope {
			l.add(SeverityWarning, CodeOutOfScope, core.ListPath(actPath, sd.ActionsArray, j), strconv.Quote(a)+" is outside what a "+string(l.p.Kind())+" policy can grant; it has no effect (grant it in RAM instead)")
		}
	}
}
