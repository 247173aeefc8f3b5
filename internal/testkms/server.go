package testkms

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Options configure a Server. The zero value serves plain HTTP in region
// cn-hangzhou with the real clock and a 15-minute timestamp window.
type Options struct {
	// TLS serves HTTPS with a certificate issued by a generated test CA; see
	// [Server.CACertPEM] and [Server.ClientTLSConfig].
	TLS bool
	// Addr is the TCP address to listen on; "127.0.0.1:0", a random
	// loopback port, when empty. The emulator is not hardened: give it an
	// address beyond loopback only on a network you trust.
	Addr string
	// TLSHosts are more names for the server certificate, DNS names or IP
	// addresses, beyond 127.0.0.1, ::1 and localhost: the host of a
	// non-loopback Addr, for instance.
	TLSHosts []string
	// Region is the default region: where the seeding helpers create
	// resources and what requests without RegionId use. "cn-hangzhou" when
	// empty.
	Region string
	// Now is the server clock, used for the timestamp check and for dates in
	// answers. time.Now when nil.
	Now func() time.Time
	// MaxSkew is how far a request Timestamp may be from Now, either way. 15
	// minutes when zero.
	MaxSkew time.Duration
	// Logf, if set, receives one line per request (method, action,
	// principal, status, error code). Parameters are never logged.
	Logf func(format string, args ...any)
	// RequestLog, if set, receives a record of every answered request, on
	// the request's goroutine, after Logf. It carries no parameter value.
	RequestLog func(RequestRecord)
}

// RequestRecord describes one answered request, for logs: who asked for
// what and how the emulator decided. It never carries parameter values
// (plaintext, secret values, tokens, signatures).
type RequestRecord struct {
	Method    string // HTTP method
	Action    string // API action, as the request named it ("" if none)
	Version   string // API version: 2016-01-20 (KMS), 2015-04-01 (STS), 2015-05-01 (RAM)
	Signature string // "1.0" (HMAC-SHA1 RPC), "ACS3-HMAC-SHA256" (V3), or "" when neither was recognisable
	Principal string // the authenticated principal ARN, "" when authentication failed
	Gateway   string // the instance id of the instance gateway that received it, "" for the shared endpoint
	Status    int    // HTTP status of the answer
	Code      string // error code, "" on success
	Decision  Decision
	Duration  time.Duration
}

// Decision is how the emulator answered a request.
type Decision string

// Decisions of a [RequestRecord].
const (
	DecisionAllowed         Decision = "allowed"         // a 2xx answer
	DecisionDenied          Decision = "denied"          // a permission check refused it (403 with AccessDeniedDetail)
	DecisionUnauthenticated Decision = "unauthenticated" // signature, access key, token, time or nonce refused
	DecisionError           Decision = "error"           // any other refusal: parameters, state, unsupported calls, injected faults
)

// DefaultRegion is the region used when Options.Region is empty.
const DefaultRegion = "cn-hangzhou"

const (
	kmsVersion     = "2016-01-20"
	maxBodyBytes   = 1 << 20
	defaultMaxSkew = 15 * time.Minute
)

// Server is a running KMS emulator. All methods are safe for concurrent use.
type Server struct {
	ram     ramPolicies
	region  string
	now     func() time.Time
	maxSkew time.Duration
	logf    func(format string, args ...any)
	reqLog  func(RequestRecord)

	ln       net.Listener
	httpSrv  *http.Server
	served   chan struct{} // closed when Serve returns
	ca       *testCA       // nil unless TLS
	closeErr error
	closed   sync.Once

	// products routes requests by their Version parameter: KMS
	// (2016-01-20), STS (2015-04-01) and RAM (2015-05-01). Immutable after
	// New.
	products map[string]*product

	nonces    nonceCache
	faults    *faultSet
	calls     callCounter // requests to the shared endpoint
	mgmtCalls callCounter // KMS management requests on every listener
	facts     requestFacts
	authz     atomic.Pointer[authorizerBox]
	panics    atomic.Int64 // handler panics recovered, for tests
	inflight  atomic.Int64 // requests being served
	closing   atomic.Bool  // set by Close; silences the request log

	// gwMu guards gateways, the instance gateways started on this server,
	// and gwClosed, set when Close starts.
	gwMu     sync.Mutex
	gateways []*Gateway
	gwClosed bool

	// mu guards the emulated cloud state below and identity.expired.
	mu         sync.Mutex
	accounts   map[string]*account
	identities map[string]*identity // by AccessKeyId
	keyIndex   map[string]*key      // every key by id, across accounts and regions
	seq        uint64               // creation counter for stable listing order
	serviceKey []byte               // material of the default secrets key; immutable
}

