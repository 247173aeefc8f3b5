package huawei

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/kmsenvelope/kmsenvelope/localauthz/core"
)

// This file is the Huawei Cloud KMS catalogue of seed 003: Table 1 (the
// actions, their resource types, condition keys and legacy aliases),
// Table 2 (REST API -> action) and Table 4 (KMS condition keys).

// Huawei Cloud KMS resource types (seed 003 Table 3).
const (
	ResourceKeyID    = "KeyId"    // kms:<region>:<account-id>:KeyId:<cmk-id>
	ResourceAlias    = "alias"    // kms:<region>:<account-id>:alias:<alias-name>
	ResourceKeystore = "keystore" // kms:<region>:<account-id>:keystore:<keystore-id>
)

// Action describes one Huawei Cloud KMS identity-policy action
// (seed 003 Table 1).
type Action struct {
	Name        string `json:"name"`        // e.g. kms:cmk:decryptData
	AccessLevel string `json:"accessLevel"` // List, Read, Write, Permission_management or Tagging
	// ResourceTypes are the required resource types (KeyId, alias,
	// keystore); empty when the action supports no resource-level
	// permission and must be granted on "*".
	ResourceTypes []string `json:"resourceTypes,omitempty"`
	// NamesNoResource is set for actions that declare a resource type but
	// whose API names no existing resource (kms:cmk:create, kms:cmk:list,
	// kms:cmk:listKeysByTag, kms:keystore:create, kms:keystore:list); a
	// preflight checks them against "*".
	NamesNoResource bool `json:"namesNoResource,omitempty"`
	// Aliases are the legacy policy actions of the Alias column
	// (kms:cmk:crypto, kms:dek:create, ...).
	Aliases []string `json:"aliases,omitempty"`
	// ConditionKeys are the condition keys Table 1 lists for the action.
	ConditionKeys []string `json:"conditionKeys,omitempty"`
}

const (
	hwList  = "List"
	hwRead  = "Read"
	hwWrite = "Write"
	hwPerm  = "Permission_management"
	hwTag   = "Tagging"
)

var (
	hwKey      = []string{ResourceKeyID}
	hwKeystore = []string{ResourceKeystore}
	hwKeyAlias = []string{ResourceKeyID, ResourceAlias}
)

func hwAct(name, access string, res []string, aliases []string, conds ...string) Action {
	return Action{Name: name, AccessLevel: access, ResourceTypes: res, Aliases: aliases, ConditionKeys: conds}
}

func hwNoTarget(a Action) Action { a.NamesNoResource = true; return a }

func al(names ...string) []string { return names }

