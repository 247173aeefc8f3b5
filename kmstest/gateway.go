package kmstest

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
)

// GatewayOption configures an instance gateway started with
// [Server.StartInstanceGateway] or [Server.NewInstanceGateway].
type GatewayOption func(*gatewayOptions)

// gatewayOptions are the settings GatewayOptions make.
type gatewayOptions struct{ o testkms.GatewayOptions }

// WithGatewayFacts says where the gateway's requests come from when their
// credential says nothing else (see [Server.SetRequestFacts]). A real
// gateway is reached from a VPC: give SourceVPC to have acs:SourceVpc
// present. [Server.Reset] returns the gateway to these facts.
func WithGatewayFacts(f RequestFacts) GatewayOption {
	return func(o *gatewayOptions) { o.o.Facts = f.internal() }
}

// Gateway is the dedicated gateway of a KMS 3.0 instance,
// <instance-id>.cryptoservice.kms.aliyuncs.com: a second listener of a
// Server on its own loopback port, always HTTPS under its own generated CA,
// serving the same accounts, keys, secrets, policies and faults.
//
// As Alibaba's "Classic KMS SDK" guide describes the real one, it serves
// Encrypt, Decrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext and
// GetSecretValue, for the keys of its instance ([KeyOptions.InstanceID])
// and the secrets they encrypt only, and refuses ReEncrypt, every management
// call (DescribeKey, GetKeyPolicy, ...) and STS and RAM with 400
// UnsupportedOperation. Requests are signed as on the shared endpoint.
type Gateway struct {
	g   *testkms.Gateway
	srv *Server
}

func applyGatewayOptions(opts []GatewayOption) testkms.GatewayOptions {
	var o gatewayOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o.o
}

// StartInstanceGateway starts the gateway of KMS instance instanceID (a DNS
// label, e.g. "kst-hzz6abc") for the test tb and closes it in tb.Cleanup
// (it also closes with the Server). It fails tb on error.
func (s *Server) StartInstanceGateway(tb testing.TB, instanceID string, opts ...GatewayOption) *Gateway {
	tb.Helper()
	g, err := s.NewInstanceGateway(instanceID, opts...)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	tb.Cleanup(func() { _ = g.Close() })
	return g
}

// NewInstanceGateway starts the gateway of KMS instance instanceID outside a
// test. It closes with the Server, or earlier with [Gateway.Close].
func (s *Server) NewInstanceGateway(instanceID string, opts ...GatewayOption) (*Gateway, error) {
	g, err := s.s.NewInstanceGateway(instanceID, applyGatewayOptions(opts))
	if err != nil {
		return nil, wrap(err)
	}
	return &Gateway{g: g, srv: s}, nil
}

// InstanceID returns the KMS instance the gateway serves.
func (g *Gateway) InstanceID() string { return g.g.InstanceID() }

// Host returns the gateway's name as KMS spells it,
// "<instance-id>.cryptoservice.kms.aliyuncs.com": the HostId of its answers
// and a DNS name of its certificate. It does not resolve; dial
// [Gateway.Endpoint].
func (g *Gateway) Host() string { return g.g.Host() }

// Endpoint returns the gateway's address, "127.0.0.1:PORT".
func (g *Gateway) Endpoint() string { return g.g.Endpoint() }

// URL returns "https://127.0.0.1:PORT", the value for
// kmsclient.Config.Endpoint.
func (g *Gateway) URL() string { return g.g.URL() }

// CACertPEM returns the PEM-encoded certificate of the gateway's own CA
// (not the Server's).
func (g *Gateway) CACertPEM() []byte { return g.g.CACertPEM() }

// CertPool returns a new pool holding only the gateway's CA, for
// kmsclient.Config.RootCAs.
func (g *Gateway) CertPool() *x509.CertPool { return g.g.CertPool() }

// ClientTLSConfig returns a new client TLS configuration that trusts only the
// gateway's CA.
func (g *Gateway) ClientTLSConfig() *tls.Config { return g.g.ClientTLSConfig() }

// Calls returns how many requests for API action reached this gateway,
// refused ones included (see [Server.Calls]); the Server's own counters do
// not include them.
func (g *Gateway) Calls(action string) int { return g.g.Calls(action) }

// CallCounts returns a copy of the gateway's counters by action.
func (g *Gateway) CallCounts() map[string]int { return g.g.CallCounts() }

// TotalCalls returns how many requests reached this gateway.
func (g *Gateway) TotalCalls() int { return g.g.TotalCalls() }

// SetRequestFacts says where requests to this gateway come from when their
// credential says nothing else (see [Server.SetRequestFacts]).
func (g *Gateway) SetRequestFacts(f RequestFacts) error {
	return wrap(g.g.SetRequestFacts(f.internal()))
}

// Close stops the gateway and closes its connections. It is idempotent.
func (g *Gateway) Close() error { return wrap(g.g.Close()) }
