package testkms

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// This file emulates the dedicated gateway of a KMS 3.0 instance,
// <instance-id>.cryptoservice.kms.aliyuncs.com: its own listener, HTTPS
// under its own private CA, serving the same cloud state as the Server but
// only the data-path calls.
//
// Alibaba's "Classic KMS SDK" guide
// (help/en/kms/key-management-service/developer-reference/classic-kms-sdkclassic-kms-sdk/)
// says the instance gateway serves the cryptographic operations and
// GetSecretValue, not ReEncrypt, and no management operation (DescribeKey,
// DescribeSecret, GetKeyPolicy, GetSecretPolicy, ListAliasesByKeyId and the
// rest), which go to the shared gateway kms[-vpc].<region>.aliyuncs.com.

// gatewayActions are the KMS actions an instance gateway serves. Those the
// emulator does not implement (the asymmetric and export calls) answer
// InvalidAction.NotFound there as on the shared endpoint.
var gatewayActions = map[string]bool{
	"Encrypt": true, "Decrypt": true, "GenerateDataKey": true, "GenerateDataKeyWithoutPlaintext": true,
	"GetSecretValue": true,
	// Cryptographic calls of the instance API the emulator does not
	// implement.
	"AsymmetricEncrypt": true, "AsymmetricDecrypt": true, "AsymmetricSign": true, "AsymmetricVerify": true,
	"GetPublicKey": true, "ExportDataKey": true, "GenerateAndExportDataKey": true,
}

// gatewayServes reports whether an instance gateway serves action of
// product p: only KMS data-path actions; no STS or RAM call.
func gatewayServes(p *product, action string) bool {
	return p != nil && p.code == "kms" && gatewayActions[action]
}

// isManagementAction reports whether action of product p is a KMS
// management call: an implemented KMS action that is neither served by an
// instance gateway nor ReEncrypt (a cryptographic call only the shared
// gateway serves).
func isManagementAction(p *product, action string) bool {
	if p == nil || p.code != "kms" || gatewayActions[action] || action == "ReEncrypt" {
		return false
	}
	_, ok := p.actions[action]
	return ok
}

// codeUnsupportedOperation is what an instance gateway answers for a call it
// does not serve. The Decrypt API reference lists UnsupportedOperation among
// Decrypt's errors, and the KMS instance API's common error codes
// (help/en/kms/key-management-service/developer-reference/common-error-codes-1)
// list it under 400 Bad request; neither gives the message, which is an
// emulator choice, nor says what the gateway answers for an STS or RAM call
// (emulator choice: the same).
const codeUnsupportedOperation = "UnsupportedOperation"

func errUnsupportedOperation(action string) *apiError {
	return newError(http.StatusBadRequest, codeUnsupportedOperation,
		"The operation %q is not supported by a KMS instance gateway; call the shared gateway (kms.<region>.aliyuncs.com) instead.", action)
}

// GatewayOptions configure an instance gateway.
type GatewayOptions struct {
	// Facts say where the gateway's requests come from when their
	// credential says nothing else (see [Server.SetRequestFacts]). A real
	// gateway is reached from a VPC: give Facts.SourceVPC to have
	// acs:SourceVpc present. [Server.Reset] returns the gateway to these.
	Facts RequestFacts
}

// Gateway is the dedicated gateway of a KMS 3.0 instance: a second listener
// of a [Server], on its own loopback port, always HTTPS with a certificate
// from its own generated CA (valid for 127.0.0.1, localhost and
// [Gateway.Host]), serving the same accounts, credentials, keys, secrets,
// policies and faults.
//
// It serves only Encrypt, Decrypt, GenerateDataKey,
// GenerateDataKeyWithoutPlaintext and GetSecretValue (and names the
// asymmetric and export calls, which the emulator does not implement), and
// only for keys and secrets of its instance ([KeyOptions].InstanceID; a
// secret is in the instance of the key that encrypts it): another key or
// secret is not found there (404 Forbidden.KeyNotFound or
// Forbidden.ResourceNotFound; an emulator choice, the real answer is not
// documented), and a ciphertext of another key answers Forbidden.KeyNotFound
// too. Every other call, ReEncrypt and every management call
// (DescribeKey, DescribeSecret, GetKeyPolicy, ...) included, and STS and
// RAM calls, is refused before authentication with 400
// UnsupportedOperation. Refused calls are counted like any other.
//
// Simplifications: requests are signed as on the shared endpoint (RPC
// signature 1.0 with an access key; the real gateway's own API uses a
// ClientKey, and whether it accepts signature 1.0 is not documented), and
// the Server's Authorizer decides permissions (the real gateway applies
// application access point policies).
type Gateway struct {
	s          *Server
	instanceID string
	host       string
	opts       GatewayOptions

	ln       net.Listener
	httpSrv  *http.Server
	served   chan struct{}
	ca       *testCA
	calls    callCounter
	facts    atomic.Pointer[RequestFacts] // the listener's default
	inflight atomic.Int64
	closed   sync.Once
	closeErr error
}