// huaweiActionTable is Table 1 in its order. The scraped table shifts cells
// when one is empty; a bullet naming service:type:op is an alias, any other
// a condition key.
var huaweiActionTable = []Action{
	hwNoTarget(hwAct("kms:cmk:create", hwWrite, hwKey, nil)),
	hwNoTarget(hwAct("kms:cmk:list", hwList, hwKey, nil, "g:EnterpriseProjectId")),
	hwAct("kms:cmk:enable", hwWrite, hwKey, nil),
	hwAct("kms:cmk:disable", hwWrite, hwKey, nil),
	hwAct("kms:cmk:get", hwRead, hwKey, nil),
	hwAct("kms:cmk:createDataKey", hwWrite, hwKey, al("kms:dek:create")),
	hwAct("kms:cmk:createDataKeyWithoutPlaintext", hwWrite, hwKey, al("kms:dek:create")),
	hwAct("kms:cmk:encryptDataKey", hwWrite, hwKey, al("kms:dek:crypto", "kms:dek:encrypt")),
	hwAct("kms:cmk:decryptDataKey", hwWrite, hwKey, al("kms:dek:crypto", "kms:dek:decrypt")),
	hwAct("kms:cmk:encryptData", hwWrite, hwKey, al("kms:cmk:crypto", "kms:cmk:encrypt")),
	hwAct("kms:cmk:decryptData", hwWrite, hwKey, al("kms:cmk:crypto", "kms:cmk:decrypt")),
	hwAct("kms::generateRandom", hwWrite, nil, al("kms:cmk:generate"), "kms:RecipientAttestation"),
	hwAct("kms:cmk:sign", hwWrite, hwKey, nil),
	hwAct("kms:cmk:verify", hwWrite, hwKey, nil),
	hwAct("kms:cmk:generateMac", hwWrite, hwKey, nil),
	hwAct("kms:cmk:verifyMac", hwWrite, hwKey, nil),
	hwAct("kms:cmk:getPublicKey", hwRead, hwKey, nil),
	hwAct("kms::getVersions", hwRead, nil, nil),
	hwAct("kms::getVersion", hwRead, nil, nil),
	hwAct("kms::getInstance", hwRead, nil, al("kms:cmk:getInstance")),
	hwAct("kms::getQuota", hwRead, nil, al("kms:cmk:getQuota")),
	hwAct("kms:cmk:scheduleKeyDeletion", hwWrite, hwKey, al("kms:cmk:update"), "kms:ScheduleKeyDeletionPendingWindowInDays"),
	hwAct("kms:cmk:cancelKeyDeletion", hwWrite, hwKey, al("kms:cmk:update")),
	hwAct("kms:cmk:updateKeyAlias", hwWrite, hwKey, al("kms:cmk:update")),
	hwAct("kms:cmk:updateKeyDescription", hwWrite, hwKey, al("kms:cmk:update")),
	hwAct("kms:cmk:createGrant", hwPerm, hwKey, al("kms:grant:create")),
	hwAct("kms:cmk:listGrants", hwList, hwKey, al("kms:grant:list")),
	hwAct("kms::listRetirableGrants", hwList, nil, al("kms:grant:list")),
	hwAct("kms:cmk:retireGrant", hwPerm, hwKey, al("kms:grant:retire"), "g:ResourceTag/<tag-key>"),
	hwAct("kms:cmk:revokeGrant", hwPerm, hwKey, al("kms:grant:revoke")),
	hwAct("kms:cmk:getMaterial", hwRead, hwKey, nil, "kms:WrappingAlgorithm"),
	hwAct("kms:cmk:importMaterial", hwWrite, hwKey, nil, "kms:ExpirationTime"),
	hwAct("kms:cmk:deleteMaterial", hwWrite, hwKey, nil),
	hwAct("kms:cmk:enableRotation", hwWrite, hwKey, nil),
	hwAct("kms:cmk:updateRotation", hwWrite, hwKey, nil),
	hwAct("kms:cmk:disableRotation", hwWrite, hwKey, nil),
	hwAct("kms:cmk:getRotation", hwRead, hwKey, nil),
	hwNoTarget(hwAct("kms:keystore:create", hwWrite, hwKeystore, nil)),
	hwAct("kms:keystore:delete", hwWrite, hwKeystore, nil),
	hwAct("kms:keystore:enable", hwWrite, hwKeystore, nil),
	hwAct("kms:keystore:disable", hwWrite, hwKeystore, nil),
	hwNoTarget(hwAct("kms:keystore:list", hwList, hwKeystore, nil)),
	hwAct("kms:keystore:get", hwRead, hwKeystore, nil),
	hwAct("kms:cmk:createTag", hwTag, hwKey, al("kms:cmkTag:create")),
	hwAct("kms:cmk:createTags", hwTag, hwKey, al("kms:cmkTag:batch")),
	hwNoTarget(hwAct("kms:cmk:listKeysByTag", hwList, hwKey, al("kms:cmkTag:listInstance"))),
	hwAct("kms:cmk:deleteTag", hwTag, hwKey, al("kms:cmkTag:delete"), "g:TagKeys"),
	hwAct("kms:cmk:getTags", hwRead, hwKey, al("kms:cmkTag:list")),
	hwAct("kms::listAllTags", hwList, nil, nil),
	hwAct("kms:cmk:replicate", hwWrite, hwKey, nil),
	hwAct("kms:cmk:updatePrimaryRegion", hwWrite, hwKey, nil, "kms:PrimaryRegion"),
	hwAct("kms:alias:create", hwWrite, hwKeyAlias, nil),
	hwAct("kms:alias:delete", hwWrite, hwKeyAlias, nil),
	hwAct("kms:alias:list", hwList, nil, nil),
	hwAct("kms:alias:associate", hwWrite, hwKeyAlias, nil),
}

// ConditionKey describes a condition key Huawei Cloud KMS policies
// may test: the KMS keys of seed 003 Table 4 and the global g: keys the
// KMS documents name.
type ConditionKey struct {
	Name        string `json:"name"` // g:ResourceTag/<tag-key> stands for every tag key
	Type        string `json:"type"` // string, numeric, date, boolean or ip
	MultiValued bool   `json:"multiValued,omitempty"`
}