// handlerFunc serves one API action. It returns the success body (which must
// carry RequestId) or the error to answer.
type handlerFunc func(*call) (any, *apiError)

// product is one Alibaba Cloud API (code and version) the server answers.
type product struct {
	code    string // host prefix and RAM namespace, e.g. "kms"
	version string
	central bool // one endpoint for all regions (sts.aliyuncs.com), not kms.<region>.aliyuncs.com
	actions map[string]handlerFunc
}

// New starts a Server listening on Options.Addr, by default a random port
// of 127.0.0.1. The caller must Close it.
func New(opts Options) (*Server, error) {
	if opts.Region != "" && !regionPattern.MatchString(opts.Region) {
		return nil, fmt.Errorf("testkms: invalid region %q", opts.Region)
	}
	s := newServer(opts)
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("testkms: listen: %w", err)
	}
	if opts.TLS {
		ca, err := newTestCA("testkms test CA", opts.TLSHosts...)
		if err != nil {
			ln.Close()
			return nil, err
		}
		s.ca = ca
		ln = tls.NewListener(ln, ca.serverConfig())
	}
	s.ln = ln
	s.httpSrv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() {
		defer close(s.served)
		_ = s.httpSrv.Serve(ln)
	}()
	return s, nil
}

// newServer builds the state of a Server without listening.
func newServer(opts Options) *Server {
	s := &Server{
		region:     opts.Region,
		now:        opts.Now,
		maxSkew:    opts.MaxSkew,
		logf:       opts.Logf,
		reqLog:     opts.RequestLog,
		served:     make(chan struct{}),
		faults:     newFaultSet(),
		accounts:   make(map[string]*account),
		identities: make(map[string]*identity),
		keyIndex:   make(map[string]*key),
		serviceKey: make([]byte, 32),
	}
	if s.region == "" {
		s.region = DefaultRegion
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxSkew <= 0 {
		s.maxSkew = defaultMaxSkew
	}
	randomBytes(s.serviceKey)
	s.accountLocked(DefaultAccountID) // no concurrency yet
	s.products = make(map[string]*product)
	s.registerProduct(s.kmsProduct())
	s.registerProduct(s.stsProduct())
	s.registerProduct(s.ramProduct())
	return s
}

// registerProduct routes requests whose Version is p.version to p: every
// product shares authentication, faults, call counting, the error format and
// the Authorizer. Call it only from newServer, before the server is shared.
func (s *Server) registerProduct(p *product) {
	if _, dup := s.products[p.version]; dup {
		panic("testkms: two products with version " + p.version)
	}
	s.products[p.version] = p
}

// Start is New for tests: it fails tb on error and closes the Server in
// tb.Cleanup. At most one Options may be given.
func Start(tb testing.TB, opts ...Options) *Server {
	tb.Helper()
	if len(opts) > 1 {
		tb.Fatalf("testkms: Start takes at most one Options, got %d", len(opts))
	}
	var o Options
	if len(opts) == 1 {
		o = opts[0]
	}
	s, err := New(o)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// Close stops the server and its instance gateways and closes all their
// connections. Requests in flight see their context cancelled. Close is
// idempotent.
func (s *Server) Close() error {
	s.closed.Do(func() {
		s.gwMu.Lock()
		s.gwClosed = true
		gws := s.gateways
		s.gwMu.Unlock()
		for _, g := range gws {
			_ = g.Close()
		}
		if s.httpSrv == nil {
			return
		}
		err := s.httpSrv.Close()
		<-s.served
		// Closing the connections cancels the requests in flight; wait
		// (boundedly) for their handlers so that Logf is not called after
		// Close returns.
		for deadline := time.Now().Add(5 * time.Second); s.inflight.Load() > 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		s.closing.Store(true)
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.closeErr = fmt.Errorf("testkms: close: %w", err)
		}
	})
	return s.closeErr
}

// Endpoint returns "127.0.0.1:PORT" (the listener's address), the value
// for kms.Client.Domain.
func (s *Server) Endpoint() string { return s.ln.Addr().String() }

// Scheme returns "HTTPS" when serving TLS and "HTTP" otherwise, spelled as
// the SDK's Config.WithScheme expects.
func (s *Server) Scheme() string {
	if s.ca != nil {
		return "HTTPS"
	}
	return "HTTP"
}

// URL returns the base URL, e.g. "http://127.0.0.1:PORT".
func (s *Server) URL() string { return strings.ToLower(s.Scheme()) + "://" + s.Endpoint() }

// CACertPEM returns the PEM-encoded test CA certificate that issued the
// server certificate, or nil unless Options.TLS was set.
func (s *Server) CACertPEM() []byte {
	if s.ca == nil {
		return nil
	}
	return append([]byte(nil), s.ca.caPEM...)
}

// ClientTLSConfig returns a client TLS configuration that trusts only the
// test CA, or nil unless Options.TLS was set. Each call returns a new
// *tls.Config that the caller may modify.
func (s *Server) ClientTLSConfig() *tls.Config {
	if s.ca == nil {
		return nil
	}
	return &tls.Config{RootCAs: s.ca.pool, MinVersion: tls.VersionTLS12}
}

// Region returns the default region.
func (s *Server) Region() string { return s.region }

// call is the state of one request.
type call struct {
	s          *Server
	r          *http.Request
	w          http.ResponseWriter // the server's writer, for hijacking
	requestID  string
	now        time.Time
	params     url.Values
	body       []byte // the raw request body, when read
	v3         bool   // signed with signature V3 (ACS3-HMAC-SHA256)
	action     string
	version    string
	region     string
	id         *identity // nil until authenticated
	authFailed bool      // authentication refused the request
	product    *product
	gw         *Gateway // the instance gateway that received the request, nil for the shared endpoint
}

// principal returns the caller's principal ARN once known.
func (c *call) principal() string {
	if c.id == nil {
		return ""
	}
	return c.id.cred.Principal
}

// hostID is the HostId of answers, e.g. "kms.cn-hangzhou.aliyuncs.com" or,
// for a central product, "ram.aliyuncs.com".
func (c *call) hostID() string {
	if c.gw != nil {
		return c.gw.Host()
	}
	code := "kms"
	if c.product != nil {
		code = c.product.code
		if c.product.central {
			return code + ".aliyuncs.com"
		}
	}
	return code + "." + c.region + ".aliyuncs.com"
}

// productName is the product as the troubleshooting URL spells it ("Kms").
func (c *call) productName() string {
	code := "kms"
	if c.product != nil {
		code = c.product.code
	}
	return strings.ToUpper(code[:1]) + code[1:]
}

var regionPattern = regexp.MustCompile(`^[a-z]{2,}(-[a-z0-9]+)+$`)

// ServeHTTP answers one RPC request. Server implements http.Handler so that
// it can also be mounted elsewhere (FaultReset then needs a writer that
// supports hijacking).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.serve(w, r, nil) }

// serve answers one RPC request received by gateway gw (nil for the shared
// endpoint).
func (s *Server) serve(w http.ResponseWriter, r *http.Request, gw *Gateway) {
	s.inflight.Add(1)
	defer s.inflight.Add(-1)
	rw := &recordingWriter{ResponseWriter: w}
	c := &call{s: s, r: r, w: w, requestID: newRequestID(), now: s.now(), region: s.region, gw: gw}
	defer func() {
		if v := recover(); v != nil {
			s.panics.Add(1)
			s.log("testkms: recovered panic in %q: %v", c.action, v)
			if !rw.wrote {
				c.writeError(rw, errInternal())
			}
		}
		if rw.wrote {
			if gw != nil {
				s.log("testkms: gateway %s: %s %q principal=%q status=%d code=%q", gw.instanceID, r.Method, c.action, c.principal(), rw.status, rw.code)
			} else {
				s.log("testkms: %s %q principal=%q status=%d code=%q", r.Method, c.action, c.principal(), rw.status, rw.code)
			}
			s.record(c, rw)
		}
	}()

	c.v3 = isV3(r)
	if err := c.parseParams(rw); err != nil {
		c.writeError(rw, err)
		return
	}
	if c.v3 {
		// Signature V3 names the action and version in headers; query
		// parameters of those names are ordinary (signed) parameters.
		c.action, c.version = r.Header.Get(headerAction), r.Header.Get(headerVersion)
	} else {
		c.action, c.version = c.params.Get("Action"), c.params.Get("Version")
	}
	// Known before authentication so that every answer, rejections
	// included, carries the product's HostId.
	c.product = s.products[c.version]
	if c.action != "" {
		if gw != nil {
			gw.calls.add(c.action)
		} else {
			s.calls.add(c.action)
		}
		if isManagementAction(c.product, c.action) {
			s.mgmtCalls.add(c.action)
		}
	}
	if rid := c.params.Get("RegionId"); rid != "" {
		c.region = rid
	}
	if gw != nil && !gatewayServes(c.product, c.action) {
		c.writeError(rw, errUnsupportedOperation(c.action))
		return
	}

	if !c.networkFaults() {
		return
	}
	authenticate := c.authenticate
	if c.v3 {
		authenticate = c.authenticateV3
	}
	if err := authenticate(); err != nil {
		c.authFailed = true
		c.writeError(rw, err)
		return
	}
	if f, ok := s.faults.take(responseFaults, matchAPI(c.action, c.principal())); ok {
		c.writeFault(rw, f.Kind)
		return
	}
	h, err := c.route()
	if err != nil {
		c.writeError(rw, err)
		return
	}
	resp, err := h(c)
	if err != nil {
		c.writeError(rw, err)
		return
	}
	c.writeJSON(rw, http.StatusOK, resp)
}

// parseParams merges the query string and a form body (the form wins). The
// body is read (at most maxBodyBytes) when it is a form or the request is
// signed with V3, whose signature covers it.
func (c *call) parseParams(w http.ResponseWriter) *apiError {
	q, err := url.ParseQuery(c.r.URL.RawQuery)
	if err != nil {
		return newError(http.StatusBadRequest, codeInvalidParameter, "The request query string is malformed.")
	}
	isForm := strings.HasPrefix(strings.ToLower(c.r.Header.Get("Content-Type")), "application/x-www-form-urlencoded")
	if c.r.Body != nil && (isForm || c.v3) {
		body, err := io.ReadAll(http.MaxBytesReader(w, c.r.Body, maxBodyBytes))
		if err != nil {
			return newError(http.StatusBadRequest, codeInvalidParameter, "The request body is unreadable or too large.")
		}
		c.body = body
		if !isForm {
			c.params = q
			return nil
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return newError(http.StatusBadRequest, codeInvalidParameter, "The request body is malformed.")
		}
		for k, v := range form {
			q[k] = v
		}
	}
	c.params = q
	return nil
}

// networkFaults applies FaultLatency and FaultReset. It reports whether the
// request should go on.
func (c *call) networkFaults() bool {
	principal := ""
	if id := c.s.lookupIdentity(c.claimedAccessKeyID()); id != nil {
		principal = id.cred.Principal // unverified; only for fault matching
	}
	match := matchAPI(c.action, principal)
	if f, ok := c.s.faults.take([]FaultKind{FaultLatency}, match); ok {
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-c.r.Context().Done():
			t.Stop()
			return false
		}
	}
	if _, ok := c.s.faults.take([]FaultKind{FaultReset}, match); ok {
		resetConnection(c.w)
		return false
	}
	return true
}

