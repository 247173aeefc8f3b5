package localauthz

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/kmsenvelope/kmsenvelope/localauthz/core"
)

// ResourceType is the kind of resource an operation is authorized against
// (seed 000, "Resource type" column).
type ResourceType string

const (
	ResourceKeyContainer    ResourceType = "key-container"    // acs:kms:<region>:<account>:key
	ResourceKey             ResourceType = "key"              // acs:kms:<region>:<account>:key/<key-id>
	ResourceAliasContainer  ResourceType = "alias-container"  // acs:kms:<region>:<account>:alias
	ResourceAliasAndKey     ResourceType = "alias+key"        // the alias and the key it targets
	ResourceSecretContainer ResourceType = "secret-container" // acs:kms:<region>:<account>:secret
	ResourceSecret          ResourceType = "secret"           // acs:kms:<region>:<account>:secret/<name>
	ResourceKeyOrSecret     ResourceType = "key-or-secret"    // tag operations
	ResourceNone            ResourceType = "none"             // no resource
)

// Values returns every ResourceType.
func (ResourceType) Values() []ResourceType {
	return []ResourceType{ResourceKeyContainer, ResourceKey, ResourceAliasContainer, ResourceAliasAndKey,
		ResourceSecretContainer, ResourceSecret, ResourceKeyOrSecret, ResourceNone}
}

// KeyType says who manages the key that encrypts a secret.
type KeyType string

const (
	KeyTypeSelfManaged    KeyType = "self-managed"
	KeyTypeServiceManaged KeyType = "service-managed"
)

// Values returns every KeyType.
func (KeyType) Values() []KeyType { return []KeyType{KeyTypeSelfManaged, KeyTypeServiceManaged} }

// Condition keys KMS supplies for some operations (besides the global acs:
// keys every operation may carry).
const (
	CondKeyTag                 = "kms:tag/*"               // kms:tag/<TagKey>: tags of the key (or secret)
	CondKeyEncryptionAlgorithm = "kms:EncryptionAlgorithm" // algorithm in the request
	CondKeyEncryptionContext   = "kms:EncryptionContext:*" // kms:EncryptionContext:<Key>
	CondKeySourceIP            = "acs:SourceIp"            // public client IP
	CondKeySourceVpc           = "acs:SourceVpc"           // client VPC
	CondKeyCurrentTime         = "acs:CurrentTime"         // request time, ISO 8601
	CondKeySecureTransport     = "acs:SecureTransport"     // HTTPS
	CondKeyAccessID            = "acs:AccessId"            // the AccessKey ID of the request
	CondKeyMFAPresent          = "acs:MFAPresent"          // the caller signed in with MFA
)

// universalConditionKeys are the Alibaba Cloud universal (acs:) condition
// keys KMS supports. KMS's "Policy condition keys" page
// (https://www.alibabacloud.com/help/en/kms/security-and-compliance/condition-key)
// lists, under "Alibaba Cloud universal condition keys", acs:SourceIp ("the
// public IP address of the client that sends the request", all KMS
// OpenAPI operations) and acs:SourceVpc ("valid only when the request is
// sent from an Alibaba Cloud VPC"; every action of the statement must
// start with kms:), then further universal keys; the copy at hand was
// read only that far, so the rest of the list is the keys issue 12 and
// RAM's policy-element reference name for every service: acs:CurrentTime
// (ISO 8601), acs:SecureTransport (HTTPS), acs:AccessId and acs:MFAPresent.
// The KMS-specific keys the page lists are kms:tag/<TagKey>,
// kms:EncryptionAlgorithm and kms:EncryptionContext:<Key> (see
// knownKMSConditionKey).
var universalConditionKeys = []string{
	CondKeySourceIP, CondKeySourceVpc, CondKeyCurrentTime, CondKeySecureTransport, CondKeyAccessID, CondKeyMFAPresent,
}

// UniversalConditionKeys returns the Alibaba Cloud universal (acs:)
// condition keys KMS supports, as its condition-key page spells them.
// They are request facts: which of them a client knows (acs:SecureTransport,
// acs:CurrentTime) and which only KMS sees (acs:SourceIp behind a NAT,
// acs:SourceVpc) is for the caller to say, with [Context].SetUnknown.
func UniversalConditionKeys() []string { return append([]string(nil), universalConditionKeys...) }