var huaweiConditionKeyTable = []ConditionKey{
	{"kms:EncryptionAlgorithm", "string", false},
	{"kms:GranteePrincipalType", "string", false},
	{"kms:GrantOperations", "string", true},
	{"kms:GranteePrincipal", "string", false},
	{"kms:KeyOrigin", "string", false},
	{"kms:KeySpec", "string", false},
	{"kms:KeyUsage", "string", false},
	{"kms:MessageType", "string", false},
	{"kms:RetiringPrincipal", "string", false},
	{"kms:SigningAlgorithm", "string", false},
	{"kms:ExpirationTime", "date", false},
	{"kms:WrappingAlgorithm", "string", false},
	{"kms:RecipientAttestation", "string", false},
	{"kms:MacAlgorithm", "string", false},
	{"kms:RequestAlias", "string", false},
	{"kms:ResourceAliases", "string", true},
	{"kms:MultiRegionKeyType", "string", false},
	{"kms:PrimaryRegion", "string", false},
	{"kms:EncryptionContext", "string", false},
	{"kms:ScheduleKeyDeletionPendingWindowInDays", "numeric", false},
	// global keys named by the KMS documents and the IAM 5.0 references
	{"g:CurrentTime", "date", false},
	{"g:EnterpriseProjectId", "string", false},
	{"g:MFAPresent", "boolean", false},
	{"g:PrincipalUrn", "string", false},
	{"g:ResourceTag/<tag-key>", "string", false},
	{"g:SourceIp", "ip", false},
	{"g:SourceVpce", "string", false},
	{"g:TagKeys", "string", true},
}

// ConditionKeys returns the condition keys the Huawei dialect knows.
func ConditionKeys() []ConditionKey {
	return append([]ConditionKey(nil), huaweiConditionKeyTable...)
}

// huaweiKeyType returns the value type of a known condition key (matched
// case-insensitively; g:ResourceTag/<k> for any k).
func huaweiKeyType(key string) (core.ValueType, bool) {
	if i := strings.IndexByte(key, '/'); i >= 0 {
		if strings.EqualFold(key[:i], "g:ResourceTag") && i < len(key)-1 {
			return core.TypeString, true
		}
		return 0, false
	}
	for i := range huaweiConditionKeyTable {
		k := &huaweiConditionKeyTable[i]
		if strings.EqualFold(k.Name, key) {
			switch k.Type {
			case "numeric":
				return core.TypeNumber, true
			case "date":
				return core.TypeDate, true
			case "boolean":
				return core.TypeBool, true
			case "ip":
				return core.TypeIP, true
			}
			return core.TypeString, true
		}
	}
	return 0, false
}

func typeName(t core.ValueType) string {
	switch t {
	case core.TypeNumber:
		return "numeric"
	case core.TypeDate:
		return "date"
	case core.TypeBool:
		return "boolean"
	case core.TypeIP:
		return "ip"
	}
	return "string"
}

var (
	huaweiActionIndex  = map[string]*Action{}  // exact name
	huaweiActionLower  = map[string]*Action{}  // lower-case name
	huaweiLegacyLower  = map[string]string{}   // lower-case alias -> canonical spelling
	huaweiKnownActions []string                // Table 1 names, sorted
	huaweiLegacyNames  []string                // every alias, sorted
	huaweiAliasHolders = map[string][]string{} // lower-case alias -> the actions it stands for
)

func init() {
	for i := range huaweiActionTable {
		a := &huaweiActionTable[i]
		huaweiActionIndex[a.Name] = a
		huaweiActionLower[strings.ToLower(a.Name)] = a
		huaweiKnownActions = append(huaweiKnownActions, a.Name)
		for _, al := range a.Aliases {
			l := strings.ToLower(al)
			if _, seen := huaweiLegacyLower[l]; !seen {
				huaweiLegacyLower[l] = al
				huaweiLegacyNames = append(huaweiLegacyNames, al)
			}
			huaweiAliasHolders[l] = append(huaweiAliasHolders[l], a.Name)
		}
	}
	sort.Strings(huaweiKnownActions)
	sort.Strings(huaweiLegacyNames)
	for i := range huaweiAPITable {
		huaweiAPITable[i].segs = splitPath(huaweiAPITable[i].path)
	}
}

