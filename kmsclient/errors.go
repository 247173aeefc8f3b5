package kmsclient

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Sentinel errors. An [*APIError] unwraps to at most one of them, chosen by
// its error code and HTTP status, so callers can write
// errors.Is(err, kmsclient.ErrAccessDenied).
var (
	// ErrAccessDenied: the caller lacks permission (Forbidden.NoPermission
	// and other 403 answers). See APIError.AccessDenied for the action.
	ErrAccessDenied = errors.New("kmsclient: access denied")
	// ErrAuthentication: the request was not accepted as signed by a known,
	// enabled access key (SignatureDoesNotMatch, InvalidAccessKeyId.NotFound,
	// Forbidden.AccessKey for a disabled key, IllegalTimestamp, an invalid
	// security token, ...).
	ErrAuthentication = errors.New("kmsclient: authentication failed")
	// ErrThrottled: KMS rate-limited the request (Rejected.Throttling).
	ErrThrottled = errors.New("kmsclient: throttled")
	// ErrNotFound: the key, key version, alias or secret does not exist.
	ErrNotFound = errors.New("kmsclient: not found")
	// ErrKeyDisabled: the key is disabled, pending deletion or pending
	// import, so it cannot be used.
	ErrKeyDisabled = errors.New("kmsclient: key not usable in its current state")
	// ErrInvalidCiphertext: KMS could not decrypt the ciphertext blob with
	// the given encryption context (corrupt blob or wrong context).
	ErrInvalidCiphertext = errors.New("kmsclient: invalid ciphertext or encryption context")
	// ErrInvalidParameter: KMS rejected a parameter (InvalidParameter,
	// MissingParameter, ...).
	ErrInvalidParameter = errors.New("kmsclient: invalid parameter")
	// ErrServiceUnavailable: KMS failed internally or is unavailable (5xx).
	ErrServiceUnavailable = errors.New("kmsclient: service unavailable")
	// ErrUnsupportedOperation: the endpoint does not serve this operation
	// (UnsupportedOperation): a KMS 3.0 instance gateway serves the crypto
	// operations and GetSecretValue, but not ReEncrypt or any management
	// operation. Also returned, without a request, for a management call
	// when the Client has no management endpoint.
	ErrUnsupportedOperation = errors.New("kmsclient: operation not supported by this endpoint")
	// ErrMalformedResponse: the answer could not be understood (not JSON,
	// wrong field types, oversized, undecodable base64).
	ErrMalformedResponse = errors.New("kmsclient: malformed response")

	// ErrClosed: the call was made after [Client.Close], or was in
	// progress when Close cancelled it. It is the one "closed" sentinel of
	// the module: kmsenvelope.ErrClosed and secrets.ErrClosed are this
	// value, so errors.Is matches it whichever layer was closed.
	ErrClosed = errors.New("kmsenvelope: client closed")

	// ErrInvalidConfig: a Config field is invalid. Every [*ConfigError]
	// unwraps to it. It is the one "invalid config" sentinel of the module:
	// kmsenvelope.ErrInvalidConfig and secrets.ErrInvalidConfig are this
	// value.
	ErrInvalidConfig = errors.New("kmsenvelope: invalid config")
)

// closedError is the error of a call refused or cancelled by Close.
func closedError(op string) error { return fmt.Errorf("kmsclient: %s: %w", op, ErrClosed) }

// APIError is an error answer from KMS (or from RAM/STS).
type APIError struct {
	Operation  string // API name, e.g. "Decrypt"
	Code       string // Alibaba error code, e.g. "Forbidden.NoPermission"; "" if the body had none
	Message    string // the server's message, sanitised and truncated
	RequestID  string
	HostID     string
	HTTPStatus int
	Attempts   int // HTTP attempts made for this call

	// AccessDenied is the decoded AccessDeniedDetail of a permission
	// error, or nil.
	AccessDenied *AccessDeniedDetail

	kind error // sentinel, or nil
	also error // a second sentinel errors.Is matches (see classifyOp), or nil
}

// AccessDeniedDetail is the structured part of a KMS permission error: which
// action was denied to which principal, and why.
type AccessDeniedDetail struct {
	Action               string // e.g. "kms:Decrypt"
	PrincipalType        string // "SubUser", "AssumedRoleUser", "Account", ...
	PrincipalOwnerID     string // the principal's account id
	PrincipalDisplayName string
	PolicyType           string // e.g. "AccountLevelIdentityBasedPolicy", "ResourceBasedPolicy"
	NoPermissionType     string // "ImplicitDeny" or "ExplicitDeny"
	// EncodedDiagnosticMessage is a token for RAM's DecodeDiagnosticMessage
	// (`aliyun ram DecodeDiagnosticMessage --EncodedDiagnosticMessage
	// <token>`, which needs ram:DecodeDiagnosticMessage), which tells which
	// policy statement decided. It is kept whole, as the server sent it
	// (up to 8 KiB); String ends with that command.
	EncodedDiagnosticMessage string
}

