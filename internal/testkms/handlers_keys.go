package testkms

import (
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// keyMetadata is the KeyMetadata object of CreateKey and DescribeKey; every
// field is a string, as in the SDK's struct_key_metadata.go.
type keyMetadata struct {
	KeyID                         string `json:"KeyId"`
	Arn                           string `json:"Arn"`
	KeyState                      string `json:"KeyState"`
	KeySpec                       string `json:"KeySpec"`
	KeyUsage                      string `json:"KeyUsage"`
	Origin                        string `json:"Origin"`
	ProtectionLevel               string `json:"ProtectionLevel"`
	Description                   string `json:"Description"`
	Creator                       string `json:"Creator"`
	CreationDate                  string `json:"CreationDate"`
	DeleteDate                    string `json:"DeleteDate"`
	PrimaryKeyVersion             string `json:"PrimaryKeyVersion"`
	AutomaticRotation             string `json:"AutomaticRotation"`
	RotationInterval              string `json:"RotationInterval"`
	LastRotationDate              string `json:"LastRotationDate"`
	NextRotationDate              string `json:"NextRotationDate"`
	MaterialExpireTime            string `json:"MaterialExpireTime"`
	DeletionProtection            string `json:"DeletionProtection"`
	DeletionProtectionDescription string `json:"DeletionProtectionDescription"`
	DKMSInstanceID                string `json:"DKMSInstanceId"`
}

// metadataLocked describes k. Call with Server.mu held.
func metadataLocked(k *key) keyMetadata {
	m := keyMetadata{
		KeyID:              k.id,
		Arn:                k.arn(),
		KeyState:           k.state,
		KeySpec:            keySpecAES256,
		KeyUsage:           keyUsageEncrypt,
		Origin:             originKMS,
		ProtectionLevel:    k.protectionLevel,
		Description:        k.description,
		Creator:            k.creator,
		CreationDate:       formatTime(k.created),
		DeleteDate:         formatTime(k.deleteDate),
		PrimaryKeyVersion:  k.versions[len(k.versions)-1].id,
		AutomaticRotation:  "Disabled",
		LastRotationDate:   formatTime(k.lastRotation),
		DeletionProtection: "Disabled",
		DKMSInstanceID:     k.instanceID,
	}
	if m.LastRotationDate == "" {
		m.LastRotationDate = m.CreationDate
	}
	if k.autoRotation {
		m.AutomaticRotation = "Enabled"
		m.RotationInterval = k.rotationInterval
	}
	return m
}

type keyMetadataResponse struct {
	RequestID   string      `json:"RequestId"`
	KeyMetadata keyMetadata `json:"KeyMetadata"`
}

var rotationIntervalPattern = regexp.MustCompile(`^[1-9][0-9]{0,8}[ds]$`)

// handleCreateKey: checks kms:CreateKey on acs:kms:<region>:<uid>:key.
func handleCreateKey(c *call) (any, *apiError) {
	if v := c.param("KeySpec"); v != "" && v != keySpecAES256 {
		return nil, errInvalidParam("KeySpec", "the emulator supports only "+keySpecAES256)
	}
	if v := c.param("KeyUsage"); v != "" && v != keyUsageEncrypt {
		return nil, errInvalidParam("KeyUsage", "the emulator supports only "+keyUsageEncrypt)
	}
	if v := c.param("Origin"); v != "" && v != originKMS {
		return nil, errInvalidParam("Origin", "the emulator supports only "+originKMS)
	}
	p := keyParams{
		description:     c.param("Description"),
		instanceID:      c.param("DKMSInstanceId"),
		protectionLevel: c.param("ProtectionLevel"),
	}
	if p.protectionLevel != "" && p.protectionLevel != protectionSoftware && p.protectionLevel != protectionHSM {
		return nil, errInvalidParam("ProtectionLevel", "must be SOFTWARE or HSM")
	}
	if len(p.description) > 8192 {
		return nil, errInvalidParam("Description", "longer than 8192 characters")
	}
	var err *apiError
	if p.autoRotation, err = c.boolParam("EnableAutomaticRotation"); err != nil {
		return nil, err
	}
	if p.autoRotation {
		p.rotationInterval = c.param("RotationInterval")
		if p.rotationInterval == "" {
			p.rotationInterval = "31536000s"
		}
		if !rotationIntervalPattern.MatchString(p.rotationInterval) {
			return nil, errInvalidParam("RotationInterval", `must look like "365d" or "31536000s"`)
		}
	}
	if p.tags, err = c.tagsParam("Tags"); err != nil {
		return nil, err
	}
	if p.policy = c.param("Policy"); p.policy != "" {
		if err := policyParam("Policy", p.policy); err != nil {
			return nil, err
		}
	}
	if err := c.authorize("kms:CreateKey", c.collectionARN("key")); err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	k, err := c.s.createKeyLocked(c.id.cred.AccountID, c.region, c.id.cred.AccountID, p)
	if err != nil {
		return nil, err
	}
	return keyMetadataResponse{RequestID: c.requestID, KeyMetadata: metadataLocked(k)}, nil
}

// handleDescribeKey: checks kms:DescribeKey on the key (and alias).
func handleDescribeKey(c *call) (any, *apiError) {
	ref, err := c.lookupKey("KeyId", true)
	if err != nil {
		return nil, err
	}
	if err := c.authorizeKey("kms:DescribeKey", ref); err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return keyMetadataResponse{RequestID: c.requestID, KeyMetadata: metadataLocked(ref.k)}, nil
}

type keyOut struct {
	KeyID  string `json:"KeyId"`
	KeyArn string `json:"KeyArn"`
}

type keyList struct {
	Key []keyOut `json:"Key"`
}

type listKeysResponse struct {
	RequestID  string  `json:"RequestId"`
	PageNumber int     `json:"PageNumber"`
	PageSize   int     `json:"PageSize"`
	TotalCount int     `json:"TotalCount"`
	Keys       keyList `json:"Keys"`
}

type keyFilter struct {
	Key    string   `json:"Key"`
	Values []string `json:"Values"`
}

// handleListKeys: checks kms:ListKeys on acs:kms:<region>:<uid>:key.
func handleListKeys(c *call) (any, *apiError) {
	number, size, err := c.page()
	if err != nil {
		return nil, err
	}
	var filters []keyFilter
	if v := c.param("Filters"); v != "" {
		if err := json.Unmarshal([]byte(v), &filters); err != nil {
			return nil, errInvalidParam("Filters", `must be a JSON array like [{"Key":"KeyState","Values":["Enabled"]}]`)
		}
		for _, f := range filters {
			switch f.Key {
			case "KeyState", "KeySpec", "KeyUsage", "ProtectionLevel", "CreatorType":
			default:
				return nil, errInvalidParam("Filters", "unknown filter key "+f.Key)
			}
		}
	}
	if err := c.authorize("kms:ListKeys", c.collectionARN("key")); err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	var keys []*key
	if rs := c.s.regionLocked(c.id.cred.AccountID, c.region); rs != nil {
		for _, k := range rs.keys {
			if keyMatches(k, filters) {
				keys = append(keys, k)
			}
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].seq < keys[j].seq })
	out := make([]keyOut, 0, len(keys))
	for _, k := range paginate(keys, number, size) {
		out = append(out, keyOut{KeyID: k.id, KeyArn: k.arn()})
	}
	c.s.mu.Unlock()
	return listKeysResponse{RequestID: c.requestID, PageNumber: number, PageSize: size,
		TotalCount: len(keys), Keys: keyList{Key: out}}, nil
}

