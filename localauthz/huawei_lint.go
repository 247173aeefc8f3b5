package localauthz

import (
	"strconv"
	"strings"
)

// Lint finding codes of the Huawei Cloud dialect (besides the shared
// parse, unsupported, too-large, full-access, unknown-action, action-case,
// action-matches-nothing, unknown-condition-key, duplicate-sid and
// kms-resource-shape).
const (
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

func lintHuawei(p *Policy) []Finding {
	l := huaweiLinter{p: p}
	sids := map[string]string{}
	for i := range p.doc.statements {
		sd, cs := &p.doc.statements[i], &p.stmts[i]
		if sd.hasSid {
			if prev, dup := sids[sd.sid]; dup {
				l.add(SeverityWarning, CodeDuplicateSid, joinKey(sd.path, "Sid"), "Sid "+strconv.Quote(sd.sid)+" is also used by "+prev)
			} else {
				sids[sd.sid] = sd.path
			}
		}
		l.actions(sd, cs)
		l.resources(sd)
		l.conditions(sd)
		if p.kind == HuaweiSCP {
			l.scp(sd)
			continue
		}
		if !cs.deny {
			l.breadth(sd)
			l.resourceFit(sd, cs)
		}
	}
	return l.out
}

func (l *huaweiLinter) legacy() bool { return l.p.doc.version == "1.1" }

// actions checks every Action/NotAction entry against Table 1 and its
// Alias column.
func (l *huaweiLinter) actions(sd *stmtDoc, cs *compiledStatement) {
	actPath := joinKey(sd.path, sd.actionElem())
	for j, a := range sd.actions {
		path := listPath(actPath, sd.actionsArray, j)
		svc, _, _ := strings.Cut(a, ":")
		if a == "*" || !strings.EqualFold(svc, "kms") {
			continue // other services are not KMS's to check
		}
		g := &cs.actions[j]
		if g.hasWildcard() {
			direct, viaAlias := 0, map[string]string{} // action -> alias
			for _, k := range huaweiKnownActions {
				if g.match(k) {
					direct++
					continue
				}
				for _, al := range huaweiActionIndex[k].Aliases {
					if g.match(al) {
						viaAlias[k] = al
						break
					}
				}
			}
			legacyHit := false
			for _, al := range huaweiLegacyNames {
				legacyHit = legacyHit || g.match(al)
			}
			switch {
			case direct == 0 && len(viaAlias) == 0 && !legacyHit:
				l.add(SeverityWarning, CodeActionMatchesNothing, path, strconv.Quote(a)+" matches no Huawei Cloud KMS action")
			case !l.legacy() && len(viaAlias) > 0 && !sd.notAction:
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
			if !l.legacy() && !sd.notAction {
				l.add(SeverityInfo, CodeActionAlias, path, c+" is a legacy alias; it covers "+strings.Join(huaweiAliasHolders[strings.ToLower(c)], ", "))
			}
			continue
		}
		msg := strconv.Quote(a) + " is not a Huawei Cloud KMS action"
		if s := closest(a, append(append([]string(nil), huaweiKnownActions...), huaweiLegacyNames...), 4); s != "" {
			msg += "; did you mean " + s + "?"
		}
		l.add(SeverityError, CodeUnknownAction, path, msg)
	}
}

// resources flags KMS URNs whose resource type is misspelled or unknown.
func (l *huaweiLinter) resources(sd *stmtDoc) {
	for j, r := range sd.resources {
		u, ok := parseURN(r)
		if !ok || !strings.EqualFold(u.service, "kms") || hasAny(u.typ, "*?") {
			continue
		}
		path := listPath(joinKey(sd.path, sd.resourceElem()), sd.resourcesArray, j)
		switch u.typ {
		case HuaweiResourceKeyID, HuaweiResourceAlias, HuaweiResourceKeystore:
			continue
		}
		matched := false
		for _, t := range []string{HuaweiResourceKeyID, HuaweiResourceAlias, HuaweiResourceKeystore} {
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
func (l *huaweiLinter) conditions(sd *stmtDoc) {
	deny := sd.effect == "Deny"
	for _, c := range sd.conds {
		opPath := joinKey(joinKey(sd.path, "Condition"), c.op)
		path := joinKey(opPath, c.key)
		sp := splitHuaweiOperator(c.op)
		if !sp.known {
			l.add(SeverityError, CodeUnknownOperator, opPath, unknownOperatorMessage(c.op, sp, deny))
			continue
		}
		if kt, ok := huaweiKeyType(c.key); ok && kt != sp.op.valueType() {
			l.add(SeverityError, CodeOperatorType, path, c.op+" compares "+typeName(sp.op.valueType())+" values but "+c.key+" is "+typeName(kt)+"; "+neverEffect(deny))
		}
		if sp.op == opStringContains {
			wild := false
			for _, v := range c.values {
				wild = wild || strings.ContainsAny(v, "*?")
			}
			if wild {
				l.add(SeverityWarning, CodeStringLikeSubstring, opPath, c.op+" tests for a substring and has no wildcards; '*' and '?' are matched literally. Use "+strings.Replace(c.op, "Like", "Match", 1)+" for a pattern")
			} else {
				l.add(SeverityInfo, CodeStringLikeSubstring, opPath, c.op+" tests whether the value contains the text anywhere; use StringEquals, StringStartWith or StringMatch for an exact, prefix or pattern test")
			}
		}
		if lk := strings.ToLower(c.key); strings.HasPrefix(lk, "kms:") {
			if _, ok := huaweiKeyType(c.key); !ok {
				msg := strconv.Quote(c.key) + " is not a Huawei Cloud KMS condition key (seed 003 Table 4)"
				names := make([]string, len(huaweiConditionKeyTable))
				for i, k := range huaweiConditionKeyTable {
					names[i] = k.Name
				}
				if s := closest(c.key, names, 3); s != "" {
					msg += "; did you mean " + s + "?"
				}
				l.add(SeverityWarning, CodeUnknownConditionKey, path, msg)
			}
		}
		if sp.set == setForAllValues && !deny && !sp.ifExists {
			l.add(SeverityInfo, CodeForAllValuesAbsent, path, c.op+" also holds when the request has no "+c.key+"; add a condition that requires the key (such as ForAnyValue:"+sp.base+") if only the listed values may be used")
		}
		if deny && sp.negate && !sp.ifExists && sp.set == setNone {
			l.add(SeverityInfo, CodeNegatedAbsent, path, "this Deny also applies whenever the request has no "+c.key+"; use "+c.op+"IfExists to deny only wrong values")
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
		cand = closest(base, HuaweiOperators(), 3)
	}
	if cand != "" {
		prefix := ""
		switch sp.set {
		case setForAnyValue:
			prefix = "ForAnyValue:"
		case setForAllValues:
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
func (l *huaweiLinter) breadth(sd *stmtDoc) {
	if sd.notAction || sd.notResource {
		return
	}
	anyResource := !sd.hasResource
	for _, r := range sd.resources {
		anyResource = anyResource || r == "*"
	}
	if !anyResource {
		return
	}
	for _, a := range sd.actions {
		switch strings.ToLower(a) {
		case "kms:*", "kms:*:*":
			l.add(SeverityWarning, CodeFullAccess, joinKey(sd.path, sd.actionElem()), "allows every KMS action on every resource; grant specific actions on specific keys instead")
			return
		case "*", "*:*", "*:*:*":
			l.add(SeverityWarning, CodeFullAccess, joinKey(sd.path, sd.actionElem()), "allows every action of every service, KMS included, on every resource; grant specific actions on specific keys instead")
			return
		}
	}
}

// resourceFit flags Allow statements whose resources cannot fit the
// actions they name: actions without a resource type need "*", and the
// kms:alias:* actions need both the key and the alias URN.
func (l *huaweiLinter) resourceFit(sd *stmtDoc, cs *compiledStatement) {
	if sd.notAction || sd.notResource || !sd.hasResource {
		return
	}
	star, keyURN, aliasURN := false, false, false
	for _, r := range sd.resources {
		if r == "*" {
			star = true
			continue
		}
		u, ok := parseURN(r)
		if !ok {
			continue
		}
		svc, typ := compileGlob(u.service, true), compileGlob(u.typ, false)
		if !svc.match("kms") {
			continue
		}
		keyURN = keyURN || typ.match(HuaweiResourceKeyID)
		aliasURN = aliasURN || typ.match(HuaweiResourceAlias)
	}
	if star {
		return
	}
	actPath := joinKey(sd.path, "Action")
	for j, a := range sd.actions {
		path := listPath(actPath, sd.actionsArray, j)
		k := lookupHuaweiAction(a)
		if k == nil || cs.actions[j].hasWildcard() {
			continue
		}
		switch {
		case len(k.ResourceTypes) == 0:
			l.add(SeverityWarning, CodeNeedsStarResource, path, k.Name+" has no resource type and is authorized on \"*\"; this statement's Resource never matches it")
		case k.NamesNoResource:
			if !coversType(sd.resources, k.ResourceTypes[0]) {
				l.add(SeverityInfo, CodeNeedsStarResource, path, k.Name+" declares "+strings.Join(k.ResourceTypes, ", ")+" but its API names no existing resource; it is checked against every "+k.ResourceTypes[0]+" of the account (kms:*:<account-id>:"+k.ResourceTypes[0]+":*), which this statement's Resource does not cover")
			}
		case contains(k.ResourceTypes, HuaweiResourceAlias) && keyURN != aliasURN:
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
		g := compileGlob(r, false)
		if g.match("kms:*:" + u.account + ":" + typ + ":*") {
			return true
		}
	}
	return false
}

// scp checks the SCP grammar: Allow statements only with Resource "*" and
// no Condition; action wildcards only as a whole segment or at the end.
func (l *huaweiLinter) scp(sd *stmtDoc) {
	if sd.effect == "Allow" {
		for j, r := range sd.resources {
			if r != "*" {
				l.add(SeverityError, CodeSCPSyntax, listPath(joinKey(sd.path, "Resource"), sd.resourcesArray, j), "an SCP Allow statement may only use Resource \"*\"")
			}
		}
		if len(sd.conds) > 0 {
			l.add(SeverityError, CodeSCPSyntax, joinKey(sd.path, "Condition"), "an SCP Allow statement may not have a Condition (only Deny statements may)")
		}
	}
	actPath := joinKey(sd.path, sd.actionElem())
	for j, a := range sd.actions {
		for i := 0; i < len(a); i++ {
			if a[i] != '*' && a[i] != '?' {
				continue
			}
			wholeSeg := a[i] == '*' && (i == 0 || a[i-1] == ':') && (i == len(a)-1 || a[i+1] == ':')
			atEnd := a[i] == '*' && i == len(a)-1
			if !wholeSeg && !atEnd {
				l.add(SeverityError, CodeSCPSyntax, listPath(actPath, sd.actionsArray, j), "SCP action wildcards may only stand alone or at the end: "+strconv.Quote(a))
				break
			}
		}
	}
}