// instanceIDPattern accepts a DNS label, such as the ids of real instances
// ("kst-hzz62ee817bvyyr5x****" without the mask).
var instanceIDPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// NewInstanceGateway starts the instance gateway of KMS instance instanceID
// (a DNS label, e.g. "kst-hzz6abc") on a random port of 127.0.0.1. It is
// closed with the Server, or earlier with [Gateway.Close].
func (s *Server) NewInstanceGateway(instanceID string, opts GatewayOptions) (*Gateway, error) {
	if !instanceIDPattern.MatchString(instanceID) {
		return nil, fmt.Errorf("testkms: instance id %q is not a DNS label (want e.g. kst-hzz6abc)", instanceID)
	}
	if err := opts.Facts.validate(); err != nil {
		return nil, err
	}
	g := &Gateway{
		s: s, instanceID: instanceID, host: instanceID + ".cryptoservice.kms.aliyuncs.com",
		opts: opts, served: make(chan struct{}),
	}
	f := opts.Facts
	g.facts.Store(&f)
	ca, err := newTestCA("testkms instance CA "+instanceID, g.host)
	if err != nil {
		return nil, err
	}
	g.ca = ca
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("testkms: gateway listen: %w", err)
	}
	s.gwMu.Lock()
	if s.gwClosed {
		s.gwMu.Unlock()
		ln.Close()
		return nil, errors.New("testkms: the server is closed")
	}
	s.gateways = append(s.gateways, g)
	s.gwMu.Unlock()
	g.ln = tls.NewListener(ln, ca.serverConfig())
	g.httpSrv = &http.Server{
		Handler:           http.HandlerFunc(g.serveHTTP),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() {
		defer close(g.served)
		_ = g.httpSrv.Serve(g.ln)
	}()
	return g, nil
}

// StartInstanceGateway is NewInstanceGateway for tests: it fails tb on error
// and closes the gateway in tb.Cleanup. At most one GatewayOptions may be
// given.
func (s *Server) StartInstanceGateway(tb testing.TB, instanceID string, opts ...GatewayOptions) *Gateway {
	tb.Helper()
	if len(opts) > 1 {
		tb.Fatalf("testkms: StartInstanceGateway takes at most one GatewayOptions, got %d", len(opts))
	}
	var o GatewayOptions
	if len(opts) == 1 {
		o = opts[0]
	}
	g, err := s.NewInstanceGateway(instanceID, o)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	tb.Cleanup(func() { _ = g.Close() })
	return g
}

func (g *Gateway) serveHTTP(w http.ResponseWriter, r *http.Request) {
	g.inflight.Add(1)
	defer g.inflight.Add(-1)
	g.s.serve(w, r, g)
}

// gatewayList returns the gateways started on s.
func (s *Server) gatewayList() []*Gateway {
	s.gwMu.Lock()
	defer s.gwMu.Unlock()
	return append([]*Gateway(nil), s.gateways...)
}

// Close stops the gateway and closes its connections. It is idempotent.
func (g *Gateway) Close() error {
	g.closed.Do(func() {
		err := g.httpSrv.Close()
		<-g.served
		for deadline := time.Now().Add(5 * time.Second); g.inflight.Load() > 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.closeErr = fmt.Errorf("testkms: close gateway: %w", err)
		}
	})
	return g.closeErr
}

// InstanceID returns the KMS instance the gateway serves.
func (g *Gateway) InstanceID() string { return g.instanceID }

// Host returns the gateway's name as real KMS spells it,
// "<instance-id>.cryptoservice.kms.aliyuncs.com": the HostId of its answers
// and a DNS name of its certificate. It does not resolve; dial
// [Gateway.Endpoint].
func (g *Gateway) Host() string { return g.host }

// Endpoint returns "127.0.0.1:PORT".
func (g *Gateway) Endpoint() string { return g.ln.Addr().String() }

// URL returns "https://127.0.0.1:PORT", the value for
// kmsclient.Config.Endpoint.
func (g *Gateway) URL() string { return "https://" + g.Endpoint() }

// CACertPEM returns the PEM-encoded certificate of the gateway's own CA
// (not the Server's).
func (g *Gateway) CACertPEM() []byte { return append([]byte(nil), g.ca.caPEM...) }

// CertPool returns a new pool holding only the gateway's CA, for
// kmsclient.Config.RootCAs.
func (g *Gateway) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(g.ca.caPEM)
	return p
}

// ClientTLSConfig returns a new client TLS configuration that trusts only
// the gateway's CA.
func (g *Gateway) ClientTLSConfig() *tls.Config {
	return &tls.Config{RootCAs: g.CertPool(), MinVersion: tls.VersionTLS12}
}

// Calls returns how many requests for API action reached this gateway since
// the last [Server.ResetCalls], refused ones included (see [Server.Calls]
// for the spelling of action).
func (g *Gateway) Calls(action string) int { return g.calls.get(action) }

// TotalCalls returns how many requests with an Action reached this gateway
// since the last [Server.ResetCalls].
func (g *Gateway) TotalCalls() int { return g.calls.sum() }

// CallCounts returns a copy of the gateway's per-action counters.
func (g *Gateway) CallCounts() map[string]int { return g.calls.snapshot() }

// inScope reports whether a key or secret of KMS instance instanceID may be
// used through the call's listener: anything on the shared endpoint, only
// the gateway's own instance on a gateway.
func (c *call) inScope(instanceID string) bool {
	return c.gw == nil || instanceID == c.gw.instanceID
}
