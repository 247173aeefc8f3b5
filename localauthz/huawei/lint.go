package huawei

import (
	"slices"
	"strconv"
	"strings"

	"github.com/kmsenvelope/kmsenvelope/localauthz/core"
)

// Lint finding codes of the Huawei Cloud dialect, the shared ones first.
const (
	CodeParse                = core.CodeParse
	CodeUnsupported          = core.CodeUnsupported
	CodeTooLarge             = core.CodeTooLarge
	CodeFullAccess           = core.CodeFullAccess
	CodeUnknownAction        = core.CodeUnknownAction
	CodeActionCase           = core.CodeActionCase
	CodeActionMatchesNothing = core.CodeActionMatchesNothing
	CodeUnknownConditionKey  = core.CodeUnknownConditionKey
	CodeDuplicateSid         = core.CodeDuplicateSid
	CodeKMSResourceShape     = core.CodeKMSResourceShape

	CodeUnknownOperator     = "unknown-operator"          // an operator Huawei does not have; it never matches (error)
	CodeOperatorType        = "operator-type"             // operator of the wrong type for its key; never matches (error)
	CodeStringLikeSubstring = "stringlike-substring"      // StringLike is a substring test, StringMatch the glob (warning/info)
	CodeActionAlias         = "action-alias"              // a pattern covers an action through its legacy alias (info)
	CodeLegacyUnmatched     = "legacy-unmatched"          // a 1.1 policy names an action that only matches by its legacy alias (warning)
	CodeResourceCase        = "resource-case"             // a URN resource type in the wrong case (keyid for KeyId) (warning)
	CodeNeedsStarResource   = "needs-star-resource"       // an action without a resource type granted on a specific URN (warning)
	CodeAliasNeedsKeyAlias  = "alias-needs-key-and-alias" // kms:alias:* granted on only one of its two resource types (warning)
	CodeSCPSyntax           = "scp-syntax"                // outside the SCP grammar (error)
	CodeForAllValuesAbsent  = "forallvalues-absent"       // ForAllValues holds when the key is absent (info)
	CodeNegatedAbsent       = "negated-absent"            // a negated Deny condition fires when its key is absent (info)
)

// huaweiLinter lints one Huawei Cloud policy.
type huaweiLinter struct {
	p   *Policy
	out []Finding
}

func (l *huaweiLinter) add(sev Severity, code, path, msg string) {
	l.out = append(l.out, Finding{Severity: sev, Code: code, Path: path, Message: msg})
}

// LintDocument parses and lints a document. A document that does not
// parse yields one error finding naming the offending element.
func LintDocument(doc []byte, kind PolicyKind, opts ...ParseOption) []Finding {
	p, err := ParsePolicy(doc, kind, opts...)
	if err != nil {
		return []Finding{core.ParseFinding(err)}
	}
	return Lint(p)
}

// HasErrors reports whether any finding is an error.
func HasErrors(fs []Finding) bool { return core.HasErrors(fs) }

// Lint reports risky, ineffective or suspicious parts of a parsed Huawei
// Cloud policy: unknown operators (such as the AWS spelling
// NumericLessThan) and operators of the wrong type for their key;
// StringLike (a substring test) where StringMatch was meant; kms:* on *;
// unknown actions and actions covered through a legacy alias; resources
// that cannot fit the actions; the SCP grammar; ForAllValues and negated
// Deny conditions on absent keys. A policy of another dialect has no
// findings here.
func Lint(p *Policy) []Finding {
	if !validKind(p.Kind()) {
		return nil
	}
	l := huaweiLinter{p: p}
	sids := map[string]string{}
	doc, stmts := p.Document(), p.Statements()
	for i := range doc.Statements {
		sd, cs := &doc.Statements[i], &stmts[i]
		if f, dup := core.DuplicateSid(sd, sids); dup {
			l.out = append(l.out, f)
		}
		l.actions(sd, cs)
		l.resources(sd)
		l.conditions(sd)
		if p.Kind() == SCP {
			l.scp(sd)
			continue
		}
		if !cs.Deny {
			l.breadth(sd)
			l.resourceFit(sd, cs)
		}
	}
	return l.out
}

func (l *huaweiLinter) legacy() bool { return l.p.Version() == "1.1" }