// Explicit reports whether a policy statement denied the action, as opposed
// to no statement allowing it.
func (d *AccessDeniedDetail) Explicit() bool { return d != nil && d.NoPermissionType == "ExplicitDeny" }

func (d *AccessDeniedDetail) String() string {
	if d == nil {
		return ""
	}
	var b strings.Builder
	if d.Explicit() {
		b.WriteString("explicitly denied ")
	} else {
		b.WriteString("missing ")
	}
	if d.Action != "" {
		b.WriteString(d.Action)
	} else {
		b.WriteString("an unnamed action")
	}
	if d.PrincipalDisplayName != "" || d.PrincipalType != "" {
		b.WriteString(" for ")
		b.WriteString(strings.TrimSpace(d.PrincipalType + " " + d.PrincipalDisplayName))
		if d.PrincipalOwnerID != "" {
			b.WriteString(" of account " + d.PrincipalOwnerID)
		}
	}
	if d.PolicyType != "" {
		b.WriteString(" (" + d.PolicyType + ")")
	}
	if d.EncodedDiagnosticMessage != "" {
		b.WriteString("; " + decodeDiagnosticHint(d.EncodedDiagnosticMessage))
	}
	return b.String()
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("kmsclient: ")
	b.WriteString(e.Operation)
	b.WriteString(": ")
	if e.Code != "" {
		b.WriteString(e.Code)
	} else {
		b.WriteString("error")
	}
	if e.AccessDenied != nil {
		b.WriteString(": ")
		b.WriteString(e.AccessDenied.String())
	} else if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	b.WriteString(" (HTTP ")
	b.WriteString(strconv.Itoa(e.HTTPStatus))
	if e.RequestID != "" {
		b.WriteString(", request id ")
		b.WriteString(e.RequestID)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, ", %d attempts", e.Attempts)
	}
	b.WriteString(")")
	return b.String()
}

// Unwrap returns the sentinel that classifies e (for example
// [ErrAccessDenied]), or nil.
func (e *APIError) Unwrap() error { return e.kind }

// Is reports whether target is the second sentinel of an answer whose code
// is read two ways (see the Compatibility section of the package
// documentation): an InvalidParameter answer to Decrypt or ReEncrypt is
// both [ErrInvalidCiphertext] (what Unwrap returns) and
// [ErrInvalidParameter].
func (e *APIError) Is(target error) bool { return e.also != nil && target == e.also }

// Retryable reports whether the same request may succeed if sent again
// later: throttling and server-side failures.
func (e *APIError) Retryable() bool {
	return e.kind == ErrThrottled || e.kind == ErrServiceUnavailable
}

// RequestError reports a call that got no usable answer: a network failure,
// a timeout, a cancelled context, or a response that could not be parsed.
type RequestError struct {
	Operation string
	Attempts  int
	// Err is the cause: a context error, a sanitised network error, or
	// ErrMalformedResponse.
	Err error
	// Last is the last attempt's error when it differs from Err (for
	// example the *APIError of a throttled attempt before the deadline).
	Last error
}

func (e *RequestError) Error() string {
	s := "kmsclient: " + e.Operation + ": " + e.Err.Error()
	if e.Attempts > 1 {
		s += " after " + strconv.Itoa(e.Attempts) + " attempts"
	}
	if e.Last != nil {
		s += " (last attempt: " + strings.TrimPrefix(e.Last.Error(), "kmsclient: ") + ")"
	}
	return s
}

// Unwrap returns the cause and the last attempt's error, so errors.Is
// matches both context.DeadlineExceeded and, say, ErrThrottled.
func (e *RequestError) Unwrap() []error {
	if e.Last != nil {
		return []error{e.Err, e.Last}
	}
	return []error{e.Err}
}