// claimedAccessKeyID is the access key id the request names, before its
// signature is checked: the AccessKeyId parameter, or V3's Credential.
func (c *call) claimedAccessKeyID() string {
	if !c.v3 {
		return c.params.Get("AccessKeyId")
	}
	a, err := parseV3Authorization(c.r.Header.Values(headerAuthorization))
	if err != nil {
		return ""
	}
	return a.accessKeyID
}

func (s *Server) lookupIdentity(accessKeyID string) *identity {
	if accessKeyID == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.identities[accessKeyID]
}

// resetConnection aborts the client connection with a TCP RST.
func resetConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("testkms: FaultReset needs an http.Hijacker")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = raw.Close()
}

// route finds the handler for the request's Version and Action.
func (c *call) route() (handlerFunc, *apiError) {
	v := c.version
	p := c.product
	if p == nil {
		return nil, newError(http.StatusBadRequest, codeInvalidVersion,
			"Specified parameter Version %q is not valid; this server implements KMS %s, STS %s and RAM %s.",
			v, kmsVersion, stsVersion, ramVersion)
	}
	h, ok := p.actions[c.action]
	if !ok {
		return nil, newError(http.StatusBadRequest, codeInvalidAction,
			"Specified api %q is not found for %s version %s.", c.action, strings.ToUpper(p.code), p.version)
	}
	if !regionPattern.MatchString(c.region) || len(c.region) > 64 {
		return nil, errInvalidParam("RegionId", "not a region id")
	}
	return h, nil
}

