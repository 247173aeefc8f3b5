package kmstest

import (
	"testing"
	"time"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
)

// ECSMetadata is what a fake ECS instance metadata service
// ([StartECSMetadata]) answers under /latest/meta-data/. Empty items answer
// 404, as items an instance does not have.
type ECSMetadata struct {
	InstanceID string // instance-id, e.g. "i-bp1abc"
	RegionID   string // region-id, e.g. "cn-hangzhou"
	ZoneID     string // zone-id
	VPCID      string // vpc-id, e.g. "vpc-bp1abc"
	VSwitchID  string // vswitch-id
	PrivateIP  string // private-ipv4, e.g. "172.16.0.10"

	// RoleName is the instance's RAM role, listed at
	// ram/security-credentials/; ram/security-credentials/<RoleName> serves
	// RoleCredentials (typically from [Server.AssumeRole]) as ECS does.
	RoleName        string
	RoleCredentials Credential
	// RoleExpiration is the credentials' Expiration; six hours from start
	// when zero.
	RoleExpiration time.Time

	// AllowNormalMode also answers reads without a session token (ECS's
	// normal mode). By default only security hardening mode (IMDSv2) is
	// served: a token from PUT /latest/api/token is needed on every read.
	AllowNormalMode bool
	// Now is the clock for token lifetimes; time.Now when nil.
	Now func() time.Time
}

// ECSMetadataServer is a running fake ECS instance metadata service on
// loopback, standing in for http://100.100.100.200. It accepts requests for
// any Host, so a client that insists on that address can use it as its HTTP
// proxy. Its methods are safe for concurrent use.
type ECSMetadataServer struct {
	m *testkms.ECSMetadataServer
}

// StartECSMetadata starts a fake metadata service for the test tb and closes
// it in tb.Cleanup. It fails tb on error.
func StartECSMetadata(tb testing.TB, md ECSMetadata) *ECSMetadataServer {
	tb.Helper()
	m, err := NewECSMetadata(md)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	tb.Cleanup(func() { _ = m.Close() })
	return m
}

// NewECSMetadata starts a fake metadata service outside a test. The caller
// must Close it.
func NewECSMetadata(md ECSMetadata) (*ECSMetadataServer, error) {
	m, err := testkms.NewECSMetadata(testkms.ECSMetadata{
		InstanceID: md.InstanceID, RegionID: md.RegionID, ZoneID: md.ZoneID, VPCID: md.VPCID,
		VSwitchID: md.VSwitchID, PrivateIP: md.PrivateIP, RoleName: md.RoleName,
		RoleCredentials: md.RoleCredentials.internal(), RoleExpiration: md.RoleExpiration,
		AllowNormalMode: md.AllowNormalMode, Now: md.Now,
	})
	if err != nil {
		return nil, wrap(err)
	}
	return &ECSMetadataServer{m: m}, nil
}

// URL returns "http://127.0.0.1:PORT", to use in place of
// http://100.100.100.200 (or as the HTTP proxy of a client that insists on
// that address).
func (m *ECSMetadataServer) URL() string { return m.m.URL() }

// Endpoint returns the service's address, "127.0.0.1:PORT".
func (m *ECSMetadataServer) Endpoint() string { return m.m.Endpoint() }

// Requests returns the requests received so far, as "METHOD /path".
func (m *ECSMetadataServer) Requests() []string { return m.m.Requests() }

// SetFailing makes every request answer 500 while failing is true, as an
// unavailable metadata service.
func (m *ECSMetadataServer) SetFailing(failing bool) { m.m.SetFailing(failing) }

// SetRoleCredentials replaces the role credentials served from now on (a
// rotation), expiring at expiration.
func (m *ECSMetadataServer) SetRoleCredentials(c Credential, expiration time.Time) {
	m.m.SetRoleCredentials(c.internal(), expiration)
}

// Close stops the service. It is idempotent.
func (m *ECSMetadataServer) Close() error { return wrap(m.m.Close()) }