// keyMatches applies ListKeys filters (all must match; a filter matches when
// the key's value is among its Values). Call with Server.mu held.
func keyMatches(k *key, filters []keyFilter) bool {
	for _, f := range filters {
		var v string
		switch f.Key {
		case "KeyState":
			v = k.state
		case "KeySpec":
			v = keySpecAES256
		case "KeyUsage":
			v = keyUsageEncrypt
		case "ProtectionLevel":
			v = k.protectionLevel
		case "CreatorType":
			v = "User"
		}
		if !slices.Contains(f.Values, v) {
			return false
		}
	}
	return true
}

// changeKeyState is EnableKey and DisableKey: checks kms:<Action> on the key.
func changeKeyState(c *call, target string) (any, *apiError) {
	ref, err := c.lookupKey("KeyId", false)
	if err != nil {
		return nil, err
	}
	if err := c.authorizeKey(permission(c.action), ref); err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if err := c.s.setKeyStateLocked(ref.k, target, 0); err != nil {
		return nil, err
	}
	return okResponse{RequestID: c.requestID}, nil
}

// handleEnableKey: checks kms:EnableKey on the key.
func handleEnableKey(c *call) (any, *apiError) { return changeKeyState(c, stateEnabled) }

// handleDisableKey: checks kms:DisableKey on the key.
func handleDisableKey(c *call) (any, *apiError) { return changeKeyState(c, stateDisabled) }

