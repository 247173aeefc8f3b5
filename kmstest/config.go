package kmstest

import (
	"crypto/x509"

	"github.com/kmsenvelope/kmsenvelope"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// KMSClientConfig returns a kmsclient.Config that sends every call (KMS,
// STS and RAM) to the Server, signed with cred, trusting the Server's CA
// under [WithTLS]. Other fields keep kmsclient's defaults; adjust them
// (MaxAttempts, Logger, ...) before calling kmsclient.New.
func (s *Server) KMSClientConfig(cred Credential) kmsclient.Config {
	return kmsclient.Config{
		Region:      s.Region(),
		Endpoint:    s.URL(),
		Credentials: cred.Provider(),
		RootCAs:     s.CertPool(),
	}
}

// ClientConfig returns a kmsenvelope.Config pointed at the Server as
// [Server.KMSClientConfig] is. Set KeyID, SecretNames, PolicyMode and the
// rest before calling kmsenvelope.New.
func (s *Server) ClientConfig(cred Credential) kmsenvelope.Config {
	return kmsenvelope.Config{
		Region:      s.Region(),
		Endpoint:    s.URL(),
		Credentials: cred.Provider(),
		RootCAs:     s.CertPool(),
	}
}

// roots trusts the gateway's CA and, under WithTLS, the Server's, for
// STS and RAM, which stay on the Server's shared endpoint.
func (g *Gateway) roots() *x509.CertPool {
	p := g.CertPool()
	if pem := g.srv.CACertPEM(); pem != nil {
		p.AppendCertsFromPEM(pem)
	}
	return p
}

// KMSClientConfig returns a kmsclient.Config for this instance gateway,
// signed with cred: the KMS calls go to the gateway (InstanceGateway set,
// its CA trusted), STS and RAM to the Server's shared endpoint, and there
// is no management endpoint, so management calls and ReEncrypt fail at once
// with kmsclient.ErrUnsupportedOperation, as with a real gateway alone. To
// add the shared gateway, set ManagementEndpoint to the Server's URL (and
// ManagementRootCAs to its CertPool under [WithTLS]).
func (g *Gateway) KMSClientConfig(cred Credential) kmsclient.Config {
	srv := g.srv.URL()
	return kmsclient.Config{
		Region:          g.srv.Region(),
		Endpoint:        g.URL(),
		InstanceGateway: true,
		STSEndpoint:     srv,
		RAMEndpoint:     srv,
		Credentials:     cred.Provider(),
		RootCAs:         g.roots(),
	}
}

// ClientConfig returns a kmsenvelope.Config for this instance gateway, as
// [Gateway.KMSClientConfig] is: Encrypt, Decrypt, streams and Secret work
// with no management call. Its KMS function sets the gateway's kmsclient
// settings; to adjust more, wrap it rather than replace it:
//
//	cfg := gw.ClientConfig(cred)
//	gatewaySettings := cfg.KMS
//	cfg.KMS = func(c *kmsclient.Config) { gatewaySettings(c); c.MaxAttempts = 1 }
//
// Set ManagementEndpoint to the Server's URL for the key facts, live
// policies and Rewrap's ReEncrypt a gateway does not serve.
func (g *Gateway) ClientConfig(cred Credential) kmsenvelope.Config {
	kc := g.KMSClientConfig(cred)
	return kmsenvelope.Config{
		Region:      kc.Region,
		Endpoint:    kc.Endpoint,
		Credentials: kc.Credentials,
		RootCAs:     kc.RootCAs,
		KMS: func(c *kmsclient.Config) {
			c.InstanceGateway = true
			c.STSEndpoint = kc.STSEndpoint
			c.RAMEndpoint = kc.RAMEndpoint
		},
	}
}
