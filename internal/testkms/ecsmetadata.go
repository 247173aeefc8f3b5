package testkms

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// This file fakes the ECS instance metadata service (http://100.100.100.200)
// for tests of code that learns its VPC, private address or RAM role
// credentials there. It follows Alibaba's "Instance metadata" page
// (help/en/ecs/user-guide/view-instance-metadata): in security hardening
// mode (IMDSv2) a client first gets a token with
//
//	PUT /latest/api/token
//	X-aliyun-ecs-metadata-token-ttl-seconds: <1..21600>
//
// and sends it on every read as X-aliyun-ecs-metadata-token; normal mode
// also answers reads without a token.

// ECSMetadata is what the fake metadata service answers. Empty items answer
// 404, as items an instance does not have.
type ECSMetadata struct {
	InstanceID string // /latest/meta-data/instance-id, e.g. "i-bp1abc"
	RegionID   string // /latest/meta-data/region-id
	ZoneID     string // /latest/meta-data/zone-id
	VPCID      string // /latest/meta-data/vpc-id, e.g. "vpc-bp1abc"
	VSwitchID  string // /latest/meta-data/vswitch-id
	PrivateIP  string // /latest/meta-data/private-ipv4, e.g. "172.16.0.10"

	// RoleName is the instance's RAM role: listed at
	// /latest/meta-data/ram/security-credentials/, whose
	// /latest/meta-data/ram/security-credentials/<RoleName> serves
	// RoleCredentials (typically from [Server.AssumeRole]) as ECS does:
	// {"Code":"Success","AccessKeyId":...,"AccessKeySecret":...,
	// "SecurityToken":...,"Expiration":...,"LastUpdated":...}.
	RoleName        string
	RoleCredentials Credential
	// RoleExpiration is the credentials' Expiration; six hours from start
	// when zero.
	RoleExpiration time.Time

	// AllowNormalMode also answers reads without a token (ECS's normal
	// mode). By default only security hardening mode is served: a read
	// without a valid token answers 403 (the status is an emulator choice;
	// Alibaba's page does not give it).
	AllowNormalMode bool
	// Now is the clock for token lifetimes; time.Now when nil.
	Now func() time.Time
}

// ECSMetadataServer is a running fake ECS instance metadata service on
// loopback. It accepts requests for any Host, so that clients that dial
// 100.100.100.200 through it as an HTTP proxy (absolute-form requests) work
// as well as clients given its URL. All methods are safe for concurrent use.
type ECSMetadataServer struct {
	ln      net.Listener
	httpSrv *http.Server
	served  chan struct{}
	closed  sync.Once

	mu       sync.Mutex
	md       ECSMetadata
	tokens   map[string]time.Time // token -> expiry
	requests []string             // "METHOD /path"
	failing  bool
}

// Token lifetimes ECS accepts, in seconds.
const (
	minMetadataTokenTTL = 1
	maxMetadataTokenTTL = 21600
)

// Header names of security hardening mode. Go canonicalises them on the
// wire; they compare case-insensitively.
const (
	metadataTokenTTLHeader = "X-aliyun-ecs-metadata-token-ttl-seconds"
	metadataTokenHeader    = "X-aliyun-ecs-metadata-token"
)

// NewECSMetadata starts a fake metadata service on a random port of
// 127.0.0.1. The caller must Close it.
func NewECSMetadata(md ECSMetadata) (*ECSMetadataServer, error) {
	if md.PrivateIP != "" {
		if _, err := netip.ParseAddr(md.PrivateIP); err != nil {
			return nil, fmt.Errorf("testkms: ECSMetadata.PrivateIP %q is not an IP address", md.PrivateIP)
		}
	}
	if md.VPCID != "" && !vpcIDPattern.MatchString(md.VPCID) {
		return nil, fmt.Errorf("testkms: ECSMetadata.VPCID %q is not a VPC id (want e.g. vpc-bp1abc)", md.VPCID)
	}
	if strings.ContainsAny(md.RoleName, "/?# ") {
		return nil, fmt.Errorf("testkms: ECSMetadata.RoleName %q is not a role name", md.RoleName)
	}
	if md.Now == nil {
		md.Now = time.Now
	}
	if md.RoleExpiration.IsZero() {
		md.RoleExpiration = md.Now().Add(6 * time.Hour)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("testkms: metadata listen: %w", err)
	}
	m := &ECSMetadataServer{ln: ln, md: md, served: make(chan struct{}), tokens: map[string]time.Time{}}
	m.httpSrv = &http.Server{
		Handler:           http.HandlerFunc(m.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() {
		defer close(m.served)
		_ = m.httpSrv.Serve(ln)
	}()
	return m, nil
}

// StartECSMetadata is NewECSMetadata for tests: it fails tb on error and
// closes the service in tb.Cleanup.
func StartECSMetadata(tb testing.TB, md ECSMetadata) *ECSMetadataServer {
	tb.Helper()
	m, err := NewECSMetadata(md)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	tb.Cleanup(func() { _ = m.Close() })
	return m
}

// Close stops the service. It is idempotent.
func (m *ECSMetadataServer) Close() error {
	var err error
	m.closed.Do(func() {
		err = m.httpSrv.Close()
		<-m.served
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	})
	return err
}

// URL returns "http://127.0.0.1:PORT", to use in place of
// http://100.100.100.200 (or as the HTTP proxy of a client that insists on
// that address).
func (m *ECSMetadataServer) URL() string { return "http://" + m.ln.Addr().String() }

// Endpoint returns "127.0.0.1:PORT".
func (m *ECSMetadataServer) Endpoint() string { return m.ln.Addr().String() }

// Requests returns the requests received so far, as "METHOD /path".
func (m *ECSMetadataServer) Requests() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.requests...)
}

