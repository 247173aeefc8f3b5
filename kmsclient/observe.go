package kmsclient

import (
	"context"
	"time"
)

// CallTracer is a context-aware hook around every KMS, STS and RAM call of
// a [Client], for tracing (package otelkms implements it with
// OpenTelemetry). Set it in [Config.Tracer]; it must be safe for concurrent
// use.
//
// StartCall is called on the caller's goroutine before the first attempt,
// with the caller's context, and the context it returns is the one the
// call runs on: attempts, the credentials provider and anything it calls
// (a provider that reads a secret, say) see it, so a span started there
// parents everything the call does. The returned CallTrace receives every
// attempt and then, once, the end of the call. A nil CallTrace means the
// call is not traced.
//
// Nothing passed to a CallTracer holds plaintext, data keys, ciphertext
// blobs, secret values or credentials: only the operation, where it went,
// timings, HTTP status, error code, request id and the error the caller
// gets (whose text kmsclient sanitises).
type CallTracer interface {
	StartCall(ctx context.Context, call CallStart) (context.Context, CallTrace)
}

// CallTrace receives the attempts and the end of one traced call. Its
// methods are called from the goroutine of the call, in order: Attempt once
// per HTTP attempt, then End once.
type CallTrace interface {
	Attempt(AttemptInfo)
	End(CallInfo)
}

// Services of [CallStart.Service] and [CallInfo.Service]: Alibaba's product
// codes, as the SDK names them.
const (
	ServiceKMS = "Kms"
	ServiceSTS = "Sts"
	ServiceRAM = "Ram"
)

// CallStart describes a call about to be made, for [CallTracer.StartCall].
type CallStart struct {
	Operation string    // API name, e.g. "GenerateDataKey"
	Service   string    // ServiceKMS, ServiceSTS or ServiceRAM
	Region    string    // the client's region
	Endpoint  string    // host[:port] the call goes to
	Start     time.Time // when the call started
}

// AttemptInfo describes one HTTP attempt of a call, for
// [CallTrace.Attempt].
type AttemptInfo struct {
	Attempt    int           // 1 for the first attempt
	Start      time.Time     // when the attempt started
	Duration   time.Duration // how long it took
	HTTPStatus int           // 0 if no answer was received
	Code       string        // error code of the answer, "" on success
	RequestID  string        // request id of the answer, if any
	Throttled  bool          // the answer was a throttling error
	Err        error         // the attempt's error (sanitised), nil on success
	// Retry reports that another attempt follows, after Backoff.
	Retry   bool
	Backoff time.Duration
	// CredentialsRefreshed reports that the attempt failed authentication
	// and the next one follows at once with refreshed credentials (see
	// [RefreshableCredentials]).
	CredentialsRefreshed bool
}

// RefreshableCredentials is a [CredentialsProvider] whose credentials may
// be replaced while they are in use, such as an access key kept in a
// secret that KMS rotates. When a request signed with its credentials is
// answered with an authentication error ([ErrAuthentication]: a deleted or
// disabled access key, a wrong signature), the client calls Rejected with
// the credentials that were refused; if it returns true (Retrieve now
// returns other credentials), the attempt is repeated at once with them.
// A call does this at most twice (a second rotation may land while a slow
// call is repeated), and these repeats do not count against
// Config.MaxAttempts. Rejected runs on the call's context and must be safe
// for concurrent use.
type RefreshableCredentials interface {
	CredentialsProvider
	Rejected(ctx context.Context, rejected Credentials) bool
}

// maxCredentialRefreshes bounds the attempts of one call repeated with
// refreshed credentials.
const maxCredentialRefreshes = 2

// ramOps are the RAM operations the client calls; stsOps the STS ones.
var (
	ramOps = map[string]bool{
		"ListPoliciesForUser": true, "ListGroupsForUser": true, "ListPoliciesForGroup": true,
		"ListPoliciesForRole": true, "GetPolicy": true, "GetPolicyVersion": true,
	}
	stsOps = map[string]bool{"GetCallerIdentity": true}
)

// serviceOf returns the product and the host[:port] op goes to.
func (c *Client) serviceOf(op string) (service, host string) {
	switch {
	case stsOps[op]:
		return ServiceSTS, c.ep.sts.host
	case ramOps[op]:
		return ServiceRAM, c.ep.ram.host
	case managementOps[op] && !c.ep.noMgmt:
		return ServiceKMS, c.ep.mgmt.host
	default:
		return ServiceKMS, c.ep.kms.host
	}
}

// attemptInfo builds the AttemptInfo of the attempt recorded in rec.
func attemptInfo(n int, start time.Time, rec *attempt, err error) AttemptInfo {
	a := AttemptInfo{Attempt: n, Start: start, Duration: time.Since(start), HTTPStatus: rec.status, RequestID: rec.requestID, Err: err}
	if rec.apiErr != nil {
		a.Code = rec.apiErr.Code
		if rec.apiErr.RequestID != "" {
			a.RequestID = rec.apiErr.RequestID
		}
	}
	a.Throttled = isThrottled(err)
	return a
}

func isThrottled(err error) bool {
	if err == nil {
		return false
	}
	ae, ok := err.(*APIError)
	return ok && ae.kind == ErrThrottled
}