// actions checks every Action/NotAction entry against Table 1 and its
// Alias column.
func (l *huaweiLinter) actions(sd *core.StatementDoc, cs *core.Statement) {
	actPath := core.JoinKey(sd.Path, sd.ActionElem())
	for j, a := range sd.Actions {
		path := core.ListPath(actPath, sd.ActionsArray, j)
		svc, _, _ := strings.Cut(a, ":")
		if a == "*" || !strings.EqualFold(svc, "kms") {
			continue // other services are not KMS's to check
		}
		g := &cs.Actions[j]
		if g.HasWildcard() {
			direct, viaAlias := 0, map[string]string{} // action -> alias
			for _, k := range huaweiKnownActions {
				if g.Match(k) {
					direct++
					continue
				}
				for _, al := range huaweiActionIndex[k].Aliases {
					if g.Match(al) {
						viaAlias[k] = al
						break
					}
				}
			}
			legacyHit := false
			for _, al := range huaweiLegacyNames {
				legacyHit = legacyHit || g.Match(al)
			}
			switch {
			case direct == 0 && len(viaAlias) == 0 && !legacyHit:
				l.add(SeverityWarning, CodeActionMatchesNothing, path, strconv.Quote(a)+" matches no Huawei Cloud KMS action")
			case !l.legacy() && len(viaAlias) > 0 && !sd.NotAction:
				var parts []string
				for _, k := range huaweiKnownActions {
					if al, ok := viaAlias[k]; ok {
						parts = append(parts, k+" (via "+al+")")
					}
				}
				l.add(SeverityInfo, CodeActionAlias, path, strconv.Quote(a)+" also covers "+strings.Join(parts, ", ")+" through their legacy aliases (Table 1 Alias column)")
			}
			continue
		}
		if k := huaweiActionLower[strings.ToLower(a)]; k != nil {
			if k.Name != a {
				l.add(SeverityWarning, CodeActionCase, path, strconv.Quote(a)+" works (actions are case-insensitive) but is spelled "+k.Name+" in the KMS documentation")
			}
			if l.legacy() && len(k.Aliases) > 0 {
				l.add(SeverityWarning, CodeLegacyUnmatched, path, "in a 1.1 policy "+k.Name+" matches only through its legacy names "+strings.Join(k.Aliases, ", ")+"; name one of them, or use a 5.0 policy")
			}
			continue
		}
		if c, ok := huaweiLegacyLower[strings.ToLower(a)]; ok {
			if c != a {
				l.add(SeverityWarning, CodeActionCase, path, strconv.Quote(a)+" works (actions are case-insensitive) but is spelled "+c)
			}
			if !l.legacy() && !sd.NotAction {
				l.add(SeverityInfo, CodeActionAlias, path, c+" is a legacy alias; it covers "+strings.Join(huaweiAliasHolders[strings.ToLower(c)], ", "))
			}
			continue
		}
		msg := strconv.Quote(a) + " is not a Huawei Cloud KMS action"
		if s := core.Closest(a, append(append([]string(nil), huaweiKnownActions...), huaweiLegacyNames...), 4); s != "" {
			msg += "; did you mean " + s + "?"
		}
		l.add(SeverityError, CodeUnknownAction, path, msg)
	}
}

// resources flags KMS URNs whose resource type is misspelled or unknown.
func (l *huaweiLinter) resources(sd *core.StatementDoc) {
	for j, r := range sd.Resources {
		u, ok := parseURN(r)
		if !ok || !strings.EqualFold(u.service, "kms") || core.ContainsAnyByte(u.typ, "*?") {
			continue
		}
		path := core.ListPath(core.JoinKey(sd.Path, sd.ResourceElem()), sd.ResourcesArray, j)
		switch u.typ {
		case ResourceKeyID, ResourceAlias, ResourceKeystore:
			continue
		}
		matched := false
		for _, t := range []string{ResourceKeyID, ResourceAlias, ResourceKeystore} {
			if strings.EqualFold(t, u.typ) {
				l.add(SeverityWarning, CodeResourceCase, path, "resource type "+strconv.Quote(u.typ)+" never matches: URNs compare case-sensitively and the type is spelled "+t)
				matched = true
			}
		}
		if !matched {
			l.add(SeverityWarning, CodeKMSResourceShape, path, "KMS resource types are KeyId, alias and keystore; "+strconv.Quote(u.typ)+" matches none of them")
		}
	}
}

