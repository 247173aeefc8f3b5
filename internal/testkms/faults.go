package testkms

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// FaultKind selects what an injected Fault does.
type FaultKind int

// Fault kinds. Latency and Reset apply before signature verification (they
// model the network); the others apply after it, so the request is
// authenticated and counted first.
const (
	// FaultThrottle answers HTTP 429 Rejected.Throttling.
	FaultThrottle FaultKind = iota + 1
	// FaultInternal answers HTTP 500 InternalFailure.
	FaultInternal
	// FaultUnavailable answers HTTP 503 ServiceUnavailableTemporary.
	FaultUnavailable
	// FaultLatency delays the request by Fault.Latency, then processes it
	// normally. The delay ends early when the client goes away.
	FaultLatency
	// FaultReset aborts the TCP connection with a RST (SO_LINGER 0), so the
	// client sees ECONNRESET or EOF.
	FaultReset
	// FaultMalformedHTML answers HTTP 500 with a non-JSON HTML body.
	FaultMalformedHTML
	// FaultMalformedJSON200 answers HTTP 200 with truncated, invalid JSON.
	FaultMalformedJSON200
	// FaultBadCodeType answers HTTP 400 with a JSON body whose "Code" is a
	// number, which makes the raw SDK panic.
	FaultBadCodeType
	// FaultDeny denies the action to the principal: 403 Forbidden.NoPermission
	// with an AccessDeniedDetail (ImplicitDeny) naming the RAM action being
	// checked. It applies at the permission checks, and Action matches either
	// the API being called or any RAM action the call checks: "Decrypt" also
	// denies GetSecretValue of a secret encrypted with a customer key, and
	// "ReEncrypt" denies ReEncrypt at its kms:ReEncryptFrom check.
	FaultDeny
)

var faultNames = map[FaultKind]string{
	FaultThrottle:         "Throttle",
	FaultInternal:         "Internal",
	FaultUnavailable:      "Unavailable",
	FaultLatency:          "Latency",
	FaultReset:            "Reset",
	FaultMalformedHTML:    "MalformedHTML",
	FaultMalformedJSON200: "MalformedJSON200",
	FaultBadCodeType:      "BadCodeType",
	FaultDeny:             "Deny",
}

