package testkms

import (
	"encoding/hex"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Key states.
const (
	stateEnabled         = "Enabled"
	stateDisabled        = "Disabled"
	statePendingDeletion = "PendingDeletion"
)

// Secret version stages that KMS manages itself.
const (
	stageCurrent  = "ACSCurrent"
	stagePrevious = "ACSPrevious"
)

// Fixed key attributes: the emulator only has symmetric software keys.
const (
	keySpecAES256      = "Aliyun_AES_256"
	keyUsageEncrypt    = "ENCRYPT/DECRYPT"
	originKMS          = "Aliyun_KMS"
	protectionSoftware = "SOFTWARE"
	protectionHSM      = "HSM"
	secretTypeGeneric  = "Generic"
	dataTypeText       = "text"
	dataTypeBinary     = "binary"
)

// account is one Alibaba Cloud account (uid). Guarded by Server.mu.
type account struct {
	id      string
	regions map[string]*regionState
}

// regionState holds the resources of one account in one region. Guarded by
// Server.mu.
type regionState struct {
	keys    map[string]*key    // by key id
	aliases map[string]*alias  // by full alias name, "alias/..."
	secrets map[string]*secret // by secret name
}

// key is a customer master key. Its fields are guarded by Server.mu; its
// versions are append-only and each keyVersion is immutable, so a copied
// versions slice may be read without the lock.
type key struct {
	id, account, region string
	seq                 uint64 // creation order, for stable listings
	description         string
	instanceID          string
	protectionLevel     string
	creator             string
	state               string
	created             time.Time
	deleteDate          time.Time
	lastRotation        time.Time
	autoRotation        bool
	rotationInterval    string
	versions            []*keyVersion // last is primary
	tags                map[string]string
	policy              string // "" means the default policy
}

// keyVersion is one generation of key material. Immutable.
type keyVersion struct {
	id       string
	created  time.Time
	material []byte // AES-256
}

// alias points at a key of the same account and region.
type alias struct {
	name    string // "alias/..."
	keyID   string
	created time.Time
}

// secret is a Secrets Manager secret. Guarded by Server.mu.
type secret struct {
	name, account, region string
	seq                   uint64
	description           string
	extendedConfig        string
	instanceID            string
	encryptionKeyID       string // "" means the default service key
	created, updated      time.Time
	versions              []*secretVersion // creation order
	tags                  map[string]string
	policy                string
}

// secretVersion is one value of a secret. The value is stored sealed under
// the secret's encryption key; stages is guarded by Server.mu.
type secretVersion struct {
	id       string
	created  time.Time
	dataType string
	sealed   string // ciphertext blob, see ciphertext.go
	stages   []string
}

func keyARN(region, accountID, keyID string) string {
	return "acs:kms:" + region + ":" + accountID + ":key/" + keyID
}

func aliasARN(region, accountID, aliasName string) string {
	return "acs:kms:" + region + ":" + accountID + ":" + aliasName
}

func secretARN(region, accountID, name string) string {
	return "acs:kms:" + region + ":" + accountID + ":secret/" + name
}

func (k *key) arn() string { return keyARN(k.region, k.account, k.id) }

func (sec *secret) arn() string { return secretARN(sec.region, sec.account, sec.name) }

func (sec *secret) version(id string) *secretVersion {
	for _, v := range sec.versions {
		if v.id == id {
			return v
		}
	}
	return nil
}

// versionWithStage returns the version carrying stage, or nil.
func (sec *secret) versionWithStage(stage string) *secretVersion {
	for _, v := range sec.versions {
		if slices.Contains(v.stages, stage) {
			return v
		}
	}
	return nil
}

// moveStage attaches stage to to and removes it from every other version.
func (sec *secret) moveStage(stage string, to *secretVersion) {
	for _, v := range sec.versions {
		if v != to {
			v.stages = slices.DeleteFunc(v.stages, func(s string) bool { return s == stage })
		}
	}
	if !slices.Contains(to.stages, stage) {
		to.stages = append(to.stages, stage)
	}
}

// promote makes to the ACSCurrent version; the version that was current
// becomes ACSPrevious.
func (sec *secret) promote(to *secretVersion) {
	old := sec.versionWithStage(stageCurrent)
	sec.moveStage(stageCurrent, to)
	if old != nil && old != to {
		sec.moveStage(stagePrevious, old)
	}
}

// accountLocked returns account id, creating it if needed.
func (s *Server) accountLocked(id string) *account {
	a, ok := s.accounts[id]
	if !ok {
		a = &account{id: id, regions: make(map[string]*regionState)}
		s.accounts[id] = a
	}
	return a
}

// regionLocked returns the resources of accountID in region, creating the
// containers if needed. It returns nil if the account does not exist.
func (s *Server) regionLocked(accountID, region string) *regionState {
	a, ok := s.accounts[accountID]
	if !ok {
		return nil
	}
	rs, ok := a.regions[region]
	if !ok {
		rs = &regionState{
			keys:    make(map[string]*key),
			aliases: make(map[string]*alias),
			secrets: make(map[string]*secret),
		}
		a.regions[region] = rs
	}
	return rs
}

// keyView is a consistent copy of what a handler needs from a key, taken
// under Server.mu and used after releasing it.
type keyView struct {
	id, arn, account, region string
	state                    string
	instanceID               string
	tags                     map[string]string
	policy                   string
	versions                 []*keyVersion
}

func (k *key) view() keyView {
	return keyView{
		id:         k.id,
		arn:        k.arn(),
		account:    k.account,
		region:     k.region,
		state:      k.state,
		instanceID: k.instanceID,
		tags:       maps.Clone(k.tags),
		policy:     k.policy,
		versions:   slices.Clone(k.versions),
	}
}

func (v keyView) primary() *keyVersion { return v.versions[len(v.versions)-1] }

func (v keyView) version(id string) *keyVersion {
	for _, kv := range v.versions {
		if kv.id == id {
			return kv
		}
	}
	return nil
}

// usable reports whether the key may be used for cryptographic operations.
func (v keyView) usable() *apiError {
	if v.state != stateEnabled {
		return errKeyState(v.id, v.state)
	}
	return nil
}

// keyRef is a key as a request named it.
type keyRef struct {
	k *key // for mutations, under Server.mu
	keyView
	aliasARN string // set when the request named the key by alias
}

// resolveKeyLocked finds the key that ref names for a caller of accountID in
// region. ref may be a key id, a key ARN, an alias name ("alias/...") or an
// alias ARN; aliases are accepted only when allowAlias is set. param names
// the request parameter for error messages. ARNs may name
// another account (cross-account use is left to the Authorizer) but never
// another region.
func (s *Server) resolveKeyLocked(accountID, region, param, ref string, allowAlias bool) (*keyRef, *apiError) {
	ownerID, name := accountID, ref
	if strings.HasPrefix(ref, "acs:") {
		parts := strings.SplitN(ref, ":", 5)
		if len(parts) != 5 || parts[1] != "kms" || parts[3] == "" ||
			!(strings.HasPrefix(parts[4], "key/") || strings.HasPrefix(parts[4], "alias/")) {
			return nil, errInvalidParam(param, "malformed ARN")
		}
		if parts[2] != region {
			return nil, errKeyNotFound(ref)
		}
		ownerID = parts[3]
		name = strings.TrimPrefix(parts[4], "key/")
	}
	rs := s.regionLocked(ownerID, region)
	if strings.HasPrefix(name, "alias/") {
		if !allowAlias {
			return nil, errInvalidParam(param, "an alias is not accepted here, use a key id or key ARN")
		}
		var a *alias
		if rs != nil {
			a = rs.aliases[name]
		}
		if a == nil {
			return nil, errAliasNotFound(name)
		}
		k := rs.keys[a.keyID]
		if k == nil {
			return nil, errKeyNotFound(a.keyID)
		}
		return &keyRef{k: k, keyView: k.view(), aliasARN: aliasARN(region, ownerID, name)}, nil
	}
	if name == "" {
		return nil, errInvalidParam(param, "empty key id")
	}
	var k *key
	if rs != nil {
		k = rs.keys[name]
	}
	if k == nil {
		return nil, errKeyNotFound(ref)
	}
	return &keyRef{k: k, keyView: k.view()}, nil
}

// keyParams are the attributes of a new key.
type keyParams struct {
	id               string // "" generates one
	description      string
	instanceID       string
	protectionLevel  string
	autoRotation     bool
	rotationInterval string
	tags             map[string]string
	policy           string
	disabled         bool
}

// newKeyID returns a fresh key id in the shape of real ones ("key-" + 24
// lowercase hex characters).
func newKeyID() string {
	var b [12]byte
	randomBytes(b[:])
	return "key-" + hex.EncodeToString(b[:])
}

// createKeyLocked creates a key with one version owned by accountID (which
// must exist) in region.
func (s *Server) createKeyLocked(accountID, region, creator string, p keyParams) (*key, *apiError) {
	rs := s.regionLocked(accountID, region)
	if rs == nil {
		return nil, newError(http.StatusNotFound, codeAccessKeyNotFound, "account %q does not exist", accountID)
	}
	id := p.id
	if id == "" {
		id = newKeyID()
	} else if _, dup := s.keyIndex[id]; dup {
		return nil, errAlreadyExists("key " + id)
	}
	now := s.now()
	s.seq++
	k := &key{
		id:               id,
		account:          accountID,
		region:           region,
		seq:              s.seq,
		description:      p.description,
		instanceID:       p.instanceID,
		protectionLevel:  p.protectionLevel,
		creator:          creator,
		state:            stateEnabled,
		created:          now,
		autoRotation:     p.autoRotation,
		rotationInterval: p.rotationInterval,
		tags:             maps.Clone(p.tags),
		policy:           p.policy,
	}
	if k.protectionLevel == "" {
		k.protectionLevel = protectionSoftware
	}
	if k.tags == nil {
		k.tags = make(map[string]string)
	}
	if p.disabled {
		k.state = stateDisabled
	}
	k.versions = []*keyVersion{newKeyVersion(now)}
	rs.keys[id] = k
	s.keyIndex[id] = k
	return k, nil
}

func newKeyVersion(now time.Time) *keyVersion {
	m := make([]byte, 32)
	randomBytes(m)
	return &keyVersion{id: newUUID(), created: now, material: m}
}

// rotateKeyLocked adds a new primary version to k.
func (s *Server) rotateKeyLocked(k *key) (*keyVersion, *apiError) {
	if k.state != stateEnabled {
		return nil, errKeyState(k.id, k.state)
	}
	now := s.now()
	kv := newKeyVersion(now)
	k.versions = append(k.versions, kv)
	k.lastRotation = now
	return kv, nil
}

// setKeyStateLocked performs the state transition to target, following the
// KMS rules of EnableKey, DisableKey, ScheduleKeyDeletion and
// CancelKeyDeletion.
func (s *Server) setKeyStateLocked(k *key, target string, pendingDays int) *apiError {
	switch target {
	case stateEnabled, stateDisabled:
		if k.state == statePendingDeletion {
			return errKeyState(k.id, k.state)
		}
	case statePendingDeletion:
		if k.state == statePendingDeletion {
			return errKeyState(k.id, k.state)
		}
		k.deleteDate = s.now().Add(time.Duration(pendingDays) * 24 * time.Hour)
	}
	k.state = target
	return nil
}

// cancelDeletionLocked moves k from PendingDeletion back to Enabled.
func (s *Server) cancelDeletionLocked(k *key) *apiError {
	if k.state != statePendingDeletion {
		return newError(http.StatusConflict, codeUnexpectedState,
			"The request is rejected because the key %q is %s, not PendingDeletion.", k.id, k.state)
	}
	k.state = stateEnabled
	k.deleteDate = time.Time{}
	return nil
}

// addAliasLocked creates alias name for k.
func (s *Server) addAliasLocked(rs *regionState, name string, k *key) *apiError {
	if _, dup := rs.aliases[name]; dup {
		return errAlreadyExists("alias " + name)
	}
	if k.state == statePendingDeletion {
		return errKeyState(k.id, k.state)
	}
	rs.aliases[name] = &alias{name: name, keyID: k.id, created: s.now()}
	return nil
}

// secretParams are the attributes of a new secret.
type secretParams struct {
	name           string
	versionID      string
	data           string // as stored: text, or base64 for binary
	dataType       string
	description    string
	extendedConfig string
	instanceID     string
	key            *key // nil for the default service key
	tags           map[string]string
	policy         string
}

// createSecretLocked creates a secret with its first version as ACSCurrent.
func (s *Server) createSecretLocked(accountID, region string, p secretParams) (*secret, *apiError) {
	rs := s.regionLocked(accountID, region)
	if rs == nil {
		return nil, newError(http.StatusNotFound, codeAccessKeyNotFound, "account %q does not exist", accountID)
	}
	if _, dup := rs.secrets[p.name]; dup {
		return nil, errAlreadyExists("secret " + p.name)
	}
	now := s.now()
	s.seq++
	sec := &secret{
		name:           p.name,
		account:        accountID,
		region:         region,
		seq:            s.seq,
		description:    p.description,
		extendedConfig: p.extendedConfig,
		instanceID:     p.instanceID,
		created:        now,
		updated:        now,
		tags:           maps.Clone(p.tags),
		policy:         p.policy,
	}
	if p.key != nil {
		sec.encryptionKeyID = p.key.id
		if sec.instanceID == "" {
			sec.instanceID = p.key.instanceID
		}
	}
	if sec.tags == nil {
		sec.tags = make(map[string]string)
	}
	if _, err := s.addSecretVersionLocked(sec, p.versionID, p.data, p.dataType, []string{stageCurrent}); err != nil {
		return nil, err
	}
	rs.secrets[p.name] = sec
	return sec, nil
}

// addSecretVersionLocked seals data under the secret's key and adds it as
// version versionID carrying stages. If stages include ACSCurrent, the old
// current version becomes ACSPrevious.
func (s *Server) addSecretVersionLocked(sec *secret, versionID, data, dataType string, stages []string) (*secretVersion, *apiError) {
	if sec.version(versionID) != nil {
		return nil, errAlreadyExists("secret version " + versionID)
	}
	material, keyID, kvID, err := s.secretSealingKeyLocked(sec)
	if err != nil {
		return nil, err
	}
	sealed, serr := seal(keyID, kvID, material, []byte(data), secretContext(sec, versionID))
	if serr != nil {
		return nil, errInternal()
	}
	now := s.now()
	v := &secretVersion{id: versionID, created: now, dataType: dataType, sealed: sealed}
	sec.versions = append(sec.versions, v)
	for _, st := range stages {
		if st == stageCurrent {
			sec.promote(v)
		} else {
			sec.moveStage(st, v)
		}
	}
	sec.updated = now
	return v, nil
}

// serviceKeyID names the emulator's default secrets key inside blobs.
const serviceKeyID = "acs-secrets-default"

// secretSealingKeyLocked returns the material that new versions of sec are
// sealed with.
func (s *Server) secretSealingKeyLocked(sec *secret) (material []byte, keyID, versionID string, err *apiError) {
	if sec.encryptionKeyID == "" {
		return s.serviceKey, serviceKeyID, "1", nil
	}
	k := s.keyIndex[sec.encryptionKeyID]
	if k == nil {
		return nil, "", "", errKeyNotFound(sec.encryptionKeyID)
	}
	if k.state != stateEnabled {
		return nil, "", "", errKeyState(k.id, k.state)
	}
	kv := k.versions[len(k.versions)-1]
	return kv.material, k.id, kv.id, nil
}

// openSecretLocked returns the stored value of v.
func (s *Server) openSecretLocked(sec *secret, v *secretVersion) ([]byte, *apiError) {
	h, err := parseBlob(v.sealed)
	if err != nil {
		return nil, errInternal()
	}
	var material []byte
	if h.keyID == serviceKeyID {
		material = s.serviceKey
	} else {
		k := s.keyIndex[h.keyID]
		if k == nil {
			return nil, errKeyNotFound(h.keyID)
		}
		if k.state != stateEnabled {
			return nil, errKeyState(k.id, k.state)
		}
		kv := k.view().version(h.versionID)
		if kv == nil {
			return nil, errInternal()
		}
		material = kv.material
	}
	pt, err := open(h, material, secretContext(sec, v.id))
	if err != nil {
		return nil, errInternal()
	}
	return pt, nil
}

// secretContext binds a sealed secret value to its secret and version.
func secretContext(sec *secret, versionID string) map[string]string {
	return map[string]string{"acs:secret": sec.arn(), "acs:version": versionID}
}

// defaultPolicy is the policy KMS reports for a key or secret that never got
// one. Its principal acs:ram::<uid>:* is seed 004's "Grant the current
// Alibaba Cloud account full permissions to manage and use the key": it
// names the account (its root identity), so RAM users and roles of the
// account are governed by their RAM policies alone.
func defaultPolicy(accountID string) string {
	return `{"Version":"1","Statement":[{"Sid":"Enable user-level permission","Effect":"Allow",` +
		`"Principal":{"RAM":["acs:ram::` + accountID + `:*"]},"Action":["kms:*"],"Resource":["*"]}]}`
}