// conditions checks operators and keys.
func (l *huaweiLinter) conditions(sd *core.StatementDoc) {
	deny := sd.Effect == "Deny"
	for _, c := range sd.Conds {
		opPath := core.JoinKey(core.JoinKey(sd.Path, "Condition"), c.Op)
		path := core.JoinKey(opPath, c.Key)
		sp := splitHuaweiOperator(c.Op)
		if !sp.known {
			l.add(SeverityError, CodeUnknownOperator, opPath, unknownOperatorMessage(c.Op, sp, deny))
			continue
		}
		if kt, ok := huaweiKeyType(c.Key); ok && kt != sp.Op.ValueType() {
			l.add(SeverityError, CodeOperatorType, path, c.Op+" compares "+typeName(sp.Op.ValueType())+" values but "+c.Key+" is "+typeName(kt)+"; "+neverEffect(deny))
		}
		if sp.Op == core.OpStringContains {
			wild := false
			for _, v := range c.Values {
				wild = wild || strings.ContainsAny(v, "*?")
			}
			if wild {
				l.add(SeverityWarning, CodeStringLikeSubstring, opPath, c.Op+" tests for a substring and has no wildcards; '*' and '?' are matched literally. Use "+strings.Replace(c.Op, "Like", "Match", 1)+" for a pattern")
			} else {
				l.add(SeverityInfo, CodeStringLikeSubstring, opPath, c.Op+" tests whether the value contains the text anywhere; use StringEquals, StringStartWith or StringMatch for an exact, prefix or pattern test")
			}
		}
		if lk := strings.ToLower(c.Key); strings.HasPrefix(lk, "kms:") {
			if _, ok := huaweiKeyType(c.Key); !ok {
				msg := strconv.Quote(c.Key) + " is not a Huawei Cloud KMS condition key (seed 003 Table 4)"
				names := make([]string, len(huaweiConditionKeyTable))
				for i, k := range huaweiConditionKeyTable {
					names[i] = k.Name
				}
				if s := core.Closest(c.Key, names, 3); s != "" {
					msg += "; did you mean " + s + "?"
				}
				l.add(SeverityWarning, CodeUnknownConditionKey, path, msg)
			}
		}
		if sp.set == core.SetForAllValues && !deny && !sp.ifExists {
			l.add(SeverityInfo, CodeForAllValuesAbsent, path, c.Op+" also holds when the request has no "+c.Key+"; add a condition that requires the key (such as ForAnyValue:"+sp.base+") if only the listed values may be used")
		}
		if deny && sp.Negate && !sp.ifExists && sp.set == core.SetNone {
			l.add(SeverityInfo, CodeNegatedAbsent, path, "this Deny also applies whenever the request has no "+c.Key+"; use "+c.Op+"IfExists to deny only wrong values")
		}
	}
}

// neverEffect says what a condition that cannot be evaluated does: in an
// Allow it never matches; in a Deny this package takes it to hold.
func neverEffect(deny bool) string {
	if deny {
		return "the condition cannot be evaluated, and this package takes the Deny to apply whatever the request carries (erring toward denial)"
	}
	return "the condition never matches"
}

func unknownOperatorMessage(name string, sp huaweiOpSpec, deny bool) string {
	msg := strconv.Quote(name) + " is not a Huawei Cloud operator; " + neverEffect(deny)
	base := sp.base
	if strings.HasPrefix(base, "Numeric") {
		base = "Number" + base[len("Numeric"):]
	}
	cand := ""
	if _, ok := huaweiOperators[base]; ok {
		cand = base
	} else {
		cand = core.Closest(base, Operators(), 3)
	}
	if cand != "" {
		prefix := ""
		switch sp.set {
		case core.SetForAnyValue:
			prefix = "ForAnyValue:"
		case core.SetForAllValues:
			prefix = "ForAllValues:"
		}
		suffix := ""
		if sp.ifExists {
			suffix = "IfExists"
		}
		msg += "; did you mean " + prefix + cand + suffix + "?"
	}
	return msg
}

// breadth flags Allow statements that grant all of KMS on everything.
func (l *huaweiLinter) breadth(sd *core.StatementDoc) {
	if sd.NotAction || sd.NotResource {
		return
	}
	anyResource := !sd.HasResource
	for _, r := range sd.Resources {
		anyResource = anyResource || r == "*"
	}
	if !anyResource {
		return
	}
	for _, a := range sd.Actions {
		switch strings.ToLower(a) {
		case "kms:*", "kms:*:*":
			l.add(SeverityWarning, CodeFullAccess, core.JoinKey(sd.Path, sd.ActionElem()), "allows every KMS action on every resource; grant specific actions on specific keys instead")
			return
		case "*", "*:*", "*:*:*":
			l.add(SeverityWarning, CodeFullAccess, core.JoinKey(sd.Path, sd.ActionElem()), "allows every action of every service, KMS included, on every resource; grant specific actions on specific keys instead")
			return
		}
	}
}