func knownUniversalConditionKey(key string) bool {
	for _, k := range universalConditionKeys {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

const (
	condKeyKMSPrefix     = "kms:" // kms: keys are per operation; acs: keys are global
	condSourceSeed000    = "seed 000"
	condSourceCondKeyDoc = "KMS condition-key reference"
)

// Operation describes what one KMS API needs.
type Operation struct {
	Name string // API name, e.g. "GetSecretValue"
	// Actions are every action the operation may need, the primary first.
	Actions  []string
	Resource ResourceType
	// ConditionKeys are the condition keys the operation supplies: the
	// global acs: keys (acs:SourceIp, acs:SourceVpc, acs:CurrentTime,
	// acs:SecureTransport; any other acs: key is treated as global too),
	// then the KMS-specific ones as patterns such as "kms:tag/*". An
	// operation without access control (DescribeRegions) has none.
	ConditionKeys []string
	// Source names the document the entry comes from.
	Source string
}

// Facts are what the expansion of an operation needs to know beyond the
// resource the caller names.
type Facts struct {
	// EncryptionKey is the key ARN that encrypts the secret
	// (GetSecretValue, PutSecretValue, CreateSecret).
	EncryptionKey string `json:"encryptionKey,omitempty"`
	// EncryptionKeyType says whether that key is self-managed; "" means
	// self-managed when EncryptionKey is set, else service-managed.
	EncryptionKeyType KeyType `json:"encryptionKeyType,omitempty"`
	// AliasTargetKey is the key ARN an alias points to: the alias named as
	// resource, or the KeyId of CreateAlias/UpdateAlias (the new target) or
	// the current key of DeleteAlias.
	AliasTargetKey string `json:"aliasTargetKey,omitempty"`
	// DestinationKey is the ReEncrypt destination: a key ARN, or an alias
	// ARN together with DestinationAliasTargetKey (an alias destination
	// needs kms:ReEncryptTo on both, as every alias-based call does).
	DestinationKey string `json:"destinationKey,omitempty"`
	// DestinationAliasTargetKey is the key ARN an alias DestinationKey
	// points to.
	DestinationAliasTargetKey string `json:"destinationAliasTargetKey,omitempty"`
	// InKMSInstance reports that the keys and secrets involved are in a KMS
	// instance, so key and secret policies apply.
	InKMSInstance bool `json:"keyInKmsInstance,omitempty"`
	// InstanceResources, when set, says per resource ARN whether it is in a
	// KMS instance, overriding InKMSInstance for the requirements on that
	// resource (ReEncrypt's source and destination may differ).
	InstanceResources map[string]bool `json:"instanceResources,omitempty"`
	// Tags are the tags of the resources involved, by ARN. Each
	// requirement is evaluated with the kms:tag/<key> condition keys of its
	// own resource; an alias, which cannot be tagged, presents the tags of
	// its target key (AliasTargetKey). Tags given here replace any kms:tag
	// keys of the call's Context for that requirement.
	Tags map[string]map[string]string `json:"tags,omitempty"`
}

// Errors of [Expand].
var (
	ErrUnknownOperation = errors.New("localauthz: unknown KMS operation")
	// ErrUnknownAction is in Decision.Err for a request whose action is a
	// "kms:" action the catalogue does not know (a typo, most often); the
	// decision is then ImplicitDeny whatever the policies say.
	ErrUnknownAction = errors.New("localauthz: unknown KMS action")
	// ErrMissingFact reports a call that needs a fact [Facts] lacks.
	ErrMissingFact  = core.ErrMissingFact
	ErrResourceType = errors.New("localauthz: wrong resource type")
)

// condSet is the set of KMS-specific condition keys an action supplies;
// as a core.KeyClass it masks the keys of conditions the action cannot meet.
type condSet = core.KeyClass

const (
	condTag condSet = 1 << iota
	condAlg
	condCtx
)

type opEntry struct {
	name     string
	actions  []string
	resource ResourceType
	conds    condSet
	source   string
}

// catalogue: seed 000 tables, plus a few operations named only elsewhere.
var catalogue = []opEntry{
	// Key-related operations (seed 000).
	{"ListKeys", acts("ListKeys"), ResourceKeyContainer, 0, condSourceSeed000},
	{"CreateKey", acts("CreateKey"), ResourceKeyContainer, 0, condSourceSeed000},
	{"DescribeKey", acts("DescribeKey"), ResourceKey, condTag, condSourceSeed000},
	{"UpdateKeyDescription", acts("UpdateKeyDescription"), ResourceKey, condTag, condSourceSeed000},
	{"EnableKey", acts("EnableKey"), ResourceKey, condTag, condSourceSeed000},
	{"DisableKey", acts("DisableKey"), ResourceKey, condTag, condSourceSeed000},
	{"ScheduleKeyDeletion", acts("ScheduleKeyDeletion"), ResourceKey, condTag, condSourceSeed000},
	{"CancelKeyDeletion", acts("CancelKeyDeletion"), ResourceKey, condTag, condSourceSeed000},
	{"GetParametersForImport", acts("GetParametersForImport"), ResourceKey, condTag, condSourceSeed000},
	{"ImportKeyMaterial", acts("ImportKeyMaterial"), ResourceKey, condTag, condSourceSeed000},
	{"DeleteKeyMaterial", acts("DeleteKeyMaterial"), ResourceKey, condTag, condSourceSeed000},
	{"ListAliasesByKeyId", acts("ListAliasesByKeyId"), ResourceKey, 0, condSourceSeed000},
	{"CreateKeyVersion", acts("CreateKeyVersion"), ResourceKey, condTag, condSourceSeed000},
	{"DescribeKeyVersion", acts("DescribeKeyVersion"), ResourceKey, condTag, condSourceSeed000},
	{"ListKeyVersions", acts("ListKeyVersions"), ResourceKey, condTag, condSourceSeed000},
	{"UpdateRotationPolicy", acts("UpdateRotationPolicy"), ResourceKey, condTag, condSourceSeed000},
	{"Encrypt", acts("Encrypt"), ResourceKey, condTag | condAlg | condCtx, condSourceSeed000},
	{"Decrypt", acts("Decrypt"), ResourceKey, condTag | condAlg | condCtx, condSourceSeed000},
	{"ReEncrypt", acts("ReEncryptFrom", "ReEncryptTo"), ResourceKey, condTag | condAlg | condCtx, condSourceSeed000},
	{"GenerateDataKey", acts("GenerateDataKey"), ResourceKey, condTag | condAlg | condCtx, condSourceSeed000},
	{"GenerateDataKeyWithoutPlaintext", acts("GenerateDataKeyWithoutPlaintext"), ResourceKey, condTag | condAlg | condCtx, condSourceSeed000},
	{"ExportDataKey", acts("ExportDataKey"), ResourceKey, condTag | condAlg | condCtx, condSourceSeed000},
	{"GenerateAndExportDataKey", acts("GenerateAndExportDataKey"), ResourceKey, condTag | condAlg | condCtx, condSourceSeed000},
	{"AsymmetricSign", acts("AsymmetricSign"), ResourceKey, condTag, condSourceSeed000},
	{"AsymmetricVerify", acts("AsymmetricVerify"), ResourceKey, condTag, condSourceSeed000},
	{"AsymmetricEncrypt", acts("AsymmetricEncrypt"), ResourceKey, condTag | condAlg, condSourceSeed000},
	{"AsymmetricDecrypt", acts("AsymmetricDecrypt"), ResourceKey, condTag | condAlg, condSourceSeed000},
	{"GetPublicKey", acts("GetPublicKey"), ResourceKey, condTag, condSourceSeed000},
	{"ListAliases", acts("ListAliases"), ResourceAliasContainer, 0, condSourceSeed000},
	{"CreateAlias", acts("CreateAlias"), ResourceAliasAndKey, 0, condSourceSeed000},
	{"UpdateAlias", acts("UpdateAlias"), ResourceAliasAndKey, 0, condSourceSeed000},
	{"DeleteAlias", acts("DeleteAlias"), ResourceAliasAndKey, 0, condSourceSeed000},
	// Secret-related operations (seed 000).
	{"CreateSecret", acts("CreateSecret", "GenerateDataKey"), ResourceSecretContainer, 0, condSourceSeed000},
	{"ListSecrets", acts("ListSecrets"), ResourceSecretContainer, 0, condSourceSeed000},
	{"DescribeSecret", acts("DescribeSecret"), ResourceSecret, condTag, condSourceSeed000},
	{"DeleteSecret", acts("DeleteSecret"), ResourceSecret, condTag, condSourceSeed000},
	{"UpdateSecret", acts("UpdateSecret"), ResourceSecret, condTag, condSourceSeed000},
	{"RestoreSecret", acts("RestoreSecret"), ResourceSecret, condTag, condSourceSeed000},
	{"GetSecretValue", acts("GetSecretValue", "Decrypt"), ResourceSecret, condTag, condSourceSeed000},
	{"PutSecretValue", acts("PutSecretValue", "GenerateDataKey"), ResourceSecret, condTag, condSourceSeed000},
	{"ListSecretVersionIds", acts("ListSecretVersionIds"), ResourceSecret, condTag, condSourceSeed000},
	{"UpdateSecretVersionStage", acts("UpdateSecretVersionStage"), ResourceSecret, condTag, condSourceSeed000},
	{"GetRandomPassword", acts("GetRandomPassword"), ResourceNone, 0, condSourceSeed000},
	// Tag-related operations (seed 000).
	{"ListResourceTags", acts("ListResourceTags"), ResourceKeyOrSecret, 0, condSourceSeed000},
	{"UntagResource", acts("UntagResource"), ResourceKeyOrSecret, 0, condSourceSeed000},
	{"TagResource", acts("TagResource"), ResourceKeyOrSecret, 0, condSourceSeed000},
	// No access control (seed 000).
	{"DescribeRegions", nil, ResourceNone, 0, condSourceSeed000},
	// Named outside the seed 000 tables.
	{"SetDeletionProtection", acts("SetDeletionProtection"), ResourceKey, condTag, condSourceCondKeyDoc},
	{"RotateSecret", acts("RotateSecret"), ResourceSecret, condTag, "seed 001 (manage secrets policy)"},
	{"TagResources", acts("TagResources"), ResourceKeyOrSecret, 0, "seed 001 (manage keys policy)"},
	{"UntagResources", acts("UntagResources"), ResourceKeyOrSecret, 0, "seed 001 (manage keys policy)"},
	// Key and secret policy APIs: absent from the seed tables, which predate
	// key policies; they follow the kms:<api-name> convention of seed 000,
	// and seed 004 lists kms:Get* / kms:Set* among key-policy actions.
	// The KMS condition-key reference does not list GetKeyPolicy or
	// SetKeyPolicy for kms:tag, so they supply no tag keys.
	{"GetKeyPolicy", acts("GetKeyPolicy"), ResourceKey, 0, "seed 000 convention, seed 004"},
	{"SetKeyPolicy", acts("SetKeyPolicy"), ResourceKey, 0, "seed 000 convention, seed 004"},
	{"GetSecretPolicy", acts("GetSecretPolicy"), ResourceSecret, condTag, "seed 000 convention, seed 004"},
	{"SetSecretPolicy", acts("SetSecretPolicy"), ResourceSecret, condTag, "seed 000 convention, seed 004"},
}

// actionDescribeRegions names the one KMS API without access control
// (seeds 000 and 002); it is no action of the catalogue, since no policy
// grants or denies it.
const actionDescribeRegions = "kms:DescribeRegions"

// extraActions are KMS actions that appear in the documents but are not
// one operation's authorization (kms:CreateInstance: seed 001).
var extraActions = []string{"kms:CreateInstance"}

func acts(names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "kms:" + n
	}
	return out
}

var (
	opIndex       = map[string]*opEntry{} // lower-case API name
	actionIndex   = map[string]condSet{}  // lower-case action -> condition keys supplied
	knownActions  []string                // canonical spelling, sorted
	canonical     = map[string]string{}   // lower-case action -> canonical spelling
	canonicalSet  = map[string]bool{}     // canonical spellings, for an allocation-free check
	canonicalKeys = map[string]condSet{}  // canonical spelling -> condition keys supplied
)

// suppliedKeys returns the condition-key classes a request for action
// carries: for a catalogue action the KMS-specific keys the KMS
// condition-key reference lists for it (kms:tag/<k> for DescribeKey, not
// for ListKeys or ListAliasesByKeyId), plus the global acs: keys; for any
// other action every key the request context holds.
func suppliedKeys(action string) core.KeyClass {
	if c, ok := canonicalKeys[action]; ok {
		return c
	}
	if c, ok := actionIndex[strings.ToLower(action)]; ok {
		return c
	}
	if _, ok := canonical[strings.ToLower(action)]; ok {
		return 0 // known, but supplies no KMS-specific key (kms:CreateInstance)
	}
	return core.AllKeys
}

// conditionKeyClass classifies a RAM condition key: kms:tag/<k>,
// kms:EncryptionAlgorithm and kms:EncryptionContext:<k> are present only
// for the actions that supply them; other keys (the global acs: ones) for
// every action.
func conditionKeyClass(key string) core.KeyClass {
	lk := strings.ToLower(key)
	switch {
	case strings.HasPrefix(lk, "kms:tag/"):
		return condTag
	case lk == "kms:encryptionalgorithm":
		return condAlg
	case strings.HasPrefix(lk, "kms:encryptioncontext:"):
		return condCtx
	}
	return 0
}

// isKnownKMSAction reports whether a (any case) is a catalogue action.
func isKnownKMSAction(a string) bool {
	if canonicalSet[a] {
		return true
	}
	_, ok := canonical[strings.ToLower(a)]
	return ok
}

// unknownActionError names an unknown kms: action and the nearest known one.
func unknownActionError(a string) error {
	msg := fmt.Sprintf("%q", a)
	if s := core.Closest(a, knownActions, 3); s != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", s)
	}
	return fmt.Errorf("%w %s", ErrUnknownAction, msg)
}

