// Package kmsclient is the one place in kmsenvelope that talks to Alibaba
// Cloud KMS. It wraps github.com/aliyun/alibaba-cloud-sdk-go with
// context.Context, safe concurrency, bounded retries and typed errors.
//
// Start with [New] and a [Config] naming the region (and, for a KMS
// instance, its endpoint and CA):
//
//	c, err := kmsclient.New(kmsclient.Config{Region: "cn-hangzhou"})
//	dk, err := c.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{
//		KeyID:             "alias/orders",
//		EncryptionContext: map[string]string{"tenant": "acme"},
//	})
//
// Every method takes a context first; cancelling it or passing its deadline
// stops the HTTP request in flight. No SDK type appears in the API.
//
// # Identity and RAM policies
//
// For permission preflights the client also calls STS and RAM with the same
// credentials, retries and errors: [Client.GetCallerIdentity] (STS; needs
// no permission), [Client.ListUserPolicies] (the user's own policies and its
// groups'), [Client.ListRolePolicies] and [Client.GetPolicyDocument] (RAM).
// They go to [Config.STSEndpoint] and [Config.RAMEndpoint], by default the
// central sts.aliyuncs.com and ram.aliyuncs.com over HTTPS, or, when
// Endpoint is a loopback address such as the test emulator's, that same
// endpoint. Denials carry the ram: action in [APIError.AccessDenied];
// unknown users, roles, groups and policies (EntityNotExist.*) are
// [ErrNotFound].
//
// # Credentials
//
// [Config.Credentials] signs every request; nil means [DefaultCredentials],
// a chain over github.com/aliyun/credentials-go (the library Alibaba
// maintains for credential sources): the ALIBABA_CLOUD_* environment
// variables, OIDC role assumption (ACK RRSA), the aliyun CLI profile and
// the credentials file, the ECS RAM role from instance metadata (IMDSv2)
// and a credentials URI. Unlike the SDK's chain it is walked again after a
// failure (a process started before its token file is mounted recovers on
// a later call), a configured source that fails does not hand over to
// another identity, and the STS endpoint of role assumption follows
// ALIBABA_CLOUD_STS_REGION and ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED or
// [ChainOptions] / [AssumeRoleOptions]. Refreshes run on the caller's
// context: a call waits for the refresh or for its context, whichever ends
// first. See [CredentialsChain].
//
// # Retries
//
// A call is retried, with exponential backoff and ±50% jitter (backoff/v4),
// only when repeating it can help: throttling (Rejected.Throttling), server
// failures (InternalFailure, ServiceUnavailableTemporary, any 5xx) and
// network errors or per-attempt timeouts. Authentication, permission,
// validation and not-found errors are returned at once, and so is a 2xx
// answer whose body cannot be parsed (the call may have taken effect). The
// SDK's own retry loop, which has no backoff, is always off. Defaults: 4
// attempts, 100ms initial delay doubling to 5s, 10s per attempt, and no new
// attempt once 30s have passed (an attempt started just before may run its
// full 10s). Failing to obtain credentials is not retried. A redirect is
// refused and not retried.
//
// # Tracing and rotated credentials
//
// [Config.Tracer] ([CallTracer]) is told of every KMS, STS and RAM call
// before it starts, with the caller's context (the call, its credentials
// provider and everything that calls runs on the context it returns, so a
// span started there parents them), of each HTTP attempt (status, error
// code, request id, whether a retry follows and after what backoff), and of
// the end ([CallInfo], as [Config.Observer], which still works). Package
// otelkms implements it with OpenTelemetry; kmsclient itself depends on no
// tracing library.
//
// A provider implementing [RefreshableCredentials] (such as
// secrets.RAMCredentials, an access key kept in a secret that KMS rotates)
// is told when its credentials are refused as unauthenticated; if it then
// has others, the attempt is repeated at once with them (at most twice per
// call, outside Config.MaxAttempts), so a rotation fails no call in flight.
//
// # Errors
//
// An error answer from KMS is an [*APIError] carrying the operation, code,
// HTTP status, request id and attempt count; it unwraps to one sentinel
// ([ErrAccessDenied], [ErrThrottled], [ErrNotFound], [ErrKeyDisabled],
// [ErrInvalidCiphertext], [ErrAuthentication], ...). For permission errors
// [APIError.AccessDenied] holds the decoded AccessDeniedDetail: the exact
// action denied, the principal, and whether the deny was explicit. A call
// that got no usable answer (network failure, timeout, cancelled context,
// malformed body) is a [*RequestError], which unwraps to the cause and to
// the last attempt's error. Invalid arguments fail before anything is sent
// with an [*InputError]; an invalid [Config] with a [*ConfigError], which
// unwraps to [ErrInvalidConfig].
//
// # Closing
//
// [Client.Close] cancels the calls in progress, waits for them, and closes
// the transport's idle connections; every call afterwards fails at once,
// without a request, with an error matching [ErrClosed].
//
// # Security
//
// No error, log record or String method of this package contains plaintext,
// data keys, ciphertext blobs, secret values or request signatures:
// transport errors are rebuilt without the request URL (whose query carries
// all of those: the SDK sends every parameter in the query string), server
// messages are sanitised and truncated, and key and secret bytes are held in
// [Sensitive], which redacts itself in fmt, slog and JSON. Every text field
// of an error answer (code, message, recommendation, access-denied detail)
// first loses any value the call sent other than identifiers (key ids,
// secret names, the access key id): raw, in base64 of either alphabet,
// padded or not, in hex of either case, and for a base64 parameter such as
// Plaintext or CiphertextBlob its decoded bytes in each of those forms,
// however short the value ("The Plaintext: cHcxOWRlZWQ= is invalid" keeps
// no trace of the 8-byte plaintext). A malformed or hostile response
// (numeric codes, oversized bodies, invalid JSON) becomes an error, never a
// panic.
//
// HTTPS is the default. Plain HTTP is accepted only for loopback hosts (the
// test emulator) unless [Config.AllowInsecureHTTP] is set. [New] refuses to
// run when DEBUG contains "sdk" (or credentials-go's "credential"), now or
// when the process started: the SDK reads DEBUG once at initialisation and
// then prints request URLs and response bodies, data keys included, to
// stdout, whatever the variable holds later.
//
// # Concurrency
//
// A [Client] is safe for concurrent use. The SDK's client mutates itself on
// every call (timeouts, TLS, proxy), so kmsclient builds a small SDK client
// per attempt over one shared HTTP transport; credential providers are shared
// and serialised. The SDK fills package-level endpoint maps lazily and
// without a lock on every client construction (services/kms/endpoint.go in
// v1.63.107), so the first concurrent calls of a fresh process raced;
// kmsclient fills them once, at package initialisation, before any call.
//
// # Compatibility
//
// Checked against Alibaba's documentation and the sources of
// alibaba-cloud-sdk-go v1.63.107 and credentials-go v1.4.14, and replayed
// through this package from documented answers:
//
//   - Forbidden.AccessKey (403, "This AccessKey is not enabled.",
//     https://www.alibabacloud.com/help/doc-detail/69008.html) is
//     [ErrAuthentication], not [ErrAccessDenied].
//   - A DryRun always fails on the wire; DryRunOperationError means the
//     call would succeed (nil error), AccessDeniedError is [ErrAccessDenied]
//     and ValidationError is [ErrInvalidParameter], whatever the HTTP status,
//     which is not documented (kms-20160120 request models, DryRun).
//   - AccessDeniedDetail is decoded from a JSON object (as documented and
//     as the SDK reads it) or from a JSON string holding one. Its
//     EncodedDiagnosticMessage is kept whole (up to 8 KiB; the documented
//     example is 243 characters) and the error text ends with the command
//     that decodes it: aliyun ram DecodeDiagnosticMessage
//     --EncodedDiagnosticMessage <token>, which needs
//     ram:DecodeDiagnosticMessage.
//
// Where the real answer is not documented, every documented or plausible
// form is accepted:
//
//   - The code for a corrupt ciphertext blob or a wrong encryption context:
//     InvalidCiphertext, InvalidCiphertext.*, Rejected.InvalidCiphertext,
//     InvalidCiphertextBlob and InvalidCiphertextException are
//     [ErrInvalidCiphertext]; so are InvalidParameter,
//     InvalidParameter.CiphertextBlob, InvalidParameter.EncryptionContext
//     and InvalidParameter.SourceEncryptionContext answering Decrypt or
//     ReEncrypt (every other parameter of those calls is checked before
//     sending), which match [ErrInvalidParameter] too.
//   - Binary secrets: the documented GetSecretValue example returns
//     "SecretData":"testdata1" (not base64) for SecretDataType binary, while
//     the emulator and the CreateSecret convention use base64. SecretData
//     that is valid standard base64 is decoded ([SecretValue.BinaryDecoded]
//     is set); anything else is returned as the string's bytes. A raw value
//     that happens to be valid base64 is therefore decoded: check
//     BinaryDecoded where it matters.
//   - ReEncrypt's SourceEncryptionContext "must be specified" for a
//     symmetric blob (kms-20160120 ReEncryptRequest); an empty one is sent
//     as {} rather than omitted.
//   - Credentials: the order of sources is credentials-go's default chain.
//     Stopping the walk at a configured source that fails, and keeping the
//     first source that succeeds for the life of the provider, are this
//     package's choices (they err toward denial rather than toward another
//     identity); only the instance metadata probe, when no role name is
//     configured, is passed over on failure.
package kmsclient