// resourceFit flags Allow statements whose resources cannot fit the
// actions they name: actions without a resource type need "*", and the
// kms:alias:* actions need both the key and the alias URN.
func (l *huaweiLinter) resourceFit(sd *core.StatementDoc, cs *core.Statement) {
	if sd.NotAction || sd.NotResource || !sd.HasResource {
		return
	}
	star, keyURN, aliasURN := false, false, false
	for _, r := range sd.Resources {
		if r == "*" {
			star = true
			continue
		}
		u, ok := parseURN(r)
		if !ok {
			continue
		}
		svc, typ := core.CompileGlob(u.service, true), core.CompileGlob(u.typ, false)
		if !svc.Match("kms") {
			continue
		}
		keyURN = keyURN || typ.Match(ResourceKeyID)
		aliasURN = aliasURN || typ.Match(ResourceAlias)
	}
	if star {
		return
	}
	actPath := core.JoinKey(sd.Path, "Action")
	for j, a := range sd.Actions {
		path := core.ListPath(actPath, sd.ActionsArray, j)
		k := lookupHuaweiAction(a)
		if k == nil || cs.Actions[j].HasWildcard() {
			continue
		}
		switch {
		case len(k.ResourceTypes) == 0:
			l.add(SeverityWarning, CodeNeedsStarResource, path, k.Name+" has no resource type and is authorized on \"*\"; this statement's Resource never matches it")
		case k.NamesNoResource:
			if !coversType(sd.Resources, k.ResourceTypes[0]) {
				l.add(SeverityInfo, CodeNeedsStarResource, path, k.Name+" declares "+strings.Join(k.ResourceTypes, ", ")+" but its API names no existing resource; it is checked against every "+k.ResourceTypes[0]+" of the account (kms:*:<account-id>:"+k.ResourceTypes[0]+":*), which this statement's Resource does not cover")
			}
		case slices.Contains(k.ResourceTypes, ResourceAlias) && keyURN != aliasURN:
			missing := "alias URNs (kms:<region>:<account-id>:alias:<name>)"
			if !keyURN {
				missing = "key URNs (kms:<region>:<account-id>:KeyId:<key-id>)"
			}
			l.add(SeverityWarning, CodeAliasNeedsKeyAlias, path, k.Name+" is authorized on the key and on the alias; Resource also needs "+missing)
		}
	}
}

// coversType reports whether a resource pattern covers every resource of
// type typ in its account, as the evaluation of an action that names no
// existing resource requires (kms:*:*:KeyId:* for kms:cmk:create).
func coversType(patterns []string, typ string) bool {
	for _, r := range patterns {
		u, ok := parseURN(r)
		if !ok {
			continue
		}
		g := core.CompileGlob(r, false)
		if g.Match("kms:*:" + u.account + ":" + typ + ":*") {
			return true
		}
	}
	return false
}

// scp checks the SCP grammar: Allow statements only with Resource "*" and
// no Condition; action wildcards only as a whole segment or at the end.
func (l *huaweiLinter) scp(sd *core.StatementDoc) {
	if sd.Effect == "Allow" {
		for j, r := range sd.Resources {
			if r != "*" {
				l.add(SeverityError, CodeSCPSyntax, core.ListPath(core.JoinKey(sd.Path, "Resource"), sd.ResourcesArray, j), "an SCP Allow statement may only use Resource \"*\"")
			}
		}
		if len(sd.Conds) > 0 {
			l.add(SeverityError, CodeSCPSyntax, core.JoinKey(sd.Path, "Condition"), "an SCP Allow statement may not have a Condition (only Deny statements may)")
		}
	}
	actPath := core.JoinKey(sd.Path, sd.ActionElem())
	for j, a := range sd.Actions {
		for i := 0; i < len(a); i++ {
			if a[i] != '*' && a[i] != '?' {
				continue
			}
			wholeSeg := a[i] == '*' && (i == 0 || a[i-1] == ':') && (i == len(a)-1 || a[i+1] == ':')
			atEnd := a[i] == '*' && i == len(a)-1
			if !wholeSeg && !atEnd {
				l.add(SeverityError, CodeSCPSyntax, core.ListPath(actPath, sd.ActionsArray, j), "SCP action wildcards may only stand alone or at the end: "+strconv.Quote(a))
				break
			}
		}
	}
}
