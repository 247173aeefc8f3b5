package testkms

import (
	"fmt"
	"net/http"
)

// Error codes the emulator answers with. Most come from the Alibaba Cloud KMS
// API reference and the SDK v1 sources; the few that
// the public documentation does not pin down (marked "emulator choice") are
// spelled in the same style so that clients can match on them.
const (
	codeMissingParameter      = "MissingParameter"
	codeInvalidParameter      = "InvalidParameter"
	codeIncompleteSignature   = "IncompleteSignature"
	codeSignatureMismatch     = "SignatureDoesNotMatch"
	codeIllegalTimestamp      = "IllegalTimestamp"
	codeNonceUsed             = "SignatureNonceUsed"
	codeInvalidVersion        = "InvalidVersion"
	codeInvalidAction         = "InvalidAction.NotFound"
	codeUnsupportedMethod     = "UnsupportedHTTPMethod"
	codeAccessKeyNotFound     = "InvalidAccessKeyId.NotFound"
	codeAccessKeyDisabled     = "Forbidden.AccessKey"                        // help/doc-detail/69008.html
	codeTokenMissing          = "InvalidSecurityToken.Missing"               // emulator choice
	codeTokenMismatch         = "InvalidSecurityToken.MismatchWithAccessKey" // as Alibaba's gateway
	codeTokenExpired          = "InvalidSecurityToken.Expired"
	codeNoPermission          = "Forbidden.NoPermission"
	codeKeyNotFound           = "Forbidden.KeyNotFound"
	codeAliasNotFound         = "Forbidden.AliasNotFound"
	codeResourceNotFound      = "Forbidden.ResourceNotFound"
	codeDisabled              = "Rejected.Disabled"
	codePendingDeletion       = "Rejected.PendingDeletion"
	codeUnexpectedState       = "Rejected.UnexpectedState" // emulator choice
	codeAlreadyExists         = "Rejected.ResourceExist"   // emulator choice
	codeLimitExceeded         = "Rejected.LimitExceeded"
	codeInvalidCiphertext     = "InvalidCiphertext"
	codeDryRun                = "DryRunOperationError"
	codeThrottling            = "Rejected.Throttling"
	codeInternalFailure       = "InternalFailure"
	codeServiceUnavailable    = "ServiceUnavailableTemporary"
	msgDryRun                 = "Request would have succeeded, but DryRun flag is set."
	msgNoPermission           = "This operation is forbidden by permission system."
	msgInvalidCiphertext      = "The specified ciphertext is invalid or its encryption context does not match"
	msgAccessKeyDisabled      = "This AccessKey is not enabled."
	msgSignatureMismatchIntro = "Specified signature is not matched with our calculation. server string to sign is:"
)

// apiError is an error answered to the client in Alibaba's JSON error shape.
// Messages name parameters but never echo plaintext, key material or secret
// values.
type apiError struct {
	status  int
	code    string
	message string
	detail  *accessDeniedDetail
}

func (e *apiError) Error() string { return "testkms: " + e.code + ": " + e.message }

// accessDeniedDetail is the object Alibaba attaches to 403 answers. The SDK
// type-asserts it to map[string]interface{} and every value to a string, so
// all fields are strings.
type accessDeniedDetail struct {
	AuthAction               string `json:"AuthAction"`
	AuthPrincipalType        string `json:"AuthPrincipalType"`
	AuthPrincipalOwnerID     string `json:"AuthPrincipalOwnerId"`
	AuthPrincipalDisplayName string `json:"AuthPrincipalDisplayName"`
	PolicyType               string `json:"PolicyType"`
	NoPermissionType         string `json:"NoPermissionType"`
	EncodedDiagnosticMessage string `json:"EncodedDiagnosticMessage"`
}

// errorBody is the JSON body of every error answer. All fields are strings:
// the SDK panics on any other type.
type errorBody struct {
	RequestID          string              `json:"RequestId"`
	HostID             string              `json:"HostId"`
	Code               string              `json:"Code"`
	Message            string              `json:"Message"`
	Recommend          string              `json:"Recommend"`
	AccessDeniedDetail *accessDeniedDetail `json:"AccessDeniedDetail,omitempty"`
}

func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func errMissingParam(name string) *apiError {
	return newError(http.StatusBadRequest, codeMissingParameter,
		"The input parameter %q that is mandatory for processing this request is not supplied.", name)
}

func errInvalidParam(name, why string) *apiError {
	return newError(http.StatusBadRequest, codeInvalidParameter,
		"The specified parameter %q is not valid: %s.", name, why)
}

func errKeyNotFound(ref string) *apiError {
	return newError(http.StatusNotFound, codeKeyNotFound, "The specified Key %q is not found.", ref)
}

func errAliasNotFound(name string) *apiError {
	return newError(http.StatusNotFound, codeAliasNotFound, "The specified Alias %q is not found.", name)
}

func errSecretNotFound(what string) *apiError {
	return newError(http.StatusNotFound, codeResourceNotFound, "The specified resource %s is not found.", what)
}

func errInvalidCiphertext() *apiError {
	return newError(http.StatusBadRequest, codeInvalidCiphertext, "%s", msgInvalidCiphertext)
}

func errDryRun() *apiError {
	return newError(http.StatusBadRequest, codeDryRun, "%s", msgDryRun)
}

func errAlreadyExists(what string) *apiError {
	return newError(http.StatusConflict, codeAlreadyExists, "The resource %s already exists.", what)
}

// errKeyState reports that key keyID in state may not be used for the call.
func errKeyState(keyID, state string) *apiError {
	switch state {
	case stateDisabled:
		return newError(http.StatusConflict, codeDisabled,
			"The request is rejected because the key %q is Disabled.", keyID)
	case statePendingDeletion:
		return newError(http.StatusConflict, codePendingDeletion,
			"The request is rejected because the key %q is PendingDeletion.", keyID)
	default:
		return newError(http.StatusConflict, codeUnexpectedState,
			"The request is rejected because the key %q is %s.", keyID, state)
	}
}

func errThrottled() *apiError {
	return newError(http.StatusTooManyRequests, codeThrottling, "Request was denied due to request throttling.")
}

func errInternal() *apiError {
	return newError(http.StatusInternalServerError, codeInternalFailure,
		"Internal failure occurred, please try again later.")
}

func errUnavailable() *apiError {
	return newError(http.StatusServiceUnavailable, codeServiceUnavailable,
		"The service is temporarily unavailable, please try again later.")
}