// Timeout reports whether the call failed because a deadline passed.
func (e *RequestError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// classify maps an error code and HTTP status to a sentinel.
func classify(code string, status int) error {
	switch {
	// Documented codes that a prefix rule below would misread.
	case code == "Forbidden.AccessKey":
		// 403 "This AccessKey is not enabled." (a disabled key): not a
		// missing permission (https://www.alibabacloud.com/help/doc-detail/69008.html).
		return ErrAuthentication
	case code == "AccessDeniedError":
		// A DryRun's "you lack permission" answer, whatever its status
		// (kms-20160120 request models: DryRun).
		return ErrAccessDenied
	case code == "ValidationError":
		// A DryRun's "the request is invalid" answer, whatever its status.
		return ErrInvalidParameter
	case code == "Rejected.Throttling" || strings.HasPrefix(code, "Throttling") || code == "Rejected.RateLimit":
		return ErrThrottled
	case isCiphertextCode(code):
		return ErrInvalidCiphertext
	case code == "Rejected.Disabled" || code == "Rejected.PendingDeletion" || code == "Rejected.PendingImport" || code == "Rejected.Unavailable":
		return ErrKeyDisabled
	case strings.HasSuffix(code, "NotFound") && strings.HasPrefix(code, "Forbidden.") ||
		code == "EntityNotExist" || strings.HasPrefix(code, "EntityNotExist.") || code == "Forbidden.ResourceNotFound":
		if strings.HasPrefix(code, "InvalidAccessKeyId") {
			return ErrAuthentication
		}
		return ErrNotFound
	case strings.HasPrefix(code, "InvalidAccessKeyId") || code == "SignatureDoesNotMatch" ||
		code == "IncompleteSignature" || code == "IllegalTimestamp" || code == "SignatureNonceUsed" ||
		strings.HasPrefix(code, "InvalidSecurityToken") || code == "Forbidden.AccessKeyDisabled" ||
		code == "InvalidTimeStamp.Expired":
		return ErrAuthentication
	case code == "UnsupportedOperation" || strings.HasPrefix(code, "UnsupportedOperation."):
		return ErrUnsupportedOperation
	case code == "InternalFailure" || code == "InternalError" || strings.HasPrefix(code, "ServiceUnavailable"):
		return ErrServiceUnavailable
	case strings.HasPrefix(code, "InvalidParameter") || strings.HasPrefix(code, "MissingParameter") ||
		strings.HasPrefix(code, "InvalidAction") || code == "InvalidVersion":
		return ErrInvalidParameter
	case status == 403 || strings.HasPrefix(code, "Forbidden"):
		return ErrAccessDenied
	case status == 404:
		return ErrNotFound
	case status == 429:
		return ErrThrottled
	case status >= 500:
		return ErrServiceUnavailable
	}
	return nil
}

// maxMessageLen bounds server messages copied into errors.
const maxMessageLen = 300

var (
	urlQueryPattern = regexp.MustCompile(`\?[^\s"'<>]*`)
	// secretParamPattern catches "Name=value" fragments of signed queries
	// that were not behind a '?' (for example in a string-to-sign).
	// base64RunPattern finds runs that look like base64 data (a plaintext,
	// blob or token echoed back in a message); see redactBase64Runs.
	base64RunPattern   = regexp.MustCompile(`[A-Za-z0-9+/]{20,}={0,2}`)
	secretParamPattern = regexp.MustCompile(`(?i)(Plaintext|CiphertextBlob|SecretData|Signature|AccessKeyId|SecurityToken|EncryptionContext|Policy)(%3D|=)[^&\s"']*`)
)

// sanitizeText removes anything that may be part of a signed request (URL
// queries, parameter values), collapses line breaks and bounds the length.
func sanitizeText(s string) string {
	if i := strings.Index(s, "string to sign is:"); i >= 0 {
		s = s[:i] + "string to sign is: [redacted]"
	}
	s = urlQueryPattern.ReplaceAllString(s, "?[redacted]")
	s = secretParamPattern.ReplaceAllString(s, "$1=[redacted]")
	s = base64RunPattern.ReplaceAllStringFunc(s, redactBase64Run)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxMessageLen {
		cut := maxMessageLen
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// redactBase64Run redacts a run of base64 characters that looks like data:
// 32 characters or more, or upper- and lower-case letters mixed with digits
// or '+' or '/', as base64 of random bytes almost always is. Identifiers in
// KMS messages (key ids: lower-case hex; request ids: upper-case hex with
// dashes; error codes: CamelCase words without digits) are not. A server
// message that echoes a parameter ("The Plaintext: <b64> is invalid") must
// not carry it into an error or a log.
func redactBase64Run(run string) string {
	has := func(f func(r rune) bool) bool { return strings.IndexFunc(run, f) >= 0 }
	upper := has(func(r rune) bool { return r >= 'A' && r <= 'Z' })
	lower := has(func(r rune) bool { return r >= 'a' && r <= 'z' })
	other := has(func(r rune) bool { return r >= '0' && r <= '9' || r == '+' || r == '/' })
	if len(run) >= 32 || upper && lower && other {
		return "[redacted]"
	}
	return run
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
