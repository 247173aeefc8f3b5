package kmstest

import (
	"strconv"
	"time"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
)

// FaultKind selects what an injected [Fault] does.
type FaultKind int

// Fault kinds. FaultLatency and FaultReset model the network and apply
// before the request is authenticated; the others apply after it.
const (
	// FaultThrottle answers HTTP 429 Rejected.Throttling
	// (kmsclient.ErrThrottled, retried).
	FaultThrottle FaultKind = iota + 1
	// FaultInternal answers HTTP 500 InternalFailure (retried).
	FaultInternal
	// FaultUnavailable answers HTTP 503 ServiceUnavailableTemporary
	// (retried).
	FaultUnavailable
	// FaultLatency delays the request by Fault.Latency, then serves it. The
	// delay ends early when the client goes away.
	FaultLatency
	// FaultReset aborts the TCP connection, so the client sees a connection
	// reset or EOF.
	FaultReset
	// FaultMalformedHTML answers HTTP 500 with an HTML body.
	FaultMalformedHTML
	// FaultMalformedJSON200 answers HTTP 200 with truncated JSON: the call
	// may have taken effect, so kmsclient does not retry it.
	FaultMalformedJSON200
	// FaultBadCodeType answers HTTP 400 with a JSON body whose "Code" is a
	// number (which makes the raw Alibaba SDK panic).
	FaultBadCodeType
	// FaultDeny answers 403 Forbidden.NoPermission naming the RAM action
	// checked. Its Action matches the API called or any RAM action the call
	// checks: "Decrypt" also denies GetSecretValue of a secret encrypted with
	// a customer key.
	FaultDeny
)

var faultKinds = map[FaultKind]testkms.FaultKind{
	FaultThrottle:         testkms.FaultThrottle,
	FaultInternal:         testkms.FaultInternal,
	FaultUnavailable:      testkms.FaultUnavailable,
	FaultLatency:          testkms.FaultLatency,
	FaultReset:            testkms.FaultReset,
	FaultMalformedHTML:    testkms.FaultMalformedHTML,
	FaultMalformedJSON200: testkms.FaultMalformedJSON200,
	FaultBadCodeType:      testkms.FaultBadCodeType,
	FaultDeny:             testkms.FaultDeny,
}

// String returns the kind's name, e.g. "Throttle".
func (k FaultKind) String() string {
	if ik, ok := faultKinds[k]; ok {
		return ik.String()
	}
	return "FaultKind(" + strconv.Itoa(int(k)) + ")"
}

// Fault describes an injected failure; see [Server.InjectFault].
type Fault struct {
	Kind FaultKind
	// Action is the API name, e.g. "GenerateDataKey" (a "kms:", "sts:" or
	// "ram:" prefix is accepted); "" matches every call.
	Action string
	// Principal is a principal ARN (Credential.Principal); "" matches
	// every caller.
	Principal string
	// Count applies the fault to the next Count matching calls only; 0
	// means every matching call until the fault is removed.
	Count int
	// Ratio, when > 0 and Count is 0, applies the fault to each matching
	// call with this probability, drawn from a deterministically seeded
	// generator.
	Ratio float64
	// Latency is a FaultLatency's delay.
	Latency time.Duration
}

// InjectFault adds f and returns its id for [Server.RemoveFault]. Faults
// are tried in the order injected, and the first that applies wins. It
// panics on an unknown Kind, a negative Count, a Ratio outside [0, 1] or a
// FaultLatency without a positive Latency: those are mistakes in the test.
func (s *Server) InjectFault(f Fault) (id int) {
	kind, ok := faultKinds[f.Kind]
	if !ok {
		panic("kmstest: InjectFault: unknown " + f.Kind.String())
	}
	return s.s.InjectFault(testkms.Fault{Kind: kind, Action: f.Action,
		Principal: f.Principal, Count: f.Count, Ratio: f.Ratio, Latency: f.Latency})
}

// RemoveFault removes fault id and reports whether it was still active.
func (s *Server) RemoveFault(id int) bool { return s.s.RemoveFault(id) }

// ClearFaults removes every injected fault and forced denial.
func (s *Server) ClearFaults() { s.s.ClearFaults() }

// Deny refuses action ("kms:Decrypt" or "Decrypt") to principal ("" for
// everyone) until cleared, whatever the policies say; it is
// InjectFault(Fault{Kind: FaultDeny, Action: action, Principal: principal}).
func (s *Server) Deny(principal, action string) { s.s.Deny(principal, action) }

// Calls returns how many requests for API action ("GenerateDataKey",
// "GetCallerIdentity", "ListPoliciesForUser"; a "kms:", "sts:" or "ram:"
// prefix is accepted) reached the Server's shared endpoint since it started
// or since [Server.ResetCalls], refused and faulted ones included. An
// instance gateway counts its own ([Gateway.Calls]).
func (s *Server) Calls(action string) int { return s.s.Calls(action) }

// CallCounts returns a copy of the shared endpoint's counters by action.
func (s *Server) CallCounts() map[string]int { return s.s.CallCounts() }

// TotalCalls returns how many requests reached the shared endpoint.
func (s *Server) TotalCalls() int { return s.s.TotalCalls() }

// ManagementCalls returns how many KMS management requests (everything but
// Encrypt, Decrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext,
// GetSecretValue and ReEncrypt: DescribeKey, GetKeyPolicy, ...) reached any
// listener, shared endpoint and instance gateways alike, so that a test can
// assert that a data path made none. STS and RAM calls are not counted.
func (s *Server) ManagementCalls() int { return s.s.ManagementCalls() }

// ManagementCallCounts returns a copy of the counters behind
// [Server.ManagementCalls], by action.
func (s *Server) ManagementCallCounts() map[string]int { return s.s.ManagementCallCounts() }

// ResetCalls zeroes every call counter: the shared endpoint's, the
// management ones and every instance gateway's.
func (s *Server) ResetCalls() { s.s.ResetCalls() }

// RequestFacts say where requests come from, for the policy condition keys
// acs:SourceIp and acs:SourceVpc. The zero value says nothing: the client's
// own address is acs:SourceIp if it is public (loopback never is), and
// acs:SourceVpc is absent.
type RequestFacts struct {
	// SourceIP is the public address KMS sees (acs:SourceIp), e.g.
	// "203.0.113.7". It must be a public unicast address.
	SourceIP string
	// SourceVPC is the VPC the request comes from (acs:SourceVpc), e.g.
	// "vpc-bp1abc". A request from a VPC has no public address: with
	// SourceVPC set and SourceIP not, acs:SourceIp is absent.
	SourceVPC string
}

func (f RequestFacts) internal() testkms.RequestFacts {
	return testkms.RequestFacts{SourceIP: f.SourceIP, SourceVPC: f.SourceVPC}
}

// SetRequestFacts says where the requests signed with accessKeyID come
// from, on every listener; each field that is set overrides the listener's
// ([Server.SetListenerFacts], [WithGatewayFacts]), and the zero RequestFacts
// removes the credential's facts. It fails for an unknown access key and
// for facts KMS could not see (a SourceIP that is not public, a malformed
// VPC id).
func (s *Server) SetRequestFacts(accessKeyID string, f RequestFacts) error {
	return wrap(s.s.SetRequestFacts(accessKeyID, f.internal()))
}

// SetListenerFacts says where requests to the shared endpoint come from
// when their credential says nothing else: RequestFacts{SourceVPC: "vpc-…"}
// models the VPC endpoint kms-vpc.<region>.aliyuncs.com.
func (s *Server) SetListenerFacts(f RequestFacts) error {
	return wrap(s.s.SetListenerFacts(f.internal()))
}
