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
// [Sensitive], which redacts itself in fmt, slog and JSON. A malformed or
// hostile response (numeric codes, oversized bodies, invalid JSON) becomes
// an error, never a panic.
//
// HTTPS is the default. Plain HTTP is accepted only for loopback hosts (the
// test emulator) unless [Config.AllowInsecureHTTP] is set. [New] refuses to
// run while DEBUG=sdk is set, because the SDK then prints request URLs and
// response bodies, data keys included, to stdout.
//
// # Concurrency
//
// A [Client] is safe for concurrent use. The SDK's client mutates itself on
// every call (timeouts, TLS, proxy), so kmsclient builds a small SDK client
// per attempt over one shared HTTP transport; credential providers are shared
// and serialised.
package kmsclient