// SetRoleCredentials replaces the role credentials served from now on (a
// rotation), expiring at expiration.
func (m *ECSMetadataServer) SetRoleCredentials(c Credential, expiration time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.md.RoleCredentials, m.md.RoleExpiration = c, expiration
}

// SetFailing makes every request answer 500 while failing is true (the
// service unavailable).
func (m *ECSMetadataServer) SetFailing(failing bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failing = failing
}

func (m *ECSMetadataServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests = append(m.requests, r.Method+" "+r.URL.Path)
	w.Header().Set("Cache-Control", "no-store")
	if m.failing {
		http.Error(w, "metadata service unavailable (injected by testkms)", http.StatusInternalServerError)
		return
	}
	now := m.md.Now()
	if r.URL.Path == "/latest/api/token" {
		m.issueToken(w, r, now)
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if tok := r.Header.Get(metadataTokenHeader); tok != "" || !m.md.AllowNormalMode {
		if !m.validTokenLocked(tok, now) {
			http.Error(w, "a valid "+metadataTokenHeader+" is required", http.StatusForbidden)
			return
		}
	}
	body, ct, ok := m.itemLocked(r.URL.Path, now)
	if !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", ct)
	_, _ = io.WriteString(w, body)
}

// issueToken answers PUT /latest/api/token. Call with m.mu held.
func (m *ECSMetadataServer) issueToken(w http.ResponseWriter, r *http.Request, now time.Time) {
	if r.Method != http.MethodPut {
		http.Error(w, "the token is issued by PUT", http.StatusMethodNotAllowed)
		return
	}
	raw := r.Header.Get(metadataTokenTTLHeader)
	ttl, err := strconv.Atoi(raw)
	if err != nil || ttl < minMetadataTokenTTL || ttl > maxMetadataTokenTTL {
		http.Error(w, metadataTokenTTLHeader+" must be an integer from 1 to 21600", http.StatusBadRequest)
		return
	}
	for t, exp := range m.tokens { // bounded by the tokens alive, tests issue few
		if !now.Before(exp) {
			delete(m.tokens, t)
		}
	}
	tok := "ecs-token-" + randomAlnum(40)
	m.tokens[tok] = now.Add(time.Duration(ttl) * time.Second)
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set(metadataTokenTTLHeader, strconv.Itoa(ttl))
	_, _ = io.WriteString(w, tok)
}

// validTokenLocked reports whether tok was issued and has not expired.
func (m *ECSMetadataServer) validTokenLocked(tok string, now time.Time) bool {
	if tok == "" {
		return false
	}
	for t, exp := range m.tokens {
		if subtle.ConstantTimeCompare([]byte(t), []byte(tok)) == 1 {
			return now.Before(exp)
		}
	}
	return false
}

// itemLocked returns the body and content type of a metadata item.
func (m *ECSMetadataServer) itemLocked(path string, now time.Time) (string, string, bool) {
	md := m.md
	items := map[string]string{
		"instance-id": md.InstanceID, "region-id": md.RegionID, "zone-id": md.ZoneID,
		"vpc-id": md.VPCID, "vswitch-id": md.VSwitchID, "private-ipv4": md.PrivateIP,
	}
	rest, ok := strings.CutPrefix(path, "/latest/meta-data/")
	if !ok {
		return "", "", false
	}
	switch {
	case rest == "":
		var names []string
		for _, n := range []string{"instance-id", "private-ipv4", "region-id", "vpc-id", "vswitch-id", "zone-id"} {
			if items[n] != "" {
				names = append(names, n)
			}
		}
		if md.RoleName != "" {
			names = append(names, "ram/")
		}
		return strings.Join(names, "\n"), "text/plain", true
	case rest == "ram/security-credentials/" || rest == "ram/security-credentials":
		if md.RoleName == "" {
			return "", "", false
		}
		return md.RoleName, "text/plain", true
	case strings.HasPrefix(rest, "ram/security-credentials/"):
		role := strings.TrimPrefix(rest, "ram/security-credentials/")
		if md.RoleName == "" || role != md.RoleName || md.RoleCredentials.AccessKeyID == "" {
			return "", "", false
		}
		body, _ := json.Marshal(map[string]string{
			"Code":            "Success",
			"AccessKeyId":     md.RoleCredentials.AccessKeyID,
			"AccessKeySecret": md.RoleCredentials.AccessKeySecret,
			"SecurityToken":   md.RoleCredentials.SecurityToken,
			"Expiration":      md.RoleExpiration.UTC().Format(timestampLayout),
			"LastUpdated":     now.UTC().Format(timestampLayout),
		})
		return string(body), "application/json", true
	}
	v := items[rest]
	return v, "text/plain", v != ""
}