// writeJSON writes a JSON answer.
func (c *call) writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body, _ = json.Marshal(c.errorBody(errInternal()))
	}
	c.writeRaw(w, status, "application/json;charset=utf-8", body)
}

func (c *call) writeRaw(w http.ResponseWriter, status int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Acs-Request-Id", c.requestID)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (c *call) errorBody(e *apiError) errorBody {
	return errorBody{
		RequestID:          c.requestID,
		HostID:             c.hostID(),
		Code:               e.code,
		Message:            e.message,
		Recommend:          "https://api.aliyun.com/troubleshoot?q=" + url.QueryEscape(e.code) + "&product=" + c.productName() + "&requestId=" + c.requestID,
		AccessDeniedDetail: e.detail,
	}
}

// writeError writes e in Alibaba's error format.
func (c *call) writeError(w http.ResponseWriter, e *apiError) {
	if rw, ok := w.(*recordingWriter); ok {
		rw.code = e.code
		rw.denied = e.detail != nil
	}
	c.writeJSON(w, e.status, c.errorBody(e))
}

// writeFault writes the answer of a response fault.
func (c *call) writeFault(w http.ResponseWriter, k FaultKind) {
	if rw, ok := w.(*recordingWriter); ok {
		rw.code = "fault:" + k.String()
	}
	switch k {
	case FaultThrottle:
		c.writeError(w, errThrottled())
	case FaultInternal:
		c.writeError(w, errInternal())
	case FaultUnavailable:
		c.writeError(w, errUnavailable())
	case FaultMalformedHTML:
		c.writeRaw(w, http.StatusInternalServerError, "text/html",
			[]byte("<html><head><title>502 Bad Gateway</title></head><body>bad gateway</body></html>"))
	case FaultMalformedJSON200:
		c.writeRaw(w, http.StatusOK, "application/json;charset=utf-8",
			[]byte(`{"RequestId":"`+c.requestID+`","KeyId":"key-`))
	case FaultBadCodeType:
		c.writeRaw(w, http.StatusBadRequest, "application/json;charset=utf-8",
			[]byte(`{"RequestId":"`+c.requestID+`","HostId":"`+c.hostID()+`","Code":400,"Message":"malformed error injected by testkms"}`))
	}
}