// huaweiActionEntry returns the Table 1 entry of an action without
// allocating: an exact lookup, then a case-insensitive scan.
func huaweiActionEntry(action string) *Action {
	if a := huaweiActionIndex[action]; a != nil {
		return a
	}
	if len(action) < 4 || !strings.EqualFold(action[:4], "kms:") {
		return nil
	}
	for i := range huaweiActionTable {
		if strings.EqualFold(huaweiActionTable[i].Name, action) {
			return &huaweiActionTable[i]
		}
	}
	return nil
}

// huaweiAliasesOf returns the legacy aliases of a Table 1 action (nil for
// any other).
func huaweiAliasesOf(action string) []string {
	if a := huaweiActionEntry(action); a != nil {
		return a.Aliases
	}
	return nil
}

func lookupHuaweiAction(name string) *Action {
	if a := huaweiActionIndex[name]; a != nil {
		return a
	}
	return huaweiActionLower[strings.ToLower(name)]
}

func (a Action) clone() Action {
	a.ResourceTypes = append([]string(nil), a.ResourceTypes...)
	a.Aliases = append([]string(nil), a.Aliases...)
	a.ConditionKeys = append([]string(nil), a.ConditionKeys...)
	return a
}

// Actions returns Table 1, sorted by name.
func Actions() []Action {
	out := make([]Action, 0, len(huaweiActionTable))
	for _, n := range huaweiKnownActions {
		out = append(out, huaweiActionIndex[n].clone())
	}
	return out
}

// LookupAction returns the Table 1 entry of an action, matched
// case-insensitively.
func LookupAction(name string) (Action, bool) {
	a := lookupHuaweiAction(name)
	if a == nil {
		return Action{}, false
	}
	return a.clone(), true
}

// LegacyActions returns every legacy policy action of Table 1's
// Alias column, sorted, with the Table 1 actions each stands for.
func LegacyActions() map[string][]string {
	out := make(map[string][]string, len(huaweiLegacyNames))
	for _, n := range huaweiLegacyNames {
		out[n] = append([]string(nil), huaweiAliasHolders[strings.ToLower(n)]...)
	}
	return out
}

// Operation is one row of Table 2: a KMS REST API and the action it
// is authorized by.
type Operation struct {
	Method string `json:"method"`
	Path   string `json:"path"` // the template, e.g. /v1.0/{project_id}/kms/decrypt-data
	Action string `json:"action"`
	// ResourceTypes are the action's resource types (Table 1).
	ResourceTypes []string `json:"resourceTypes,omitempty"`
	// Params are the path variables of a matched request (no braces), for
	// example {"project_id": "...", "key_id": "..."}.
	Params map[string]string `json:"params,omitempty"`
}

type huaweiAPI struct {
	method, path, action string
	segs                 []string
}

