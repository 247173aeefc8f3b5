package testkms

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
)

var secretNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_/+=.@-]{1,192}$`)

// validateSecretName applies the KMS naming rules for Generic secrets.
func validateSecretName(name string) *apiError {
	if !secretNamePattern.MatchString(name) {
		return errInvalidParam("SecretName", "must be 1 to 192 characters of letters, digits and _/+=.@-")
	}
	if strings.HasPrefix(name, "acs/") {
		return errInvalidParam("SecretName", `the prefix "acs/" is reserved`)
	}
	return nil
}

func validateVersionID(param, id string) *apiError {
	if id == "" || len(id) > 64 || strings.ContainsAny(id, " \t\r\n") {
		return errInvalidParam(param, "must be 1 to 64 characters without spaces")
	}
	return nil
}

// secretDataParams reads SecretData and SecretDataType. Binary data must be
// base64 and is stored (and returned) as that base64 text.
func (c *call) secretDataParams() (data, dataType string, err *apiError) {
	if data, err = c.required("SecretData"); err != nil {
		return "", "", err
	}
	if len(data) > maxSecretBytes {
		return "", "", errInvalidParam("SecretData", "longer than 30720 bytes")
	}
	switch dataType = strings.ToLower(c.param("SecretDataType")); dataType {
	case "", dataTypeText:
		dataType = dataTypeText
	case dataTypeBinary:
		if _, derr := base64.StdEncoding.DecodeString(data); derr != nil {
			return "", "", errInvalidParam("SecretData", "binary secret data must be base64")
		}
	default:
		return "", "", errInvalidParam("SecretDataType", "must be text or binary")
	}
	return data, dataType, nil
}

// handleCreateSecret: checks kms:CreateSecret on the secret and, when
// EncryptionKeyId names a customer key, kms:GenerateDataKey on that key (and
// alias).
func handleCreateSecret(c *call) (any, *apiError) {
	name, err := c.required("SecretName")
	if err != nil {
		return nil, err
	}
	if err := validateSecretName(name); err != nil {
		return nil, err
	}
	versionID, err := c.required("VersionId")
	if err != nil {
		return nil, err
	}
	if err := validateVersionID("VersionId", versionID); err != nil {
		return nil, err
	}
	data, dataType, err := c.secretDataParams()
	if err != nil {
		return nil, err
	}
	if t := c.param("SecretType"); t != "" && t != secretTypeGeneric {
		return nil, errInvalidParam("SecretType", "the emulator supports only Generic secrets")
	}
	if rot, err := c.boolParam("EnableAutomaticRotation"); err != nil {
		return nil, err
	} else if rot {
		return nil, errInvalidParam("EnableAutomaticRotation", "Generic secrets do not rotate automatically")
	}
	p := secretParams{
		name:           name,
		versionID:      versionID,
		data:           data,
		dataType:       dataType,
		description:    c.param("Description"),
		extendedConfig: c.param("ExtendedConfig"),
		instanceID:     c.param("DKMSInstanceId"),
		policy:         c.param("Policy"),
	}
	if p.extendedConfig != "" && !json.Valid([]byte(p.extendedConfig)) {
		return nil, errInvalidParam("ExtendedConfig", "must be JSON")
	}
	if p.policy != "" {
		if err := policyParam("Policy", p.policy); err != nil {
			return nil, err
		}
	}
	if p.tags, err = c.tagsParam("Tags"); err != nil {
		return nil, err
	}
	var ref *keyRef
	if c.param("EncryptionKeyId") != "" {
		if ref, err = c.lookupKey("EncryptionKeyId", true); err != nil {
			return nil, err
		}
		if ref.account != c.id.cred.AccountID {
			return nil, errInvalidParam("EncryptionKeyId", "the key must belong to the caller's account")
		}
		p.key = ref.k
	}
	arn := secretARN(c.region, c.id.cred.AccountID, name)
	if err := c.authorize("kms:CreateSecret", authzTarget{arn: arn, tags: p.tags}); err != nil {
		return nil, err
	}
	if ref != nil {
		if err := c.authorizeKey("kms:GenerateDataKey", ref); err != nil {
			return nil, err
		}
		if err := ref.usable(); err != nil {
			return nil, err
		}
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	sec, err := c.s.createSecretLocked(c.id.cred.AccountID, c.region, p)
	if err != nil {
		return nil, err
	}
	return struct {
		RequestID         string `json:"RequestId"`
		Arn               string `json:"Arn"`
		SecretName        string `json:"SecretName"`
		VersionID         string `json:"VersionId"`
		SecretType        string `json:"SecretType"`
		AutomaticRotation string `json:"AutomaticRotation"`
		RotationInterval  string `json:"RotationInterval"`
		NextRotationDate  string `json:"NextRotationDate"`
		ExtendedConfig    string `json:"ExtendedConfig"`
		DKMSInstanceID    string `json:"DKMSInstanceId"`
	}{
		RequestID: c.requestID, Arn: sec.arn(), SecretName: sec.name, VersionID: versionID,
		SecretType: secretTypeGeneric, AutomaticRotation: "Disabled",
		ExtendedConfig: sec.extendedConfig, DKMSInstanceID: sec.instanceID,
	}, nil
}

// secretAccess is what a secret handler needs to authorize: the secret and,
// when it is encrypted with a customer key, that key.
type secretAccess struct {
	sec    *secret
	target authzTarget
	key    *keyRef // nil for the default service key
}

func (c *call) secretAccess() (*secretAccess, *apiError) {
	sec, err := c.lookupSecret()
	if err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	a := &secretAccess{sec: sec, target: sec.target()}
	if sec.encryptionKeyID != "" {
		k := c.s.keyIndex[sec.encryptionKeyID]
		if k == nil {
			return nil, errKeyNotFound(sec.encryptionKeyID)
		}
		a.key = &keyRef{k: k, keyView: k.view()}
	}
	return a, nil
}

type versionStages struct {
	VersionStage []string `json:"VersionStage"`
}

func stagesOf(v *secretVersion) versionStages {
	return versionStages{VersionStage: append([]string{}, v.stages...)}
}

// handleGetSecretValue: checks kms:GetSecretValue on the secret and, when it
// is encrypted with a customer key, kms:Decrypt on that key.
func handleGetSecretValue(c *call) (any, *apiError) {
	dry, err := c.dryRun()
	if err != nil {
		return nil, err
	}
	fetchExtended, err := c.boolParam("FetchExtendedConfig")
	if err != nil {
		return nil, err
	}
	a, err := c.secretAccess()
	if err != nil {
		return nil, err
	}
	if err := c.authorize("kms:GetSecretValue", a.target); err != nil {
		return nil, err
	}
	if a.key != nil {
		if err := c.authorizeKey("kms:Decrypt", a.key); err != nil {
			return nil, err
		}
		if err := a.key.usable(); err != nil {
			return nil, err
		}
	}
	versionID, stage := c.param("VersionId"), c.param("VersionStage")
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	sec := a.sec
	var v *secretVersion
	switch {
	case versionID != "":
		v = sec.version(versionID)
		if v != nil && stage != "" && !slices.Contains(v.stages, stage) {
			v = nil
		}
	case stage != "":
		v = sec.versionWithStage(stage)
	default:
		v = sec.versionWithStage(stageCurrent)
	}
	if v == nil {
		return nil, errSecretNotFound("secret version of " + sec.name)
	}
	pt, err := c.s.openSecretLocked(sec, v)
	if err != nil {
		return nil, err
	}
	if dry {
		clear(pt)
		return nil, errDryRun()
	}
	resp := struct {
		RequestID         string        `json:"RequestId"`
		SecretName        string        `json:"SecretName"`
		SecretType        string        `json:"SecretType"`
		SecretData        string        `json:"SecretData"`
		SecretDataType    string        `json:"SecretDataType"`
		VersionID         string        `json:"VersionId"`
		CreateTime        string        `json:"CreateTime"`
		VersionStages     versionStages `json:"VersionStages"`
		AutomaticRotation string        `json:"AutomaticRotation"`
		ExtendedConfig    string        `json:"ExtendedConfig,omitempty"`
	}{
		RequestID: c.requestID, SecretName: sec.name, SecretType: secretTypeGeneric,
		SecretData: string(pt), SecretDataType: v.dataType, VersionID: v.id,
		CreateTime: formatTime(v.created), VersionStages: stagesOf(v), AutomaticRotation: "Disabled",
	}
	if fetchExtended {
		resp.ExtendedConfig = sec.extendedConfig
	}
	return resp, nil
}

// handlePutSecretValue: checks kms:PutSecretValue on the secret and, when it
// is encrypted with a customer key, kms:GenerateDataKey on that key.
func handlePutSecretValue(c *call) (any, *apiError) {
	versionID, err := c.required("VersionId")
	if err != nil {
		return nil, err
	}
	if err := validateVersionID("VersionId", versionID); err != nil {
		return nil, err
	}
	data, dataType, err := c.secretDataParams()
	if err != nil {
		return nil, err
	}
	stages, err := c.stringListParam("VersionStages")
	if err != nil {
		return nil, err
	}
	if stages == nil {
		stages = []string{stageCurrent}
	}
	for _, st := range stages {
		if st == "" || len(st) > 64 {
			return nil, errInvalidParam("VersionStages", "stages must be 1 to 64 characters")
		}
	}
	a, err := c.secretAccess()
	if err != nil {
		return nil, err
	}
	if err := c.authorize("kms:PutSecretValue", a.target); err != nil {
		return nil, err
	}
	if a.key != nil {
		if err := c.authorizeKey("kms:GenerateDataKey", a.key); err != nil {
			return nil, err
		}
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	v, err := c.s.addSecretVersionLocked(a.sec, versionID, data, dataType, stages)
	if err != nil {
		return nil, err
	}
	return struct {
		RequestID     string        `json:"RequestId"`
		SecretName    string        `json:"SecretName"`
		VersionID     string        `json:"VersionId"`
		VersionStages versionStages `json:"VersionStages"`
	}{c.requestID, a.sec.name, v.id, stagesOf(v)}, nil
}

// handleDescribeSecret: checks kms:DescribeSecret on the secret.
func handleDescribeSecret(c *call) (any, *apiError) {
	fetchTags, err := c.boolParam("FetchTags")
	if err != nil {
		return nil, err
	}
	a, err := c.secretAccess()
	if err != nil {
		return nil, err
	}
	if err := c.authorize("kms:DescribeSecret", a.target); err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	sec := a.sec
	type describeSecretResponse struct {
		RequestID         string   `json:"RequestId"`
		Arn               string   `json:"Arn"`
		SecretName        string   `json:"SecretName"`
		SecretType        string   `json:"SecretType"`
		Description       string   `json:"Description"`
		CreateTime        string   `json:"CreateTime"`
		UpdateTime        string   `json:"UpdateTime"`
		EncryptionKeyID   string   `json:"EncryptionKeyId,omitempty"`
		AutomaticRotation string   `json:"AutomaticRotation"`
		ExtendedConfig    string   `json:"ExtendedConfig,omitempty"`
		DKMSInstanceID    string   `json:"DKMSInstanceId,omitempty"`
		Tags              *tagList `json:"Tags,omitempty"`
	}
	resp := describeSecretResponse{
		RequestID: c.requestID, Arn: sec.arn(), SecretName: sec.name, SecretType: secretTypeGeneric,
		Description: sec.description, CreateTime: formatTime(sec.created), UpdateTime: formatTime(sec.updated),
		EncryptionKeyID: sec.encryptionKeyID, AutomaticRotation: "Disabled",
		ExtendedConfig: sec.extendedConfig, DKMSInstanceID: sec.instanceID,
	}
	if fetchTags {
		tags := sortedTags(sec.tags, "")
		resp.Tags = &tags
	}
	return resp, nil
}

// handleListSecretVersionIDs: checks kms:ListSecretVersionIds on the secret.
// Versions without stages are deprecated and listed only with
// IncludeDeprecated=true.
func handleListSecretVersionIDs(c *call) (any, *apiError) {
	includeDeprecated, err := c.boolParam("IncludeDeprecated")
	if err != nil {
		return nil, err
	}
	number, size, err := c.page()
	if err != nil {
		return nil, err
	}
	a, err := c.secretAccess()
	if err != nil {
		return nil, err
	}
	if err := c.authorize("kms:ListSecretVersionIds", a.target); err != nil {
		return nil, err
	}
	type versionOut struct {
		VersionID     string        `json:"VersionId"`
		CreateTime    string        `json:"CreateTime"`
		VersionStages versionStages `json:"VersionStages"`
	}
	type versionIDs struct {
		VersionID []versionOut `json:"VersionId"`
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	var all []versionOut
	for _, v := range a.sec.versions {
		if len(v.stages) > 0 || includeDeprecated {
			all = append(all, versionOut{v.id, formatTime(v.created), stagesOf(v)})
		}
	}
	return struct {
		RequestID  string     `json:"RequestId"`
		SecretName string     `json:"SecretName"`
		PageNumber int        `json:"PageNumber"`
		PageSize   int        `json:"PageSize"`
		TotalCount int        `json:"TotalCount"`
		VersionIDs versionIDs `json:"VersionIds"`
	}{c.requestID, a.sec.name, number, size, len(all),
		versionIDs{append([]versionOut{}, paginate(all, number, size)...)}}, nil
}

// handleUpdateSecretVersionStage: checks kms:UpdateSecretVersionStage on the
// secret. Moving ACSCurrent makes the previous current version ACSPrevious.
func handleUpdateSecretVersionStage(c *call) (any, *apiError) {
	stage, err := c.required("VersionStage")
	if err != nil {
		return nil, err
	}
	if len(stage) > 64 {
		return nil, errInvalidParam("VersionStage", "longer than 64 characters")
	}
	removeFrom, moveTo := c.param("RemoveFromVersion"), c.param("MoveToVersion")
	if removeFrom == "" && moveTo == "" {
		return nil, errMissingParam("MoveToVersion")
	}
	if (stage == stageCurrent || stage == stagePrevious) && moveTo == "" {
		return nil, errInvalidParam("MoveToVersion", "required when VersionStage is "+stage)
	}
	a, err := c.secretAccess()
	if err != nil {
		return nil, err
	}
	if err := c.authorize("kms:UpdateSecretVersionStage", a.target); err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	sec := a.sec
	var from, to *secretVersion
	if removeFrom != "" {
		if from = sec.version(removeFrom); from == nil {
			return nil, errSecretNotFound("version " + removeFrom + " of secret " + sec.name)
		}
		if !slices.Contains(from.stages, stage) {
			return nil, errInvalidParam("RemoveFromVersion", "the version does not carry stage "+stage)
		}
	}
	if moveTo != "" {
		if to = sec.version(moveTo); to == nil {
			return nil, errSecretNotFound("version " + moveTo + " of secret " + sec.name)
		}
	}
	switch {
	case to != nil && stage == stageCurrent:
		sec.promote(to) // also takes the stage off from
	case to != nil:
		sec.moveStage(stage, to)
	default:
		from.stages = slices.DeleteFunc(from.stages, func(s string) bool { return s == stage })
	}
	sec.updated = c.s.now()
	return struct {
		RequestID  string `json:"RequestId"`
		SecretName string `json:"SecretName"`
	}{c.requestID, sec.name}, nil
}
