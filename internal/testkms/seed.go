package testkms

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"
)

// The seeding helpers below change the emulated state directly, without HTTP,
// authentication, authorization, faults or call counting. They act in the
// server's default region ([Server.Region]) and need an existing account:
// the default one, or one made with AddAccount, AddUser or AssumeRole.

// KeyOptions configure a key made by [Server.CreateKey].
type KeyOptions struct {
	Description string
	// InstanceID places the key in a KMS instance (DKMSInstanceId).
	InstanceID string
	Tags       map[string]string
	// Disabled creates the key in state Disabled.
	Disabled bool
	// KeyID, if set, is the key's id instead of a generated "key-…" one;
	// use it for UUID-style ids like those of older KMS keys. It must be
	// unique on the server. (Addition to the original contract.)
	KeyID string
	// Region creates the key in this region instead of the server's
	// default one. The other seeding helpers look keys up in the default
	// region; use the API for keys elsewhere.
	Region string
}

var seedKeyIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,127}$`)

// asError converts an *apiError to an error without the typed-nil trap.
func asError(e *apiError) error {
	if e == nil {
		return nil
	}
	return e
}

func (s *Server) knownAccountLocked(accountID string) error {
	if _, ok := s.accounts[accountID]; !ok {
		return fmt.Errorf("testkms: unknown account %q", accountID)
	}
	return nil
}

// CreateKey creates an enabled (or, with o.Disabled, disabled) AES-256 key
// for accountID and returns its id and ARN.
func (s *Server) CreateKey(accountID string, o KeyOptions) (keyID, arn string, err error) {
	if o.KeyID != "" && !seedKeyIDPattern.MatchString(o.KeyID) {
		return "", "", fmt.Errorf("testkms: invalid key id %q", o.KeyID)
	}
	for k, v := range o.Tags {
		if e := validateTag("Tags", k, v); e != nil {
			return "", "", e
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.knownAccountLocked(accountID); err != nil {
		return "", "", err
	}
	region := s.region
	if o.Region != "" {
		if !regionPattern.MatchString(o.Region) {
			return "", "", fmt.Errorf("testkms: invalid region %q", o.Region)
		}
		region = o.Region
	}
	k, e := s.createKeyLocked(accountID, region, accountID, keyParams{
		id:          o.KeyID,
		description: o.Description,
		instanceID:  o.InstanceID,
		tags:        o.Tags,
		disabled:    o.Disabled,
	})
	if e != nil {
		return "", "", e
	}
	return k.id, k.arn(), nil
}

// seedKeyLocked finds key keyID (id or ARN) of accountID in the default
// region.
func (s *Server) seedKeyLocked(accountID, keyID string) (*key, error) {
	if err := s.knownAccountLocked(accountID); err != nil {
		return nil, err
	}
	ref, e := s.resolveKeyLocked(accountID, s.region, "keyID", keyID, false)
	if e != nil {
		return nil, e
	}
	return ref.k, nil
}

// RotateKey adds a new primary version to an enabled key, like
// CreateKeyVersion, and returns the version id.
func (s *Server) RotateKey(accountID, keyID string) (versionID string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.seedKeyLocked(accountID, keyID)
	if err != nil {
		return "", err
	}
	kv, e := s.rotateKeyLocked(k)
	if e != nil {
		return "", e
	}
	return kv.id, nil
}

// CreateAlias creates alias aliasName ("alias/...") for keyID.
func (s *Server) CreateAlias(accountID, aliasName, keyID string) error {
	if len(aliasName) > 255 || !aliasPattern.MatchString(aliasName) {
		return fmt.Errorf("testkms: invalid alias name %q", aliasName)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.seedKeyLocked(accountID, keyID)
	if err != nil {
		return err
	}
	return asError(s.addAliasLocked(s.regionLocked(accountID, s.region), aliasName, k))
}

// SetKeyState puts a key in state "Enabled", "Disabled" or
// "PendingDeletion" (with a 7-day window), whatever its current state.
func (s *Server) SetKeyState(accountID, keyID, state string) error {
	switch state {
	case stateEnabled, stateDisabled, statePendingDeletion:
	default:
		return fmt.Errorf("testkms: unknown key state %q", state)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.seedKeyLocked(accountID, keyID)
	if err != nil {
		return err
	}
	k.deleteDate = time.Time{}
	if state == statePendingDeletion && k.state != statePendingDeletion {
		k.deleteDate = s.now().AddDate(0, 0, 7)
	}
	k.state = state
	return nil
}

// SecretOptions configure a secret made by [Server.CreateSecret].
type SecretOptions struct {
	// EncryptionKeyID is a key id, ARN or alias of an enabled key to encrypt
	// the secret with; empty means the default service key.
	EncryptionKeyID string
	// Binary stores the value as a binary secret (returned base64-encoded,
	// SecretDataType "binary"); otherwise the value must be UTF-8 text.
	Binary bool
	// VersionID is the first version's id, "v1" when empty.
	VersionID string
	Tags      map[string]string
}

// encodeSecret turns a value into its stored form.
func encodeSecret(value []byte, binary bool) (data, dataType string, err error) {
	if binary {
		return base64.StdEncoding.EncodeToString(value), dataTypeBinary, nil
	}
	if !utf8.Valid(value) {
		return "", "", errors.New("testkms: a text secret value must be UTF-8; set SecretOptions.Binary")
	}
	return string(value), dataTypeText, nil
}

// CreateSecret creates secret name with value as its ACSCurrent version and
// returns the secret's ARN.
func (s *Server) CreateSecret(accountID, name string, value []byte, o SecretOptions) (arn string, err error) {
	if e := validateSecretName(name); e != nil {
		return "", e
	}
	if o.VersionID == "" {
		o.VersionID = "v1"
	}
	if e := validateVersionID("VersionID", o.VersionID); e != nil {
		return "", e
	}
	for k, v := range o.Tags {
		if e := validateTag("Tags", k, v); e != nil {
			return "", e
		}
	}
	data, dataType, err := encodeSecret(value, o.Binary)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.knownAccountLocked(accountID); err != nil {
		return "", err
	}
	p := secretParams{name: name, versionID: o.VersionID, data: data, dataType: dataType, tags: o.Tags}
	if o.EncryptionKeyID != "" {
		ref, e := s.resolveKeyLocked(accountID, s.region, "EncryptionKeyID", o.EncryptionKeyID, true)
		if e != nil {
			return "", e
		}
		p.key = ref.k
	}
	sec, e := s.createSecretLocked(accountID, s.region, p)
	if e != nil {
		return "", e
	}
	return sec.arn(), nil
}

// PutSecretValue adds value as a new version of secret name (versionID, or a
// generated id when empty) and makes it ACSCurrent; the old current version
// becomes ACSPrevious. The value is binary if the current version is.
func (s *Server) PutSecretValue(accountID, name string, value []byte, versionID string) error {
	if versionID == "" {
		versionID = newUUID()
	}
	if e := validateVersionID("versionID", versionID); e != nil {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.knownAccountLocked(accountID); err != nil {
		return err
	}
	sec, e := s.resolveSecretLocked(accountID, s.region, name)
	if e != nil {
		return e
	}
	binary := false
	if cur := sec.versionWithStage(stageCurrent); cur != nil {
		binary = cur.dataType == dataTypeBinary
	}
	data, dataType, err := encodeSecret(value, binary)
	if err != nil {
		return err
	}
	_, e = s.addSecretVersionLocked(sec, versionID, data, dataType, []string{stageCurrent})
	return asError(e)
}

// SetKeyPolicy sets the key policy (a JSON object) of keyID.
func (s *Server) SetKeyPolicy(accountID, keyID, policy string) error {
	if e := policyParam("policy", policy); e != nil {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.seedKeyLocked(accountID, keyID)
	if err != nil {
		return err
	}
	k.policy = policy
	return nil
}

// SetSecretPolicy sets the secret policy (a JSON object) of secret name.
func (s *Server) SetSecretPolicy(accountID, name, policy string) error {
	if e := policyParam("policy", policy); e != nil {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.knownAccountLocked(accountID); err != nil {
		return err
	}
	sec, e := s.resolveSecretLocked(accountID, s.region, name)
	if e != nil {
		return e
	}
	sec.policy = policy
	return nil
}
