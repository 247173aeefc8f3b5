package testkms

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"sync"
)

// This file decides the request condition keys that describe where a
// request comes from, as KMS's "Policy condition keys" page
// (https://www.alibabacloud.com/help/en/kms/key-management-service/security-and-compliance/condition-key)
// defines them:
//
//   - acs:SourceIp: "The public IP address of the client that sends the
//     request" (the Chinese page: "仅包含公网IP地址", public addresses only);
//   - acs:SourceVpc: "The VPC to which the client that sends the request
//     belongs. This condition key is valid only if the request is sent from
//     an Alibaba Cloud VPC."
//
// The emulator sees the client's address (127.0.0.1 in tests), which is
// never public, so by default neither key is present. Tests say where a
// caller is with [Server.SetRequestFacts] (per access key), and per
// listener with [Server.SetListenerFacts] (the shared endpoint) and
// [GatewayOptions].Facts or [Gateway.SetRequestFacts] (an instance gateway,
// which is reached from a VPC).

// RequestFacts say where requests come from, for the acs:SourceIp and
// acs:SourceVpc condition keys. The zero value says nothing: the client's
// own address is then acs:SourceIp if it is public, and acs:SourceVpc is
// absent.
type RequestFacts struct {
	// SourceIP is the public address KMS sees (acs:SourceIp), e.g.
	// "203.0.113.7". It must be a public unicast address: not loopback,
	// private (RFC 1918, fc00::/7), link-local, shared (100.64.0.0/10, where
	// Alibaba Cloud's own services such as 100.100.100.200 live) or
	// unspecified.
	SourceIP string
	// SourceVPC is the VPC the request comes from (acs:SourceVpc), e.g.
	// "vpc-bp1abc". A request from a VPC carries no public address: when
	// SourceVPC is set and SourceIP is not, acs:SourceIp is absent.
	SourceVPC string
}

var vpcIDPattern = regexp.MustCompile(`^vpc-[a-z0-9]{1,64}$`)

// validate refuses facts KMS could not present.
func (f RequestFacts) validate() error {
	if f.SourceIP != "" {
		a, err := netip.ParseAddr(f.SourceIP)
		if err != nil {
			return fmt.Errorf("testkms: RequestFacts.SourceIP %q is not an IP address", f.SourceIP)
		}
		if !isPublicAddr(a) {
			return fmt.Errorf("testkms: RequestFacts.SourceIP %q is not a public address, and acs:SourceIp holds public addresses only", f.SourceIP)
		}
	}
	if f.SourceVPC != "" && !vpcIDPattern.MatchString(f.SourceVPC) {
		return fmt.Errorf("testkms: RequestFacts.SourceVPC %q is not a VPC id (want e.g. vpc-bp1abc)", f.SourceVPC)
	}
	return nil
}

// sharedAddressSpace is 100.64.0.0/10 (RFC 6598), where Alibaba Cloud's
// internal services live; never a client's public address.
var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")

// isPublicAddr reports whether a is a public unicast address, one KMS could
// present as acs:SourceIp.
func isPublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsValid() && a.IsGlobalUnicast() && !a.IsPrivate() && !sharedAddressSpace.Contains(a)
}

// over returns f with the fields of g that are set.
func (f RequestFacts) over(g RequestFacts) RequestFacts {
	if g.SourceIP != "" {
		f.SourceIP = g.SourceIP
	}
	if g.SourceVPC != "" {
		f.SourceVPC = g.SourceVPC
	}
	return f
}

// requestFacts holds the facts set per access key and the shared
// endpoint's default.
type requestFacts struct {
	mu       sync.Mutex
	byKey    map[string]RequestFacts
	listener RequestFacts
}

// SetRequestFacts sets where the requests signed with accessKeyID come from,
// on every listener: each field that is set overrides the listener's (see
// [Server.SetListenerFacts]); the zero RequestFacts removes the
// credential's facts. It fails for an unknown access key and for facts KMS
// could not present (a SourceIP that is not public, a malformed VPC id).
func (s *Server) SetRequestFacts(accessKeyID string, f RequestFacts) error {
	if err := f.validate(); err != nil {
		return err
	}
	if s.lookupIdentity(accessKeyID) == nil {
		return fmt.Errorf("testkms: SetRequestFacts: access key %q is unknown", accessKeyID)
	}
	s.facts.mu.Lock()
	defer s.facts.mu.Unlock()
	if f == (RequestFacts{}) {
		delete(s.facts.byKey, accessKeyID)
		return nil
	}
	if s.facts.byKey == nil {
		s.facts.byKey = make(map[string]RequestFacts)
	}
	s.facts.byKey[accessKeyID] = f
	return nil
}

// SetListenerFacts sets where requests to the shared endpoint come from when
// their credential says nothing else, e.g. RequestFacts{SourceVPC:
// "vpc-abc"} for a VPC endpoint (kms-vpc.<region>.aliyuncs.com).
func (s *Server) SetListenerFacts(f RequestFacts) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.facts.mu.Lock()
	defer s.facts.mu.Unlock()
	s.facts.listener = f
	return nil
}

// SetRequestFacts sets where requests to this gateway come from when their
// credential says nothing else (see [Server.SetRequestFacts]).
func (g *Gateway) SetRequestFacts(f RequestFacts) error {
	if err := f.validate(); err != nil {
		return err
	}
	g.facts.Store(&f)
	return nil
}

// resetFacts drops every credential's facts and the listeners' defaults
// (a gateway returns to its GatewayOptions.Facts).
func (s *Server) resetFacts() {
	s.facts.mu.Lock()
	s.facts.byKey = nil
	s.facts.listener = RequestFacts{}
	s.facts.mu.Unlock()
	for _, g := range s.gatewayList() {
		f := g.opts.Facts
		g.facts.Store(&f)
	}
}

// sourceKeys adds acs:SourceIp and acs:SourceVpc to ctx as KMS would
// present them for this request: the credential's facts over the
// listener's, and otherwise the client's own address when it is public and
// the request does not come from a VPC.
func (c *call) sourceKeys(ctx map[string]string) {
	var f RequestFacts
	if c.gw != nil {
		if p := c.gw.facts.Load(); p != nil {
			f = *p
		}
	}
	c.s.facts.mu.Lock()
	if c.gw == nil {
		f = c.s.facts.listener
	}
	if c.id != nil {
		f = f.over(c.s.facts.byKey[c.id.cred.AccessKeyID])
	}
	c.s.facts.mu.Unlock()
	if f.SourceIP == "" && f.SourceVPC == "" {
		if host, _, err := net.SplitHostPort(c.r.RemoteAddr); err == nil {
			if a, err := netip.ParseAddr(host); err == nil && isPublicAddr(a) {
				f.SourceIP = a.Unmap().String()
			}
		}
	}
	if f.SourceIP != "" {
		ctx["acs:SourceIp"] = f.SourceIP
	}
	if f.SourceVPC != "" {
		ctx["acs:SourceVpc"] = f.SourceVPC
	}
}
