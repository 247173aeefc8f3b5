package kmsclient

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"

	"github.com/kmsenvelope/kmsenvelope/internal/safetext"
)

// Limits KMS enforces, checked locally so a bad call fails before it is
// signed and sent.
const (
	// MaxEncryptPlaintext is the largest plaintext Encrypt accepts (6 KiB).
	MaxEncryptPlaintext = 6 * 1024
	// MaxDataKeyBytes is the largest data key GenerateDataKey returns.
	MaxDataKeyBytes = 1024
	// MaxEncryptionContextJSON bounds the JSON form of an encryption context.
	MaxEncryptionContextJSON = 8 * 1024
)

// InputError reports an invalid argument detected before any request was
// sent. It unwraps to [ErrInvalidParameter].
type InputError struct {
	Operation string
	Field     string
	Reason    string
}

func (e *InputError) Error() string {
	return "kmsclient: " + e.Operation + ": " + e.Field + " " + e.Reason
}

// Unwrap returns [ErrInvalidParameter].
func (e *InputError) Unwrap() error { return ErrInvalidParameter }

// GenerateDataKeyInput is the input of [Client.GenerateDataKey] and
// [Client.GenerateDataKeyWithoutPlaintext].
type GenerateDataKeyInput struct {
	// KeyID names the KMS key: key id, key ARN, or "alias/<name>".
	KeyID string
	// NumberOfBytes is the data key length, 1 to 1024. Zero means 32
	// (an AES-256 key).
	NumberOfBytes int
	// EncryptionContext is bound to the wrapped key: Decrypt must present
	// the same map. It is not secret, and KMS may log it.
	EncryptionContext map[string]string
	// DryRun asks KMS to check permissions and key state without acting.
	// A nil error then means the call would have succeeded, and the output
	// holds no key material.
	DryRun bool
}

// GenerateDataKeyOutput is a new data key, in plaintext and wrapped by KMS.
type GenerateDataKeyOutput struct {
	KeyID          string    // the KMS key's id (even when called with an alias)
	KeyVersionID   string    // the key version that wrapped the data key
	Plaintext      Sensitive // the data key; wipe it when done
	CiphertextBlob []byte    // the data key wrapped by KMS (decoded from base64)
	RequestID      string
}

// GenerateDataKey returns a new random data key, in plaintext and wrapped
// under in.KeyID with in.EncryptionContext.
func (c *Client) GenerateDataKey(ctx context.Context, in *GenerateDataKeyInput) (*GenerateDataKeyOutput, error) {
	const op = "GenerateDataKey"
	req := kms.CreateGenerateDataKeyRequest()
	if err := fillDataKeyRequest(op, in, &req.KeyId, &req.NumberOfBytes, &req.EncryptionContext, &req.DryRun); err != nil {
		return nil, err
	}
	resp, err := callKMS(c, ctx, op, in.DryRun, req, kms.CreateGenerateDataKeyResponse)
	if err != nil || in.DryRun {
		return dryRunOutput(&GenerateDataKeyOutput{}, err)
	}
	out := &GenerateDataKeyOutput{KeyID: resp.KeyId, KeyVersionID: resp.KeyVersionId, RequestID: resp.RequestId}
	if out.Plaintext, err = decodeB64(op, "Plaintext", resp.Plaintext); err != nil {
		return nil, err
	}
	want := in.NumberOfBytes
	if want == 0 {
		want = 32 // what fillDataKeyRequest asks for
	}
	if n := len(out.Plaintext); n != want {
		out.Plaintext.Wipe()
		return nil, malformed(op, fmt.Sprintf("the data key is %d bytes, not the %d asked for", n, want))
	}
	if out.KeyID == "" {
		out.Plaintext.Wipe()
		return nil, malformed(op, "no KeyId")
	}
	if out.CiphertextBlob, err = decodeB64(op, "CiphertextBlob", resp.CiphertextBlob); err != nil {
		out.Plaintext.Wipe()
		return nil, err
	}
	return out, nil
}

// WrappedDataKey is a data key wrapped by KMS, without its plaintext.
type WrappedDataKey struct {
	KeyID          string
	KeyVersionID   string
	CiphertextBlob []byte
	RequestID      string
}