// String returns the kind's name, e.g. "Throttle".
func (k FaultKind) String() string {
	if n, ok := faultNames[k]; ok {
		return n
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// Fault describes an injected failure.
type Fault struct {
	Kind FaultKind
	// Action is the API name, e.g. "GenerateDataKey" or "GetPolicy" (a
	// "kms:", "sts:" or "ram:" prefix is accepted too); "" matches any.
	Action string
	// Principal is a principal ARN; "" matches any. A role session may be
	// written acs:ram::<uid>:assumed-role/<role>/<session> or in the older
	// acs:sts:: form.
	Principal string
	// Count applies the fault to the next Count matching calls; 0 means
	// unlimited (until cleared).
	Count int
	// Ratio, when > 0 and Count == 0, applies the fault to each matching call
	// with this probability, drawn from a deterministically seeded generator.
	Ratio float64
	// Latency is the delay of a FaultLatency.
	Latency time.Duration
}

type faultEntry struct {
	id        int
	f         Fault
	remaining int
}

// faultSet holds the injected faults, in injection order.
type faultSet struct {
	mu     sync.Mutex
	nextID int
	list   []*faultEntry
	rng    *rand.Rand
}

func newFaultSet() *faultSet {
	return &faultSet{rng: rand.New(rand.NewPCG(0x746b6d73, 0x6661756c74))}
}

// InjectFault adds f and returns its id for [Server.RemoveFault]. Faults are
// tried in injection order; for each stage the first applicable one wins. It
// panics on an unknown Kind, a negative Count, a Ratio outside [0, 1] or a
// FaultLatency without a positive Latency.
func (s *Server) InjectFault(f Fault) (id int) {
	if _, ok := faultNames[f.Kind]; !ok {
		panic(fmt.Sprintf("testkms: InjectFault: unknown kind %v", f.Kind))
	}
	if f.Count < 0 || f.Ratio < 0 || f.Ratio > 1 {
		panic("testkms: InjectFault: Count must be >= 0 and Ratio in [0, 1]")
	}
	if f.Kind == FaultLatency && f.Latency <= 0 {
		panic("testkms: InjectFault: FaultLatency needs a positive Latency")
	}
	fs := s.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.nextID++
	fs.list = append(fs.list, &faultEntry{id: fs.nextID, f: f, remaining: f.Count})
	return fs.nextID
}

// RemoveFault removes the fault id and reports whether it was still active.
func (s *Server) RemoveFault(id int) bool {
	fs := s.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i, e := range fs.list {
		if e.id == id {
			fs.list = append(fs.list[:i], fs.list[i+1:]...)
			return true
		}
	}
	return false
}

// ClearFaults removes all injected faults, forced denials included.
func (s *Server) ClearFaults() {
	fs := s.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.list = nil
}

// Deny forces denial of action ("kms:Decrypt" or "Decrypt", "ram:GetPolicy"
// or "GetPolicy") for principal
// (a principal ARN, "" for everyone) until cleared. It is shorthand for
// InjectFault(Fault{Kind: FaultDeny, ...}).
func (s *Server) Deny(principal, action string) {
	s.InjectFault(Fault{Kind: FaultDeny, Principal: principal, Action: action})
}

// take finds the first fault whose kind is in kinds and that matches, and
// consumes one application of it.
func (fs *faultSet) take(kinds []FaultKind, matches func(*Fault) bool) (Fault, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i, e := range fs.list {
		if !containsKind(kinds, e.f.Kind) || !matches(&e.f) {
			continue
		}
		switch {
		case e.f.Count > 0:
			e.remaining--
			if e.remaining <= 0 {
				fs.list = append(fs.list[:i], fs.list[i+1:]...)
			}
		case e.f.Ratio > 0:
			if fs.rng.Float64() >= e.f.Ratio {
				continue
			}
		}
		return e.f, true
	}
	return Fault{}, false
}

func containsKind(kinds []FaultKind, k FaultKind) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

// matchAPI matches faults by API name and principal.
func matchAPI(action, principal string) func(*Fault) bool {
	return func(f *Fault) bool {
		if f.Principal != "" && canonicalPrincipal(f.Principal) != principal {
			return false
		}
		return f.Action == "" || apiName(f.Action) == action
	}
}

var (
	responseFaults = []FaultKind{FaultThrottle, FaultInternal, FaultUnavailable,
		FaultMalformedHTML, FaultMalformedJSON200, FaultBadCodeType}
	denyFaults = []FaultKind{FaultDeny}
)

// takeDeny reports whether a forced denial applies to the permission check
// of RAM action perm ("kms:Decrypt") made by API call api ("GetSecretValue")
// for principal. A fault matches by either name, so "Decrypt" denies every
// kms:Decrypt check and "ReEncrypt" denies ReEncrypt calls (whose checks are
// kms:ReEncryptFrom and kms:ReEncryptTo).
func (fs *faultSet) takeDeny(perm, api, principal string) bool {
	_, ok := fs.take(denyFaults, func(f *Fault) bool {
		if f.Principal != "" && canonicalPrincipal(f.Principal) != principal {
			return false
		}
		return f.Action == "" || permission(f.Action) == perm || apiName(f.Action) == api
	})
	return ok
}

// apiName returns the API name of an action: "kms:Decrypt" and "Decrypt"
// give "Decrypt", "ram:GetPolicy" gives "GetPolicy", "sts:GetCallerIdentity"
// gives "GetCallerIdentity".
func apiName(action string) string {
	for _, prefix := range []string{"kms:", "ram:", "sts:"} {
		if rest, ok := strings.CutPrefix(action, prefix); ok {
			return rest
		}
	}
	return action
}

// callCounter counts requests per API action.
type callCounter struct {
	mu     sync.Mutex
	counts map[string]int
	total  int
}

func (cc *callCounter) add(action string) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.counts == nil {
		cc.counts = make(map[string]int)
	}
	cc.counts[action]++
	cc.total++
}

func (cc *callCounter) get(action string) int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.counts[apiName(action)]
}

func (cc *callCounter) sum() int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.total
}

func (cc *callCounter) snapshot() map[string]int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	out := make(map[string]int, len(cc.counts))
	for k, v := range cc.counts {
		out[k] = v
	}
	return out
}

func (cc *callCounter) reset() {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.counts = nil
	cc.total = 0
}

// Calls returns how many requests for API action (e.g. "GenerateDataKey",
// "GetCallerIdentity", "ListPoliciesForUser"; a "kms:", "sts:" or "ram:"
// prefix is accepted too) reached the server's shared endpoint
// ([Server.Endpoint]) since the last ResetCalls, including rejected and
// faulted ones. Counting is by Action name only, for every product.
// Requests to an instance gateway are counted by [Gateway.Calls] instead.
func (s *Server) Calls(action string) int { return s.calls.get(action) }

// TotalCalls returns how many requests with an Action reached the shared
// endpoint since the last ResetCalls.
func (s *Server) TotalCalls() int { return s.calls.sum() }

// CallCounts returns a copy of the shared endpoint's per-action counters.
func (s *Server) CallCounts() map[string]int { return s.calls.snapshot() }

// ManagementCalls returns how many KMS management requests (every
// implemented KMS action but the data-path ones an instance gateway serves,
// and but ReEncrypt; see [Gateway]) reached any listener of the server, the
// shared endpoint and every instance gateway, since the last ResetCalls,
// refused ones included. STS and RAM requests are not counted here; see
// Calls and [Gateway.Calls].
func (s *Server) ManagementCalls() int { return s.mgmtCalls.sum() }

// ManagementCallCounts returns a copy of the per-action counters behind
// [Server.ManagementCalls].
func (s *Server) ManagementCallCounts() map[string]int { return s.mgmtCalls.snapshot() }

// ResetCalls zeroes the call counters: the shared endpoint's, the
// management counters and every instance gateway's.
func (s *Server) ResetCalls() {
	s.calls.reset()
	s.mgmtCalls.reset()
	for _, g := range s.gatewayList() {
		g.calls.reset()
	}
}