// huaweiAPITable is seed 003 Table 2 (continuation rows dropped).
var huaweiAPITable = []huaweiAPI{
	{method: "POST", path: "/v1.0/{project_id}/kms/create-key", action: "kms:cmk:create"},
	{method: "POST", path: "/v1.0/{project_id}/kms/list-keys", action: "kms:cmk:list"},
	{method: "POST", path: "/v1.0/{project_id}/kms/enable-key", action: "kms:cmk:enable"},
	{method: "POST", path: "/v1.0/{project_id}/kms/disable-key", action: "kms:cmk:disable"},
	{method: "POST", path: "/v1.0/{project_id}/kms/describe-key", action: "kms:cmk:get"},
	{method: "POST", path: "/v1.0/{project_id}/kms/create-datakey", action: "kms:cmk:createDataKey"},
	{method: "POST", path: "/v1.0/{project_id}/kms/create-datakey-without-plaintext", action: "kms:cmk:createDataKeyWithoutPlaintext"},
	{method: "POST", path: "/v1.0/{project_id}/kms/encrypt-datakey", action: "kms:cmk:encryptDataKey"},
	{method: "POST", path: "/v1.0/{project_id}/kms/decrypt-datakey", action: "kms:cmk:decryptDataKey"},
	{method: "POST", path: "/v1.0/{project_id}/kms/encrypt-data", action: "kms:cmk:encryptData"},
	{method: "POST", path: "/v1.0/{project_id}/kms/decrypt-data", action: "kms:cmk:decryptData"},
	{method: "POST", path: "/v1.0/{project_id}/kms/gen-random", action: "kms::generateRandom"},
	{method: "POST", path: "/v1.0/{project_id}/kms/sign", action: "kms:cmk:sign"},
	{method: "POST", path: "/v1.0/{project_id}/kms/verify", action: "kms:cmk:verify"},
	{method: "POST", path: "/v1.0/{project_id}/kms/generate-mac", action: "kms:cmk:generateMac"},
	{method: "POST", path: "/v1.0/{project_id}/kms/verify-mac", action: "kms:cmk:verifyMac"},
	{method: "POST", path: "/v1.0/{project_id}/kms/get-publickey", action: "kms:cmk:getPublicKey"},
	{method: "GET", path: "/", action: "kms::getVersions"},
	{method: "GET", path: "/{version_id}", action: "kms::getVersion"},
	{method: "POST", path: "/v1.0/{project_id}/kms/schedule-key-deletion", action: "kms:cmk:scheduleKeyDeletion"},
	{method: "POST", path: "/v1.0/{project_id}/kms/cancel-key-deletion", action: "kms:cmk:cancelKeyDeletion"},
	{method: "GET", path: "/v1.0/{project_id}/kms/user-instances", action: "kms::getInstance"},
	{method: "GET", path: "/v1.0/{project_id}/kms/user-quotas", action: "kms::getQuota"},
	{method: "POST", path: "/v1.0/{project_id}/kms/update-key-alias", action: "kms:cmk:updateKeyAlias"},
	{method: "POST", path: "/v1.0/{project_id}/kms/update-key-description", action: "kms:cmk:updateKeyDescription"},
	{method: "POST", path: "/v1.0/{project_id}/kms/create-grant", action: "kms:cmk:createGrant"},
	{method: "POST", path: "/v1.0/{project_id}/kms/list-grants", action: "kms:cmk:listGrants"},
	{method: "POST", path: "/v1.0/{project_id}/kms/list-retirable-grants", action: "kms::listRetirableGrants"},
	{method: "POST", path: "/v1.0/{project_id}/kms/retire-grant", action: "kms:cmk:retireGrant"},
	{method: "POST", path: "/v1.0/{project_id}/kms/revoke-grant", action: "kms:cmk:revokeGrant"},
	{method: "POST", path: "/v1.0/{project_id}/kms/get-parameters-for-import", action: "kms:cmk:getMaterial"},
	{method: "POST", path: "/v1.0/{project_id}/kms/import-key-material", action: "kms:cmk:importMaterial"},
	{method: "POST", path: "/v1.0/{project_id}/kms/delete-imported-key-material", action: "kms:cmk:deleteMaterial"},
	{method: "POST", path: "/v1.0/{project_id}/kms/enable-key-rotation", action: "kms:cmk:enableRotation"},
	{method: "POST", path: "/v1.0/{project_id}/kms/update-key-rotation-interval", action: "kms:cmk:updateRotation"},
	{method: "POST", path: "/v1.0/{project_id}/kms/disable-key-rotation", action: "kms:cmk:disableRotation"},
	{method: "POST", path: "/v1.0/{project_id}/kms/get-key-rotation-status", action: "kms:cmk:getRotation"},
	{method: "POST", path: "/v1.0/{project_id}/keystores", action: "kms:keystore:create"},
	{method: "DELETE", path: "/v1.0/{project_id}/keystores/{keystore_id}", action: "kms:keystore:delete"},
	{method: "POST", path: "/v1.0/{project_id}/keystores/{keystore_id}/enable", action: "kms:keystore:enable"},
	{method: "POST", path: "/v1.0/{project_id}/keystores/{keystore_id}/disable", action: "kms:keystore:disable"},
	{method: "GET", path: "/v1.0/{project_id}/keystores", action: "kms:keystore:list"},
	{method: "GET", path: "/v1.0/{project_id}/keystores/{keystore_id}", action: "kms:keystore:get"},
	{method: "POST", path: "/v1.0/{project_id}/kms/{key_id}/tags", action: "kms:cmk:createTag"},
	{method: "POST", path: "/v1.0/{project_id}/kms/{key_id}/tags/action", action: "kms:cmk:createTags"},
	{method: "POST", path: "/v1.0/{project_id}/kms/{resource_instances}/action", action: "kms:cmk:listKeysByTag"},
	{method: "DELETE", path: "/v1.0/{project_id}/kms/{key_id}/tags/{key}", action: "kms:cmk:deleteTag"},
	{method: "GET", path: "/v1.0/{project_id}/kms/{key_id}/tags", action: "kms:cmk:getTags"},
	{method: "GET", path: "/v1.0/{project_id}/kms/tags", action: "kms::listAllTags"},
	{method: "POST", path: "/v2/{project_id}/kms/keys/{key_id}/replicate", action: "kms:cmk:replicate"},
	{method: "PUT", path: "/v2/{project_id}/kms/keys/{key_id}/update-primary-region", action: "kms:cmk:updatePrimaryRegion"},
	{method: "POST", path: "/v1.0/{project_id}/kms/aliases", action: "kms:alias:create"},
	{method: "DELETE", path: "/v1.0/{project_id}/kms/aliases", action: "kms:alias:delete"},
	{method: "GET", path: "/v1.0/{project_id}/kms/aliases", action: "kms:alias:list"},
	{method: "POST", path: "/v1.0/{project_id}/kms/alias/associate", action: "kms:alias:associate"},
	{method: "POST", path: "/v1.0/{project_id}/kms/create-pin", action: "kms:cmk:createDataKey"},
}