func init() {
	for i := range catalogue {
		e := &catalogue[i]
		opIndex[strings.ToLower(e.name)] = e
		for j, act := range e.actions {
			l := strings.ToLower(act)
			if _, seen := canonical[l]; !seen {
				canonical[l] = act
				knownActions = append(knownActions, act)
			}
			if j == 0 || e.name == "ReEncrypt" {
				actionIndex[l] |= e.conds
			}
		}
	}
	for _, act := range extraActions {
		canonical[strings.ToLower(act)] = act
		knownActions = append(knownActions, act)
	}
	sort.Strings(knownActions)
	for l, a := range canonical {
		canonicalSet[a] = true
		if c, ok := actionIndex[l]; ok {
			canonicalKeys[a] = c
		}
	}
}

func (e *opEntry) operation() Operation {
	op := Operation{Name: e.name, Actions: append([]string(nil), e.actions...), Resource: e.resource, Source: e.source}
	if len(e.actions) > 0 {
		op.ConditionKeys = append([]string{CondKeySourceIP, CondKeySourceVpc, CondKeyCurrentTime, CondKeySecureTransport}, condKeys(e.conds)...)
	}
	return op
}

func condKeys(c condSet) []string {
	var out []string
	if c&condTag != 0 {
		out = append(out, CondKeyTag)
	}
	if c&condAlg != 0 {
		out = append(out, CondKeyEncryptionAlgorithm)
	}
	if c&condCtx != 0 {
		out = append(out, CondKeyEncryptionContext)
	}
	return out
}