// recordingWriter remembers the status and error code for the request log.
type recordingWriter struct {
	http.ResponseWriter
	wrote  bool
	status int
	code   string
	denied bool // the answer is a permission denial
}

func (w *recordingWriter) WriteHeader(status int) {
	if !w.wrote {
		w.wrote, w.status = true, status
	}
	w.ResponseWriter.WriteHeader(status)
}

// record hands the RequestRecord of an answered request to
// Options.RequestLog.
func (s *Server) record(c *call, rw *recordingWriter) {
	if s.reqLog == nil || s.closing.Load() {
		return
	}
	rec := RequestRecord{
		Method:    c.r.Method,
		Action:    truncate(c.action, 128),
		Version:   truncate(c.version, 32),
		Principal: c.principal(),
		Status:    rw.status,
		Code:      rw.code,
		Duration:  s.now().Sub(c.now),
	}
	switch {
	case c.v3:
		rec.Signature = algorithmACS3HMACSHA256
	case c.params.Get("SignatureVersion") == "1.0":
		rec.Signature = "1.0"
	}
	if c.gw != nil {
		rec.Gateway = c.gw.instanceID
	}
	switch {
	case rw.status >= 200 && rw.status < 300:
		rec.Decision = DecisionAllowed
	case rw.denied:
		rec.Decision = DecisionDenied
	case c.authFailed:
		rec.Decision = DecisionUnauthenticated
	default:
		rec.Decision = DecisionError
	}
	s.reqLog(rec)
}

func (s *Server) log(format string, args ...any) {
	if s.logf != nil && !s.closing.Load() {
		s.logf(format, args...)
	}
}

// newRequestID returns an id shaped like Alibaba's (upper-case UUID).
func newRequestID() string { return strings.ToUpper(newUUID()) }

// okResponse is the answer of calls that return nothing but a RequestId.
type okResponse struct {
	RequestID string `json:"RequestId"`
}