// GenerateDataKeyWithoutPlaintext returns a new data key wrapped under
// in.KeyID, without revealing it (for example to store it for a different
// service that will Decrypt it later).
func (c *Client) GenerateDataKeyWithoutPlaintext(ctx context.Context, in *GenerateDataKeyInput) (*WrappedDataKey, error) {
	const op = "GenerateDataKeyWithoutPlaintext"
	req := kms.CreateGenerateDataKeyWithoutPlaintextRequest()
	if err := fillDataKeyRequest(op, in, &req.KeyId, &req.NumberOfBytes, &req.EncryptionContext, &req.DryRun); err != nil {
		return nil, err
	}
	resp, err := callKMS(c, ctx, op, in.DryRun, req, kms.CreateGenerateDataKeyWithoutPlaintextResponse)
	if err != nil || in.DryRun {
		return dryRunOutput(&WrappedDataKey{}, err)
	}
	blob, err := decodeB64(op, "CiphertextBlob", resp.CiphertextBlob)
	if err != nil {
		return nil, err
	}
	return &WrappedDataKey{KeyID: resp.KeyId, KeyVersionID: resp.KeyVersionId, CiphertextBlob: blob, RequestID: resp.RequestId}, nil
}

func fillDataKeyRequest(op string, in *GenerateDataKeyInput, keyID *string, n *requests.Integer, ec *string, dry *string) error {
	if in == nil {
		return &InputError{Operation: op, Field: "input", Reason: "is nil"}
	}
	if in.KeyID == "" {
		return &InputError{Operation: op, Field: "KeyID", Reason: "is required"}
	}
	switch {
	case in.NumberOfBytes < 0 || in.NumberOfBytes > MaxDataKeyBytes:
		return &InputError{Operation: op, Field: "NumberOfBytes", Reason: fmt.Sprintf("must be 1 to %d, got %d", MaxDataKeyBytes, in.NumberOfBytes)}
	case in.NumberOfBytes == 0:
		*n = requests.NewInteger(32)
	default:
		*n = requests.NewInteger(in.NumberOfBytes)
	}
	*keyID = in.KeyID
	var err error
	if *ec, err = encodeContext(op, "EncryptionContext", in.EncryptionContext); err != nil {
		return err
	}
	*dry = dryRunParam(in.DryRun)
	return nil
}

// EncryptInput is the input of [Client.Encrypt].
type EncryptInput struct {
	KeyID             string // key id, key ARN, or "alias/<name>"
	Plaintext         []byte // at most MaxEncryptPlaintext bytes
	EncryptionContext map[string]string
	DryRun            bool
}

// EncryptOutput is the result of [Client.Encrypt].
type EncryptOutput struct {
	KeyID          string
	KeyVersionID   string
	CiphertextBlob []byte
	RequestID      string
}