// Operations returns the catalogue, sorted by name.
func Operations() []Operation {
	out := make([]Operation, 0, len(catalogue))
	for i := range catalogue {
		out = append(out, catalogue[i].operation())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LookupOperation returns the catalogue entry of an API name (matched
// case-insensitively, with or without a "kms:" prefix).
func LookupOperation(name string) (Operation, bool) {
	e := lookupOp(name)
	if e == nil {
		return Operation{}, false
	}
	return e.operation(), true
}

func lookupOp(name string) *opEntry {
	name = strings.ToLower(name)
	name = strings.TrimPrefix(name, "kms:")
	return opIndex[name]
}

// KnownActions returns every KMS action the catalogue knows, sorted.
func KnownActions() []string { return append([]string(nil), knownActions...) }

// suppliesConditionKey reports whether the known action supplies the
// KMS-specific condition key (kms:tag/<k>, kms:EncryptionAlgorithm,
// kms:EncryptionContext:<k>). Keys outside "kms:" are global.
func suppliesConditionKey(action, key string) bool {
	lk := strings.ToLower(key)
	if !strings.HasPrefix(lk, condKeyKMSPrefix) {
		return true
	}
	c := actionIndex[strings.ToLower(action)]
	switch {
	case strings.HasPrefix(lk, "kms:tag/"):
		return c&condTag != 0
	case lk == "kms:encryptionalgorithm":
		return c&condAlg != 0
	case strings.HasPrefix(lk, "kms:encryptioncontext:"):
		return c&condCtx != 0
	}
	return false
}

func knownKMSConditionKey(key string) bool {
	lk := strings.ToLower(key)
	return strings.HasPrefix(lk, "kms:tag/") && len(lk) > len("kms:tag/") ||
		lk == "kms:encryptionalgorithm" ||
		strings.HasPrefix(lk, "kms:encryptioncontext:") && len(lk) > len("kms:encryptioncontext:")
}

// Expand returns every (action, resource) pair the KMS operation op needs
// when called on resource, in order, the primary pair first.
//
// resource is the ARN the caller names: a key or alias ARN for key
// operations (an alias needs its target in facts.AliasTargetKey), a secret
// ARN for secret operations, an alias ARN for CreateAlias/UpdateAlias/
// DeleteAlias, and for container operations (ListKeys, CreateSecret, ...)
// the container ARN or any ARN in it. Operations without a resource
// (GetRandomPassword) use resource as given, or "*". DescribeRegions needs
// nothing and returns an empty list.
func Expand(op string, resource string, facts Facts) ([]Requirement, error) {
	e := lookupOp(op)
	if e == nil {
		names := make([]string, len(catalogue))
		for i := range catalogue {
			names[i] = catalogue[i].name
		}
		msg := fmt.Sprintf("%q", op)
		if s := core.Closest(strings.TrimPrefix(op, "kms:"), names, 3); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		return nil, fmt.Errorf("%w %s", ErrUnknownOperation, msg)
	}
	x := expander{e: e, facts: facts}
	return x.expand(resource)
}

type expander struct {
	e     *opEntry
	facts Facts
	out   []Requirement
}

func (x *expander) add(action, resource, why string, as Assumption) {
	x.out = append(x.out, Requirement{Action: action, Resource: resource, Why: why, Assumptions: as})
}

func (x *expander) typeErr(resource string, want string) error {
	return fmt.Errorf("%w: %s needs %s, not %q", ErrResourceType, x.e.name, want, resource)
}

func (x *expander) expand(resource string) ([]Requirement, error) {
	e := x.e
	if len(e.actions) == 0 {
		return []Requirement{}, nil
	}
	primary := e.actions[0]
	r, isARN := parseARN(resource)
	typ := kmsOther
	if isARN && r.concrete() {
		typ = r.kmsType()
	}
	switch e.resource {
	case ResourceNone:
		if resource == "" {
			resource = "*"
		}
		x.add(primary, resource, e.name+" has no resource", AssumeNoResource)
	case ResourceKeyContainer, ResourceAliasContainer, ResourceSecretContainer:
		family := strings.TrimSuffix(string(e.resource), "-container")
		if typ == kmsOther || r.container() != "acs:kms:"+r.region+":"+r.account+":"+family {
			return nil, x.typeErr(resource, "an ARN in the "+family+" container (acs:kms:<region>:<account>:"+family+")")
		}
		x.add(primary, r.container(), e.name+" is authorized on the "+string(e.resource), 0)
		if e.name == "CreateSecret" {
			if err := x.secretKey("kms:GenerateDataKey", "the secret value is encrypted with the self-managed key", AssumeSecretKeyGenerateDataKey); err != nil {
				return nil, err
			}
		}
	case ResourceKey:
		if e.name == "ReEncrypt" {
			if err := x.key("kms:ReEncryptFrom", resource, typ, "ReEncrypt decrypts with the source key"); err != nil {
				return nil, err
			}
			d, ok := parseARN(x.facts.DestinationKey)
			if x.facts.DestinationKey == "" {
				return nil, fmt.Errorf("%w: ReEncrypt needs Facts.DestinationKey (the destination key ARN)", ErrMissingFact)
			}
			if ok && d.concrete() && d.kmsType() == kmsAlias {
				t, tok := parseARN(x.facts.DestinationAliasTargetKey)
				if x.facts.DestinationAliasTargetKey == "" {
					return nil, fmt.Errorf("%w: ReEncrypt to an alias needs Facts.DestinationAliasTargetKey (the key ARN the alias targets)", ErrMissingFact)
				}
				if !tok || !t.concrete() || t.kmsType() != kmsKey {
					return nil, fmt.Errorf("%w: Facts.DestinationAliasTargetKey must be a key ARN, not %q", ErrResourceType, x.facts.DestinationAliasTargetKey)
				}
				x.add("kms:ReEncryptTo", x.facts.DestinationKey, "ReEncrypt to an alias is authorized on the alias", 0)
				x.add("kms:ReEncryptTo", x.facts.DestinationAliasTargetKey, "ReEncrypt encrypts with the key the destination alias targets", 0)
				break
			}
			if !ok || !d.concrete() || d.kmsType() != kmsKey {
				return nil, fmt.Errorf("%w: ReEncrypt destination must be a key or alias ARN, not %q", ErrResourceType, x.facts.DestinationKey)
			}
			x.add("kms:ReEncryptTo", x.facts.DestinationKey, "ReEncrypt encrypts with the destination key", 0)
			break
		}
		if err := x.key(primary, resource, typ, e.name+" uses the key"); err != nil {
			return nil, err
		}
	case ResourceAliasAndKey:
		if typ != kmsAlias {
			return nil, x.typeErr(resource, "an alias ARN (acs:kms:<region>:<account>:alias/<name>)")
		}
		x.add(primary, resource, e.name+" is authorized on the alias", 0)
		k, err := x.aliasTarget()
		if err != nil {
			return nil, err
		}
		var as Assumption
		why := e.name + " is also authorized on the key the alias targets"
		if e.name == "UpdateAlias" {
			as = AssumeAliasNewTarget
			why = "UpdateAlias is also authorized on the new target key"
		}
		x.add(primary, k, why, as)
	case ResourceSecret:
		if typ != kmsSecret {
			return nil, x.typeErr(resource, "a secret ARN (acs:kms:<region>:<account>:secret/<name>)")
		}
		x.add(primary, resource, e.name+" is authorized on the secret", 0)
		switch e.name {
		case "GetSecretValue":
			if err := x.secretKey("kms:Decrypt", "the secret is encrypted with a self-managed key", 0); err != nil {
				return nil, err
			}
		case "PutSecretValue":
			if err := x.secretKey("kms:GenerateDataKey", "the secret is encrypted with a self-managed key", 0); err != nil {
				return nil, err
			}
		}
	case ResourceKeyOrSecret:
		switch typ {
		case kmsSecret:
			x.add(primary, resource, e.name+" is authorized on the secret", 0)
		case kmsKey, kmsAlias:
			if err := x.key(primary, resource, typ, e.name+" is authorized on the key"); err != nil {
				return nil, err
			}
		default:
			return nil, x.typeErr(resource, "a key or secret ARN")
		}
	}
	return x.out, nil
}

// key adds the action on a key, or on an alias and its target key.
func (x *expander) key(action, resource string, typ kmsType, why string) error {
	switch typ {
	case kmsKey:
		x.add(action, resource, why, 0)
		return nil
	case kmsAlias:
		k, err := x.aliasTarget()
		if err != nil {
			return err
		}
		x.add(action, resource, "the key is named by alias; the alias must be granted", AssumeAliasNeedsKey)
		x.add(action, k, why+" (the alias's target)", AssumeAliasNeedsKey)
		return nil
	}
	return x.typeErr(resource, "a key or alias ARN (acs:kms:<region>:<account>:key/<key-id> or :alias/<name>)")
}

func (x *expander) aliasTarget() (string, error) {
	k := x.facts.AliasTargetKey
	if k == "" {
		return "", fmt.Errorf("%w: %s on an alias needs Facts.AliasTargetKey (the key ARN the alias targets)", ErrMissingFact, x.e.name)
	}
	r, ok := parseARN(k)
	if !ok || !r.concrete() || r.kmsType() != kmsKey {
		return "", fmt.Errorf("%w: Facts.AliasTargetKey must be a key ARN, not %q", ErrResourceType, k)
	}
	return k, nil
}

// secretKey adds the action on the secret's self-managed encryption key.
func (x *expander) secretKey(action, why string, as Assumption) error {
	f := x.facts
	switch f.EncryptionKeyType {
	case KeyTypeServiceManaged:
		return nil
	case "":
		if f.EncryptionKey == "" {
			x.out[0].Assumptions |= AssumeSecretKeyUnknown
			return nil
		}
	case KeyTypeSelfManaged:
	default:
		return fmt.Errorf("%w: Facts.EncryptionKeyType %q; expected %q or %q", ErrMissingFact, f.EncryptionKeyType, KeyTypeSelfManaged, KeyTypeServiceManaged)
	}
	if f.EncryptionKey == "" {
		return fmt.Errorf("%w: %s with a self-managed key needs Facts.EncryptionKey (the key ARN)", ErrMissingFact, x.e.name)
	}
	r, ok := parseARN(f.EncryptionKey)
	if !ok || !r.concrete() || r.kmsType() != kmsKey {
		return fmt.Errorf("%w: Facts.EncryptionKey must be a key ARN, not %q", ErrResourceType, f.EncryptionKey)
	}
	x.add(action, f.EncryptionKey, why, as)
	return nil
}
