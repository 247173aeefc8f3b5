package kmstest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/internal/testkms/refpolicy"
)

// DefaultAccountID is the account every Server starts with (and returns to
// after [Server.Reset]).
const DefaultAccountID = "1234567890123456"

// DefaultRegion is a Server's region unless [WithRegion] says otherwise.
const DefaultRegion = "cn-hangzhou"

// Option configures a Server started with [Start] or [New].
type Option func(*options)

// options are the settings Options make.
type options struct{ o testkms.Options }

// WithTLS serves HTTPS with a certificate issued by a CA generated for the
// Server (in memory only, valid for a week). [Server.KMSClientConfig] and
// [Server.ClientConfig] trust it; see also [Server.CertPool].
func WithTLS() Option { return func(o *options) { o.o.TLS = true } }

// WithRegion sets the Server's region, e.g. "cn-shanghai": where keys,
// aliases and secrets are created and what requests without a RegionId use.
// A key, alias or secret of another region is not found, as at KMS.
func WithRegion(region string) Option { return func(o *options) { o.o.Region = region } }

// WithClock sets the Server's clock, used for the request timestamp check
// and for the dates in its answers. The default is time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.o.Now = now } }

// WithMaxSkew sets how far a request's Timestamp may be from the Server's
// clock, either way, before it is refused. The default is 15 minutes.
func WithMaxSkew(d time.Duration) Option { return func(o *options) { o.o.MaxSkew = d } }

// WithLogf receives one line per request: method, action, principal, HTTP
// status and error code. Parameters (plaintext, secret values, tokens) are
// never logged. Passing t.Logf is convenient, but the Server may log a
// request that is still in flight when the test ends; [Start] closes the
// Server in t.Cleanup, before the test is reported.
func WithLogf(logf func(format string, args ...any)) Option {
	return func(o *options) { o.o.Logf = logf }
}

// Server is a running KMS emulator on a random port of 127.0.0.1. Its
// methods seed and inspect its state directly, without a request, and are
// safe for concurrent use.
type Server struct {
	s *testkms.Server
}

// Start starts a Server for the test tb and closes it in tb.Cleanup. It
// fails tb if the Server cannot start (an invalid region, no free port).
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	srv, err := New(opts...)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	tb.Cleanup(func() { _ = srv.Close() })
	return srv
}

// New starts a Server outside a test (an Example, a demo program). The
// caller must Close it.
func New(opts ...Option) (*Server, error) {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	s, err := testkms.New(o.o)
	if err != nil {
		return nil, wrap(err)
	}
	return &Server{s: s}, nil
}

// Close stops the Server and its instance gateways and closes their
// connections; requests in flight see their context cancelled. It is
// idempotent.
func (s *Server) Close() error { return wrap(s.s.Close()) }

// Reset returns the Server to the state [New] leaves it in without closing
// its listeners: accounts (but the default one), credentials, keys, aliases,
// secrets, policies, groups, faults, request facts and call counters are
// dropped, and policies are no longer enforced. The endpoint, region, CA
// and instance gateways stay. Credentials issued before Reset stop working.
// Call it only when no request is in flight.
func (s *Server) Reset() { s.s.Reset() }

// Region returns the Server's region.
func (s *Server) Region() string { return s.s.Region() }

// Endpoint returns the Server's address, "127.0.0.1:PORT".
func (s *Server) Endpoint() string { return s.s.Endpoint() }

// URL returns "http://127.0.0.1:PORT", or "https://..." with [WithTLS]: the
// value for kmsclient.Config.Endpoint. The same endpoint serves KMS, STS and
// RAM, told apart by the request's API version.
func (s *Server) URL() string { return s.s.URL() }

// CACertPEM returns the PEM-encoded certificate of the CA that issued the
// Server's certificate, or nil without [WithTLS].
func (s *Server) CACertPEM() []byte { return s.s.CACertPEM() }

// CertPool returns a new pool holding only the Server's CA (for
// kmsclient.Config.RootCAs), or nil without [WithTLS].
func (s *Server) CertPool() *x509.CertPool {
	pem := s.s.CACertPEM()
	if pem == nil {
		return nil
	}
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(pem)
	return p
}

// ClientTLSConfig returns a new client TLS configuration that trusts only
// the Server's CA, or nil without [WithTLS].
func (s *Server) ClientTLSConfig() *tls.Config { return s.s.ClientTLSConfig() }

// DefaultAccount returns [DefaultAccountID], the account every Server
// starts with.
func (s *Server) DefaultAccount() string { return s.s.DefaultAccount() }

// KeyState is the state of a key, as KMS spells it.
type KeyState string

// Key states for [Server.SetKeyState].
const (
	KeyEnabled  KeyState = "Enabled"
	KeyDisabled KeyState = "Disabled"
	// KeyPendingDeletion schedules deletion in 7 days; the key cannot be
	// used meanwhile.
	KeyPendingDeletion KeyState = "PendingDeletion"
)

// PolicyError is a policy document the emulator refuses, as RAM or KMS
// would: malformed JSON, an unknown element, a bad Effect, ...
// [Server.AttachPolicy] and [Server.AttachGroupPolicy] return it.
type PolicyError struct {
	// Kind is the kind of document: "RAM policy", "key policy" or
	// "secret policy".
	Kind string
	// Path is the JSON path of the offending element, e.g.
	// "Statement[1].Effect"; "" for the document as a whole.
	Path string
	// Message says what is wrong there.
	Message string
	// Unsupported reports an element or operator that exists in other
	// policy languages but not in RAM's.
	Unsupported bool

	err error
}

// Error returns "kmstest: <kind>: <path>: <message>".
func (e *PolicyError) Error() string {
	where := e.Path
	if where == "" {
		where = "document"
	}
	return "kmstest: " + e.Kind + ": " + where + ": " + e.Message
}

// Unwrap returns the emulator's own error.
func (e *PolicyError) Unwrap() error { return e.err }

// kitError presents an emulator error under this package's name.
type kitError struct {
	msg string
	err error
}

func (e *kitError) Error() string { return e.msg }
func (e *kitError) Unwrap() error { return e.err }

// wrap turns an emulator error into one users can inspect without naming
// internal types: policy errors become *PolicyError, and messages carry
// this package's prefix.
func wrap(err error) error {
	if err == nil {
		return nil
	}
	var pe *refpolicy.Error
	if errors.As(err, &pe) {
		return &PolicyError{Kind: pe.Kind.String(), Path: pe.Path, Message: pe.Msg, Unsupported: pe.Unsupported, err: err}
	}
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "testkms: "); ok {
		msg = rest
	}
	return &kitError{msg: "kmstest: " + msg, err: err}
}