// Encrypt encrypts a small plaintext (a password, a data key) directly under
// a KMS key. Use envelope encryption for anything larger.
//
// The Alibaba SDK sends all parameters in the URL query, so the plaintext
// (base64) travels in the request line: use HTTPS, and prefer
// GenerateDataKey with local encryption for bulk data.
func (c *Client) Encrypt(ctx context.Context, in *EncryptInput) (*EncryptOutput, error) {
	const op = "Encrypt"
	if in == nil {
		return nil, &InputError{Operation: op, Field: "input", Reason: "is nil"}
	}
	if in.KeyID == "" {
		return nil, &InputError{Operation: op, Field: "KeyID", Reason: "is required"}
	}
	if len(in.Plaintext) == 0 || len(in.Plaintext) > MaxEncryptPlaintext {
		return nil, &InputError{Operation: op, Field: "Plaintext", Reason: fmt.Sprintf("must be 1 to %d bytes, got %d", MaxEncryptPlaintext, len(in.Plaintext))}
	}
	ec, err := encodeContext(op, "EncryptionContext", in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	req := kms.CreateEncryptRequest()
	req.KeyId, req.EncryptionContext, req.DryRun = in.KeyID, ec, dryRunParam(in.DryRun)
	req.Plaintext = base64.StdEncoding.EncodeToString(in.Plaintext)
	resp, err := callKMS(c, ctx, op, in.DryRun, req, kms.CreateEncryptResponse)
	if err != nil || in.DryRun {
		return dryRunOutput(&EncryptOutput{}, err)
	}
	blob, err := decodeB64(op, "CiphertextBlob", resp.CiphertextBlob)
	if err != nil {
		return nil, err
	}
	return &EncryptOutput{KeyID: resp.KeyId, KeyVersionID: resp.KeyVersionId, CiphertextBlob: blob, RequestID: resp.RequestId}, nil
}

// DecryptInput is the input of [Client.Decrypt].
type DecryptInput struct {
	// CiphertextBlob is what Encrypt or GenerateDataKey returned. It names
	// its key, so no key id is needed.
	CiphertextBlob    []byte
	EncryptionContext map[string]string
	DryRun            bool
	// KeyARN, when set, names the key the blob is expected to be under. It
	// is not sent (KMS finds the key in the blob), but a local policy check
	// can use it, and Decrypt fails with ErrInvalidCiphertext if KMS used a
	// different key.
	KeyARN string
}

// DecryptOutput is the result of [Client.Decrypt].
type DecryptOutput struct {
	KeyID        string
	KeyVersionID string
	Plaintext    Sensitive
	RequestID    string
}

// Decrypt decrypts a ciphertext blob made by Encrypt or GenerateDataKey. A
// wrong encryption context fails with [ErrInvalidCiphertext].
func (c *Client) Decrypt(ctx context.Context, in *DecryptInput) (*DecryptOutput, error) {
	const op = "Decrypt"
	if in == nil {
		return nil, &InputError{Operation: op, Field: "input", Reason: "is nil"}
	}
	if len(in.CiphertextBlob) == 0 {
		return nil, &InputError{Operation: op, Field: "CiphertextBlob", Reason: "is required"}
	}
	ec, err := encodeContext(op, "EncryptionContext", in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	req := kms.CreateDecryptRequest()
	req.CiphertextBlob = base64.StdEncoding.EncodeToString(in.CiphertextBlob)
	req.EncryptionContext, req.DryRun = ec, dryRunParam(in.DryRun)
	resp, err := callKMS(c, ctx, op, in.DryRun, req, kms.CreateDecryptResponse)
	if err != nil || in.DryRun {
		return dryRunOutput(&DecryptOutput{}, err)
	}
	if in.KeyARN != "" && !sameKey(in.KeyARN, resp.KeyId) {
		return nil, &APIError{Operation: op, Code: "KeyMismatch", Attempts: 1, HTTPStatus: 200, RequestID: resp.RequestId,
			Message: "KMS decrypted the blob with key " + safetext.Field(resp.KeyId) + ", not the expected " + safetext.Field(in.KeyARN), kind: ErrInvalidCiphertext}
	}
	pt, err := decodeB64(op, "Plaintext", resp.Plaintext)
	if err != nil {
		return nil, err
	}
	return &DecryptOutput{KeyID: resp.KeyId, KeyVersionID: resp.KeyVersionId, Plaintext: pt, RequestID: resp.RequestId}, nil
}

// ReEncryptInput is the input of [Client.ReEncrypt].
type ReEncryptInput struct {
	CiphertextBlob               []byte
	SourceEncryptionContext      map[string]string
	DestinationKeyID             string
	DestinationEncryptionContext map[string]string
	DryRun                       bool
	// SourceKeyARN, like DecryptInput.KeyARN, names the key the blob is
	// expected to be under; it is not sent.
	SourceKeyARN string
}

// ReEncrypt re-wraps a ciphertext blob under another key (and context)
// inside KMS, without the plaintext leaving KMS. It needs kms:ReEncryptFrom
// on the source key and kms:ReEncryptTo on the destination key.
func (c *Client) ReEncrypt(ctx context.Context, in *ReEncryptInput) (*EncryptOutput, error) {
	const op = "ReEncrypt"
	if in == nil {
		return nil, &InputError{Operation: op, Field: "input", Reason: "is nil"}
	}
	if len(in.CiphertextBlob) == 0 {
		return nil, &InputError{Operation: op, Field: "CiphertextBlob", Reason: "is required"}
	}
	if in.DestinationKeyID == "" {
		return nil, &InputError{Operation: op, Field: "DestinationKeyID", Reason: "is required"}
	}
	req := kms.CreateReEncryptRequest()
	var err error
	if req.SourceEncryptionContext, err = encodeContext(op, "SourceEncryptionContext", in.SourceEncryptionContext); err != nil {
		return nil, err
	}
	if req.SourceEncryptionContext == "" {
		// KMS's model says SourceEncryptionContext "must be specified" for
		// a symmetric blob (kms-20160120 ReEncryptRequest); an empty
		// context is sent as the empty JSON object rather than omitted
		// (the SDK drops empty parameters). See the Compatibility section.
		req.SourceEncryptionContext = "{}"
	}
	if req.DestinationEncryptionContext, err = encodeContext(op, "DestinationEncryptionContext", in.DestinationEncryptionContext); err != nil {
		return nil, err
	}
	req.CiphertextBlob = base64.StdEncoding.EncodeToString(in.CiphertextBlob)
	req.DestinationKeyId, req.DryRun = in.DestinationKeyID, dryRunParam(in.DryRun)
	resp, err := callKMS(c, ctx, op, in.DryRun, req, kms.CreateReEncryptResponse)
	if err != nil || in.DryRun {
		return dryRunOutput(&EncryptOutput{}, err)
	}
	blob, err := decodeB64(op, "CiphertextBlob", resp.CiphertextBlob)
	if err != nil {
		return nil, err
	}
	return &EncryptOutput{KeyID: resp.KeyId, KeyVersionID: resp.KeyVersionId, CiphertextBlob: blob, RequestID: resp.RequestId}, nil
}

// KeyState is the lifecycle state of a KMS key.
type KeyState string

// Key states.
const (
	KeyStateEnabled         KeyState = "Enabled"
	KeyStateDisabled        KeyState = "Disabled"
	KeyStatePendingDeletion KeyState = "PendingDeletion"
	KeyStatePendingImport   KeyState = "PendingImport"
)

// Values returns every known KeyState.
func (KeyState) Values() []KeyState {
	return []KeyState{KeyStateEnabled, KeyStateDisabled, KeyStatePendingDeletion, KeyStatePendingImport}
}

// KeyMetadata describes a KMS key.
type KeyMetadata struct {
	KeyID             string
	ARN               string
	State             KeyState
	Spec              string // e.g. "Aliyun_AES_256"
	Usage             string // e.g. "ENCRYPT/DECRYPT"
	Origin            string // "Aliyun_KMS" or "EXTERNAL"
	ProtectionLevel   string // "SOFTWARE" or "HSM"
	Description       string
	Creator           string
	PrimaryKeyVersion string
	// InstanceID is the KMS instance holding the key, "" for a default
	// (shared) KMS key. Key policies apply only to keys in an instance.
	InstanceID         string
	AutomaticRotation  string
	RotationInterval   string
	DeletionProtection string
	CreationDate       time.Time
	DeleteDate         time.Time // zero unless pending deletion
	LastRotationDate   time.Time
	NextRotationDate   time.Time
}

// DescribeKey returns the metadata of a key named by id, ARN or alias.
func (c *Client) DescribeKey(ctx context.Context, keyID string) (*KeyMetadata, error) {
	const op = "DescribeKey"
	if keyID == "" {
		return nil, &InputError{Operation: op, Field: "keyID", Reason: "is required"}
	}
	req := kms.CreateDescribeKeyRequest()
	req.KeyId = keyID
	resp, err := callKMS(c, ctx, op, false, req, kms.CreateDescribeKeyResponse)
	if err != nil {
		return nil, err
	}
	m := resp.KeyMetadata
	if m.KeyId == "" || m.KeyState == "" {
		return nil, malformed(op, "no KeyMetadata.KeyId or KeyState")
	}
	return &KeyMetadata{
		KeyID: m.KeyId, ARN: m.Arn, State: KeyState(m.KeyState), Spec: m.KeySpec, Usage: m.KeyUsage,
		Origin: m.Origin, ProtectionLevel: m.ProtectionLevel, Description: m.Description, Creator: m.Creator,
		PrimaryKeyVersion: m.PrimaryKeyVersion, InstanceID: m.DKMSInstanceId,
		AutomaticRotation: m.AutomaticRotation, RotationInterval: m.RotationInterval,
		DeletionProtection: m.DeletionProtection,
		CreationDate:       parseTime(m.CreationDate), DeleteDate: parseTime(m.DeleteDate),
		LastRotationDate: parseTime(m.LastRotationDate), NextRotationDate: parseTime(m.NextRotationDate),
	}, nil
}

// Alias is a KMS key alias.
type Alias struct {
	Name  string // "alias/<name>"
	ARN   string
	KeyID string
}

// maxAliasPages bounds pagination against a misbehaving server.
const maxAliasPages = 100

// ListAliasesByKeyID returns every alias of a key, following pagination.
func (c *Client) ListAliasesByKeyID(ctx context.Context, keyID string) ([]Alias, error) {
	const op = "ListAliasesByKeyId"
	if keyID == "" {
		return nil, &InputError{Operation: op, Field: "keyID", Reason: "is required"}
	}
	var aliases []Alias
	for page := 1; page <= maxAliasPages; page++ {
		req := kms.CreateListAliasesByKeyIdRequest()
		req.KeyId, req.PageNumber, req.PageSize = keyID, requests.NewInteger(page), requests.NewInteger(100)
		resp, err := callKMS(c, ctx, op, false, req, kms.CreateListAliasesByKeyIdResponse)
		if err != nil {
			return nil, err
		}
		for _, a := range resp.Aliases.Alias {
			aliases = append(aliases, Alias{Name: a.AliasName, ARN: a.AliasArn, KeyID: a.KeyId})
		}
		if len(resp.Aliases.Alias) == 0 || len(aliases) >= resp.TotalCount {
			return aliases, nil
		}
	}
	return nil, &RequestError{Operation: op, Err: fmt.Errorf("%w: more than %d pages of aliases", ErrMalformedResponse, maxAliasPages)}
}

// Secret version stages.
const (
	StageCurrent  = "ACSCurrent"
	StagePrevious = "ACSPrevious"
)

// GetSecretValueInput is the input of [Client.GetSecretValue].
type GetSecretValueInput struct {
	SecretName string
	// VersionID selects a version; empty means by stage.
	VersionID string
	// VersionStage selects a stage; empty means ACSCurrent.
	VersionStage string
	// FetchExtendedConfig asks for the extended configuration of managed
	// secrets (RDS, RAM, ECS).
	FetchExtendedConfig bool
	DryRun              bool
}

// SecretValue is one version of a secret.
type SecretValue struct {
	SecretName    string
	SecretType    string // "Generic", "Rds", "RAMCredentials", "ECS", ...
	VersionID     string
	VersionStages []string
	// Binary reports the secret was stored as binary (SecretDataType
	// "binary"). Its SecretData is then read as base64 when it is valid
	// standard base64 (BinaryDecoded is set and Value holds the decoded
	// bytes), else as the bytes of the string itself, as Alibaba's
	// documented example ("testdata1") and its own secrets clients have it.
	// Otherwise Value holds the text's bytes. See the Compatibility section
	// of the package documentation.
	Binary bool
	// BinaryDecoded reports that a binary secret's SecretData was base64
	// and Value holds the decoded bytes.
	BinaryDecoded    bool
	Value            Sensitive
	CreateTime       time.Time
	LastRotationDate time.Time
	NextRotationDate time.Time
	// ExtendedConfig is the raw JSON of a managed secret's configuration.
	ExtendedConfig    string
	AutomaticRotation string
	RotationInterval  string
	RequestID         string
}

// GetSecretValue returns a version of a secret. Reading a secret encrypted
// with a self-managed key also needs kms:Decrypt on that key.
func (c *Client) GetSecretValue(ctx context.Context, in *GetSecretValueInput) (*SecretValue, error) {
	const op = "GetSecretValue"
	if in == nil {
		return nil, &InputError{Operation: op, Field: "input", Reason: "is nil"}
	}
	if in.SecretName == "" {
		return nil, &InputError{Operation: op, Field: "SecretName", Reason: "is required"}
	}
	req := kms.CreateGetSecretValueRequest()
	req.SecretName, req.VersionId, req.VersionStage = in.SecretName, in.VersionID, in.VersionStage
	if in.FetchExtendedConfig {
		req.FetchExtendedConfig = requests.NewBoolean(true)
	}
	req.DryRun = dryRunParam(in.DryRun)
	resp, err := callKMS(c, ctx, op, in.DryRun, req, kms.CreateGetSecretValueResponse)
	if err != nil || in.DryRun {
		return dryRunOutput(&SecretValue{}, err)
	}
	if resp.VersionId == "" || resp.SecretName == "" {
		resp.SecretData = ""
		return nil, malformed(op, "no SecretName or VersionId")
	}
	v := &SecretValue{
		SecretName: resp.SecretName, SecretType: resp.SecretType, VersionID: resp.VersionId,
		VersionStages: resp.VersionStages.VersionStage, CreateTime: parseTime(resp.CreateTime),
		LastRotationDate: parseTime(resp.LastRotationDate), NextRotationDate: parseTime(resp.NextRotationDate),
		ExtendedConfig: resp.ExtendedConfig, AutomaticRotation: resp.AutomaticRotation,
		RotationInterval: resp.RotationInterval, RequestID: resp.RequestId,
	}
	switch resp.SecretDataType {
	case "binary":
		v.Binary = true
		if b, err := base64.StdEncoding.Strict().DecodeString(resp.SecretData); err == nil && len(b) > 0 {
			v.Value, v.BinaryDecoded = b, true
		} else if resp.SecretData != "" {
			v.Value = Sensitive(resp.SecretData)
		} else {
			return nil, malformed(op, "a binary secret with no SecretData")
		}
	default:
		v.Value = Sensitive(resp.SecretData)
	}
	resp.SecretData = ""
	return v, nil
}

// SecretMetadata describes a secret.
type SecretMetadata struct {
	SecretName string
	ARN        string
	SecretType string
	// EncryptionKeyID is the self-managed KMS key that encrypts the secret,
	// or "" when KMS's service-managed key does.
	EncryptionKeyID   string
	Description       string
	InstanceID        string
	AutomaticRotation string
	RotationInterval  string
	Tags              map[string]string
	CreateTime        time.Time
	UpdateTime        time.Time
	PlannedDeleteTime time.Time
}

// DescribeSecret returns a secret's metadata, including its tags.
func (c *Client) DescribeSecret(ctx context.Context, secretName string) (*SecretMetadata, error) {
	const op = "DescribeSecret"
	if secretName == "" {
		return nil, &InputError{Operation: op, Field: "secretName", Reason: "is required"}
	}
	req := kms.CreateDescribeSecretRequest()
	req.SecretName, req.FetchTags = secretName, "true"
	resp, err := callKMS(c, ctx, op, false, req, kms.CreateDescribeSecretResponse)
	if err != nil {
		return nil, err
	}
	m := &SecretMetadata{
		SecretName: resp.SecretName, ARN: resp.Arn, SecretType: resp.SecretType,
		EncryptionKeyID: resp.EncryptionKeyId, Description: resp.Description, InstanceID: resp.DKMSInstanceId,
		AutomaticRotation: resp.AutomaticRotation, RotationInterval: resp.RotationInterval,
		CreateTime: parseTime(resp.CreateTime), UpdateTime: parseTime(resp.UpdateTime),
		PlannedDeleteTime: parseTime(resp.PlannedDeleteTime),
	}
	if len(resp.Tags.Tag) > 0 {
		m.Tags = make(map[string]string, len(resp.Tags.Tag))
		for _, t := range resp.Tags.Tag {
			m.Tags[t.TagKey] = t.TagValue
		}
	}
	return m, nil
}

// GetKeyPolicy returns the JSON of a key's policy. An empty policyName means
// "default".
func (c *Client) GetKeyPolicy(ctx context.Context, keyID, policyName string) (string, error) {
	const op = "GetKeyPolicy"
	if keyID == "" {
		return "", &InputError{Operation: op, Field: "keyID", Reason: "is required"}
	}
	req := kms.CreateGetKeyPolicyRequest()
	req.KeyId, req.PolicyName = keyID, defaultPolicyName(policyName)
	resp, err := callKMS(c, ctx, op, false, req, kms.CreateGetKeyPolicyResponse)
	if err != nil {
		return "", err
	}
	if resp.Policy == "" {
		return "", malformed(op, "no Policy")
	}
	return resp.Policy, nil
}

// GetSecretPolicy returns the JSON of a secret's policy. An empty
// policyName means "default".
func (c *Client) GetSecretPolicy(ctx context.Context, secretName, policyName string) (string, error) {
	const op = "GetSecretPolicy"
	if secretName == "" {
		return "", &InputError{Operation: op, Field: "secretName", Reason: "is required"}
	}
	req := kms.CreateGetSecretPolicyRequest()
	req.SecretName, req.PolicyName = secretName, defaultPolicyName(policyName)
	resp, err := callKMS(c, ctx, op, false, req, kms.CreateGetSecretPolicyResponse)
	if err != nil {
		return "", err
	}
	return resp.Policy, nil
}

// callKMS runs one KMS request with retries and returns its response.
// Every attempt re-signs req: the SDK's signer replaces Timestamp,
// SignatureNonce, Signature and SecurityToken in place, as its own retry
// loop relies on. Parameters are never cleared between attempts, so req
// must not be shared between calls.
func callKMS[R responses.AcsResponse](c *Client, ctx context.Context, op string, dryRun bool, req requests.AcsRequest, newResp func() R) (R, error) {
	ep := c.ep.kms
	if managementOps[op] {
		if c.ep.noMgmt {
			var zero R
			return zero, &UnsupportedError{Operation: op}
		}
		ep = c.ep.mgmt
	}
	return callAPI(c, ctx, op, dryRun, func(env *callEnv) (sdkClient, error) { return env.kms(ep) }, req, newResp)
}

// UnsupportedError is a KMS call the Client did not send because its
// endpoint does not serve it: a management call or ReEncrypt with only a
// KMS instance gateway configured (see Config.ManagementEndpoint). It
// matches ErrUnsupportedOperation.
type UnsupportedError struct {
	Operation string
}

func (e *UnsupportedError) Error() string {
	return "kmsclient: " + e.Operation + ": not sent: a KMS instance gateway does not serve it and no Config.ManagementEndpoint (the shared gateway, kms[-vpc].<region>.aliyuncs.com) is set"
}

// Unwrap returns ErrUnsupportedOperation.
func (e *UnsupportedError) Unwrap() error { return ErrUnsupportedOperation }

// sdkClient is the part of an SDK product client (kms, sts, ram) a call
// uses.
type sdkClient interface {
	DoAction(request requests.AcsRequest, response responses.AcsResponse) error
}

// callAPI runs one request of any product with retries and returns its
// response; newClient builds the product's SDK client for each attempt
// (callEnv.kms, .sts or .ram). See callKMS for the re-signing contract.
func callAPI[R responses.AcsResponse](c *Client, ctx context.Context, op string, dryRun bool, newClient func(*callEnv) (sdkClient, error), req requests.AcsRequest, newResp func() R) (R, error) {
	var resp R
	err := c.call(ctx, op, dryRun, func(env *callEnv) error {
		k, err := newClient(env)
		if err != nil {
			return err
		}
		resp = newResp()
		return k.DoAction(req, resp)
	})
	return resp, err
}

// sameKey reports whether the key KMS reports (an id or ARN) is the
// expected key (an id or ARN).
func sameKey(expected, reported string) bool {
	if expected == reported {
		return true
	}
	id := func(s string) string {
		if i := strings.LastIndex(s, "key/"); i >= 0 {
			return s[i+len("key/"):]
		}
		return s
	}
	return id(expected) == id(reported)
}

func defaultPolicyName(name string) string {
	if name == "" {
		return "default"
	}
	return name
}

func dryRunParam(dry bool) string {
	if dry {
		return "true"
	}
	return ""
}

// dryRunOutput returns (zero output, nil) for a passed dry run and
// (nil, err) for a failure.
func dryRunOutput[T any](zero *T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return zero, nil
}

// encodeContext renders an encryption context as KMS expects: a JSON object
// with sorted keys (encoding/json sorts map keys), or "" for none.
func encodeContext(op, field string, ec map[string]string) (string, error) {
	if len(ec) == 0 {
		return "", nil
	}
	b, err := json.Marshal(ec)
	if err != nil {
		return "", &InputError{Operation: op, Field: field, Reason: "cannot be encoded as JSON"}
	}
	if len(b) > MaxEncryptionContextJSON {
		return "", &InputError{Operation: op, Field: field, Reason: fmt.Sprintf("is %d bytes as JSON, over the %d-byte limit", len(b), MaxEncryptionContextJSON)}
	}
	return string(b), nil
}

func decodeB64(op, field, s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, &RequestError{Operation: op, Attempts: 1, Err: fmt.Errorf("%w: field %s is not valid non-empty base64", ErrMalformedResponse, field)}
	}
	return b, nil
}

// parseTime parses the timestamps KMS returns; unparsable or empty values
// become the zero time.
func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05Z0700", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC()
	}
	return time.Time{}
}