// huaweiLiteralVariables are template variables that are really literal
// segments: Table 2 writes the listKeysByTag path as
// {resource_instances}/action, the legacy table as resource_instances/action.
var huaweiLiteralVariables = map[string]string{"{resource_instances}": "resource_instances"}

// splitPath splits a path into its segments; "/" has none. A query string
// and a trailing slash are ignored.
func splitPath(p string) []string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func isVariable(seg string) bool {
	if _, lit := huaweiLiteralVariables[seg]; lit {
		return false
	}
	return len(seg) > 2 && seg[0] == '{' && seg[len(seg)-1] == '}'
}

func literalOf(seg string) string {
	if l, ok := huaweiLiteralVariables[seg]; ok {
		return l
	}
	return seg
}

func (a *huaweiAPI) operation() Operation {
	op := Operation{Method: a.method, Path: a.path, Action: a.action}
	if e := huaweiActionIndex[a.action]; e != nil {
		op.ResourceTypes = append([]string(nil), e.ResourceTypes...)
	}
	return op
}

// Operations returns Table 2 in its order.
func Operations() []Operation {
	out := make([]Operation, len(huaweiAPITable))
	for i := range huaweiAPITable {
		out[i] = huaweiAPITable[i].operation()
	}
	return out
}

// ErrUnknownAPI reports an HTTP request that matches no Table 2 API.
var ErrUnknownAPI = errors.New("localauthz: unknown Huawei Cloud KMS API")

// OperationForRequest maps an HTTP request of a Huawei Cloud KMS
// client to its Table 2 row: the method (case-insensitive) and the path,
// segment by segment, where a {variable} of the template matches one
// non-empty segment and a literal segment is preferred over a variable
// (so GET /v1.0/<p>/kms/tags is kms::listAllTags, not a key's tags). A
// query string and a trailing slash are ignored. The path may be concrete
// (/v1.0/0123.../kms/decrypt-data) or the template itself.
func OperationForRequest(method, path string) (Operation, error) {
	segs := splitPath(path)
	var best *huaweiAPI
	methodMismatch := ""
	for i := range huaweiAPITable {
		a := &huaweiAPITable[i]
		if !pathMatches(a.segs, segs) {
			continue
		}
		if !strings.EqualFold(a.method, method) {
			methodMismatch = a.method
			continue
		}
		if best == nil || moreLiteral(a.segs, best.segs) {
			best = a
		}
	}
	if best == nil {
		hint := ""
		if methodMismatch != "" {
			hint = " (the path is a " + methodMismatch + " API)"
		}
		return Operation{}, fmt.Errorf("%w: %s %s%s", ErrUnknownAPI, strings.ToUpper(method), path, hint)
	}
	op := best.operation()
	for j, s := range best.segs {
		if isVariable(s) {
			if op.Params == nil {
				op.Params = map[string]string{}
			}
			op.Params[s[1:len(s)-1]] = segs[j]
		}
	}
	return op, nil
}

func pathMatches(tmpl, segs []string) bool {
	if len(tmpl) != len(segs) {
		return false
	}
	for i, t := range tmpl {
		if isVariable(t) {
			if segs[i] == "" {
				return false
			}
			continue
		}
		if literalOf(t) != segs[i] && t != segs[i] {
			return false
		}
	}
	return true
}

// moreLiteral reports whether template a is more specific than b: at the
// first segment where one is literal and the other a variable, a is literal.
func moreLiteral(a, b []string) bool {
	for i := range a {
		va, vb := isVariable(a[i]), isVariable(b[i])
		if va != vb {
			return !va
		}
	}
	return false
}