// handleScheduleKeyDeletion: checks kms:ScheduleKeyDeletion on the key.
func handleScheduleKeyDeletion(c *call) (any, *apiError) {
	if _, err := c.required("PendingWindowInDays"); err != nil {
		return nil, err
	}
	days, err := c.intParam("PendingWindowInDays", 0, 7, 366)
	if err != nil {
		return nil, err
	}
	ref, err := c.lookupKey("KeyId", false)
	if err != nil {
		return nil, err
	}
	if err := c.authorizeKey("kms:ScheduleKeyDeletion", ref); err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if err := c.s.setKeyStateLocked(ref.k, statePendingDeletion, days); err != nil {
		return nil, err
	}
	return okResponse{RequestID: c.requestID}, nil
}

// handleCancelKeyDeletion: checks kms:CancelKeyDeletion on the key.
func handleCancelKeyDeletion(c *call) (any, *apiError) {
	ref, err := c.lookupKey("KeyId", false)
	if err != nil {
		return nil, err
	}
	if err := c.authorizeKey("kms:CancelKeyDeletion", ref); err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if err := c.s.cancelDeletionLocked(ref.k); err != nil {
		return nil, err
	}
	return okResponse{RequestID: c.requestID}, nil
}

// handleCreateKeyVersion: checks kms:CreateKeyVersion on the key. The new
// version becomes primary; older versions keep decrypting.
func handleCreateKeyVersion(c *call) (any, *apiError) {
	ref, err := c.lookupKey("KeyId", false)
	if err != nil {
		return nil, err
	}
	if err := c.authorizeKey("kms:CreateKeyVersion", ref); err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	kv, err := c.s.rotateKeyLocked(ref.k)
	if err != nil {
		return nil, err
	}
	type keyVersionOut struct {
		KeyID        string `json:"KeyId"`
		KeyVersionID string `json:"KeyVersionId"`
		CreationDate string `json:"CreationDate"`
	}
	return struct {
		RequestID  string        `json:"RequestId"`
		KeyVersion keyVersionOut `json:"KeyVersion"`
	}{c.requestID, keyVersionOut{ref.id, kv.id, formatTime(kv.created)}}, nil
}

var aliasPattern = regexp.MustCompile(`^alias/[a-zA-Z0-9:/_-]+$`)

// aliasParam validates the AliasName parameter.
func (c *call) aliasParam() (string, *apiError) {
	name, err := c.required("AliasName")
	if err != nil {
		return "", err
	}
	if len(name) > 255 || !aliasPattern.MatchString(name) {
		return "", errInvalidParam("AliasName", `must match alias/[a-zA-Z0-9:/_-]+ and be at most 255 characters`)
	}
	if strings.HasPrefix(name, "alias/acs") {
		return "", errInvalidParam("AliasName", `the prefix "alias/acs" is reserved`)
	}
	return name, nil
}

// ownKey rejects keys of other accounts for alias management.
func (c *call) ownKey(ref *keyRef) *apiError {
	if ref.account != c.id.cred.AccountID {
		return errInvalidParam("KeyId", "aliases can only point at keys of the caller's account")
	}
	return nil
}

// aliasAndKey reads AliasName and KeyId (a key of the caller's account)
// and checks action on the alias and on the key.
func (c *call) aliasAndKey(action string) (string, *keyRef, *apiError) {
	name, err := c.aliasParam()
	if err != nil {
		return "", nil, err
	}
	ref, err := c.lookupKey("KeyId", false)
	if err != nil {
		return "", nil, err
	}
	if err := c.ownKey(ref); err != nil {
		return "", nil, err
	}
	if err := c.authorize(action, authzTarget{arn: aliasARN(c.region, c.id.cred.AccountID, name)}); err != nil {
		return "", nil, err
	}
	if err := c.authorize(action, ref.target()); err != nil {
		return "", nil, err
	}
	return name, ref, nil
}

// handleCreateAlias: checks kms:CreateAlias on the alias and on the key.
func handleCreateAlias(c *call) (any, *apiError) {
	name, ref, err := c.aliasAndKey("kms:CreateAlias")
	if err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if err := c.s.addAliasLocked(c.s.regionLocked(c.id.cred.AccountID, c.region), name, ref.k); err != nil {
		return nil, err
	}
	return okResponse{RequestID: c.requestID}, nil
}

// handleUpdateAlias: checks kms:UpdateAlias on the alias and on the new key.
func handleUpdateAlias(c *call) (any, *apiError) {
	name, ref, err := c.aliasAndKey("kms:UpdateAlias")
	if err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	a := c.s.regionLocked(c.id.cred.AccountID, c.region).aliases[name]
	if a == nil {
		return nil, errAliasNotFound(name)
	}
	if ref.k.state == statePendingDeletion {
		return nil, errKeyState(ref.id, ref.k.state)
	}
	a.keyID = ref.id
	return okResponse{RequestID: c.requestID}, nil
}

// handleDeleteAlias: checks kms:DeleteAlias on the alias and on its key.
func handleDeleteAlias(c *call) (any, *apiError) {
	name, err := c.aliasParam()
	if err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	ref, err := c.s.resolveKeyLocked(c.id.cred.AccountID, c.region, "AliasName", name, true)
	c.s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := c.authorizeKey("kms:DeleteAlias", ref); err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	rs := c.s.regionLocked(c.id.cred.AccountID, c.region)
	if rs.aliases[name] == nil {
		return nil, errAliasNotFound(name)
	}
	delete(rs.aliases, name)
	return okResponse{RequestID: c.requestID}, nil
}

type aliasOut struct {
	AliasArn  string `json:"AliasArn"`
	AliasName string `json:"AliasName"`
	KeyID     string `json:"KeyId"`
}

type aliasesResponse struct {
	RequestID  string `json:"RequestId"`
	PageNumber int    `json:"PageNumber"`
	PageSize   int    `json:"PageSize"`
	TotalCount int    `json:"TotalCount"`
	Aliases    struct {
		Alias []aliasOut `json:"Alias"`
	} `json:"Aliases"`
}

// listAliasesLocked lists the aliases of accountID in region pointing at
// keyID ("" for all), sorted by name, as one page.
func (c *call) listAliasesLocked(accountID, keyID string, number, size int) aliasesResponse {
	var all []aliasOut
	if rs := c.s.regionLocked(accountID, c.region); rs != nil {
		for _, a := range rs.aliases {
			if keyID == "" || a.keyID == keyID {
				all = append(all, aliasOut{aliasARN(c.region, accountID, a.name), a.name, a.keyID})
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].AliasName < all[j].AliasName })
	resp := aliasesResponse{RequestID: c.requestID, PageNumber: number, PageSize: size, TotalCount: len(all)}
	resp.Aliases.Alias = append([]aliasOut{}, paginate(all, number, size)...)
	return resp
}

// handleListAliases: checks kms:ListAliases on acs:kms:<region>:<uid>:alias.
func handleListAliases(c *call) (any, *apiError) {
	number, size, err := c.page()
	if err != nil {
		return nil, err
	}
	if err := c.authorize("kms:ListAliases", c.collectionARN("alias")); err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.listAliasesLocked(c.id.cred.AccountID, "", number, size), nil
}

// handleListAliasesByKeyID: checks kms:ListAliasesByKeyId on the key.
func handleListAliasesByKeyID(c *call) (any, *apiError) {
	number, size, err := c.page()
	if err != nil {
		return nil, err
	}
	ref, err := c.lookupKey("KeyId", false)
	if err != nil {
		return nil, err
	}
	if err := c.authorizeKey("kms:ListAliasesByKeyId", ref); err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.listAliasesLocked(ref.account, ref.id, number, size), nil
}
