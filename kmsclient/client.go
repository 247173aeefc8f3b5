package kmsclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"
	"github.com/cenkalti/backoff/v4"
)

// Client calls KMS through the Alibaba Cloud SDK. It is safe for concurrent
// use by many goroutines and holds no per-call state: every attempt builds
// the small SDK client it needs, sharing one HTTP transport, because the
// SDK's client mutates itself on every call.
type Client struct {
	cfg       Config
	ep        endpoints
	creds     CredentialsProvider
	transport http.RoundTripper
	identity  string // see CacheIdentity

	// life tracks the calls in progress and Close; closing is cancelled by
	// Close, and every call's context is bound to it.
	life    lifecycle
	closing context.Context
	cancel  context.CancelCauseFunc
}

// lifecycle counts the calls in progress so that Close can wait for them
// to end before it closes idle connections (a call that ends after that
// would return its connection to the idle pool and keep it open).
type lifecycle struct {
	mu     sync.Mutex // guards closed, active and idle
	closed bool
	active int
	idle   chan struct{} // made by Close; closed when active reaches 0
}

// begin registers a call; it fails once Close has started.
func (l *lifecycle) begin() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.active++
	return true
}

// end unregisters a call begun with begin.
func (l *lifecycle) end() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.active--
	if l.active == 0 && l.idle != nil {
		close(l.idle)
		l.idle = nil
	}
}

// Close makes every later call fail at once with an error for which
// errors.Is(err, [ErrClosed]) holds, without sending a request; cancels the
// calls in progress (they fail the same way); waits for them to return; and
// then closes the idle connections of the HTTP transport, as
// [http.Client.CloseIdleConnections] does (a Config.Transport is asked too,
// if it has that method). Close is idempotent, safe for concurrent use, and
// returns nil. It must not be called from Config.Observer or a
// CredentialsProvider, which run inside a call Close would wait for.
func (c *Client) Close() error {
	c.life.mu.Lock()
	if c.life.closed {
		c.life.mu.Unlock()
		return nil
	}
	c.life.closed = true
	var idle chan struct{}
	if c.life.active > 0 {
		idle = make(chan struct{})
		c.life.idle = idle
	}
	c.life.mu.Unlock()
	c.cancel(ErrClosed)
	if idle != nil {
		<-idle
	}
	closeIdle(c.transport)
	return nil
}

// closeIdle closes the idle connections of rt, and of the transports a
// rootsRouter routes to.
func closeIdle(rt http.RoundTripper) {
	switch t := rt.(type) {
	case *rootsRouter:
		closeIdle(t.custom)
		closeIdle(t.system)
		for _, h := range t.byHost {
			closeIdle(h)
		}
	case interface{ CloseIdleConnections() }:
		t.CloseIdleConnections()
	}
}

// Closed reports whether [Client.Close] has been called.
func (c *Client) Closed() bool {
	c.life.mu.Lock()
	defer c.life.mu.Unlock()
	return c.life.closed
}

// clientSeq numbers Clients for CacheIdentity.
var clientSeq atomic.Uint64

// New returns a Client for cfg. It validates cfg and does no I/O.
func New(cfg Config) (*Client, error) {
	cfg, ep, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if !cfg.AllowSDKDebug && (sdkDebugEnabled(debugAtInit) || sdkDebugEnabled(os.Getenv("DEBUG"))) {
		return nil, configError("AllowSDKDebug", "is false but DEBUG contains \"sdk\" or \"credential\" (now or when the process started, which is when the SDK read it): the Alibaba SDK would print plaintext, data keys and secret values to stdout; start the process without DEBUG=sdk")
	}
	initSDKEndpoints()
	c := &Client{cfg: cfg, ep: ep, creds: cfg.Credentials, transport: cfg.Transport}
	c.closing, c.cancel = context.WithCancelCause(context.Background())
	c.identity = "kmsclient#" + strconv.FormatUint(clientSeq.Add(1), 10) + " " +
		strings.ToLower(ep.kms.scheme) + "://" + ep.kms.host + " " + cfg.Region
	if c.creds == nil {
		c.creds = DefaultCredentials()
	}
	if c.transport == nil {
		c.transport = newBaseTransport(cfg.RootCAs)
		if cfg.RootCAs != nil || cfg.ManagementRootCAs != nil {
			// RootCAs is for the KMS endpoint (a dedicated KMS instance, a
			// private CA). The public STS and RAM endpoints, used by default
			// for preflight, keep the system roots, and a separate management
			// endpoint (the shared gateway) uses ManagementRootCAs or the
			// system roots.
			r := &rootsRouter{custom: c.transport, system: newBaseTransport(nil),
				systemHosts: map[string]bool{"sts.aliyuncs.com": true, "ram.aliyuncs.com": true}}
			if !ep.noMgmt && ep.mgmt.host != ep.kms.host {
				r.byHost = map[string]http.RoundTripper{strings.ToLower(ep.mgmt.host): newBaseTransport(cfg.ManagementRootCAs)}
			}
			c.transport = r
		}
	}
	return c, nil
}

// sdkDebugEnabled reports whether env, a DEBUG value, turns on the debug
// output of the Alibaba SDK ("sdk") or of credentials-go ("credential",
// which prints request headers such as the instance metadata token). Both
// split DEBUG on commas and compare each part exactly.
func sdkDebugEnabled(env string) bool {
	for _, part := range strings.Split(env, ",") {
		if part == "sdk" || part == "credential" {
			return true
		}
	}
	return false
}

// CacheIdentity names the identity whose data keys this client obtains:
// this Client value, with its endpoint and region. Data-key caches key
// their entries by it (envelope.CacheIdentifier), so clients built with
// different credentials (say of two accounts) never share a cached data key
// even when they name the same alias. It is unique to the Client within
// the process: share one Client (it is safe for concurrent use) to share
// cached keys.
func (c *Client) CacheIdentity() string { return c.identity }

// Region returns the region the client calls.
func (c *Client) Region() string { return c.cfg.Region }

// Endpoint returns the host[:port] the client calls.
func (c *Client) Endpoint() string { return c.ep.kms.host }

// InstanceGateway reports whether Endpoint is a KMS 3.0 instance gateway
// (by its host name or Config.InstanceGateway): its calls come from a VPC.
func (c *Client) InstanceGateway() bool {
	return c.cfg.InstanceGateway || isInstanceGateway(c.ep.kms.host)
}

// ManagementEndpoint returns the host[:port] management calls go to, ""
// when there is none (see [Config.ManagementEndpoint]).
func (c *Client) ManagementEndpoint() string {
	if c.ep.noMgmt {
		return ""
	}
	return c.ep.mgmt.host
}

// Secure reports whether KMS calls use HTTPS.
func (c *Client) Secure() bool { return c.ep.kms.scheme == "HTTPS" }

// STSEndpoint returns the host[:port] STS calls go to (see
// [Config.STSEndpoint]).
func (c *Client) STSEndpoint() string { return c.ep.sts.host }

// RAMEndpoint returns the host[:port] RAM calls go to (see
// [Config.RAMEndpoint]).
func (c *Client) RAMEndpoint() string { return c.ep.ram.host }

// callEnv is what one attempt's operation needs to build its SDK client.
type callEnv struct {
	c     *Client
	cfg   *sdk.Config
	creds *signerCredentials
}

// kms returns a KMS SDK client for this attempt, for the crypto endpoint
// or the management endpoint ep.
func (e *callEnv) kms(ep endpoint) (*kms.Client, error) {
	k, err := kms.NewClientWithOptions(e.c.cfg.Region, e.configFor(ep), e.creds)
	if err != nil {
		return nil, err
	}
	k.Domain = ep.host
	e.timeouts(k)
	return k, nil
}

// sts returns an STS SDK client for this attempt.
func (e *callEnv) sts() (*sts.Client, error) {
	s, err := sts.NewClientWithOptions(e.c.cfg.Region, e.configFor(e.c.ep.sts), e.creds)
	if err != nil {
		return nil, err
	}
	s.Domain = e.c.ep.sts.host
	e.timeouts(s)
	return s, nil
}

// ram returns a RAM SDK client for this attempt.
func (e *callEnv) ram() (*ram.Client, error) {
	r, err := ram.NewClientWithOptions(e.c.cfg.Region, e.configFor(e.c.ep.ram), e.creds)
	if err != nil {
		return nil, err
	}
	r.Domain = e.c.ep.ram.host
	e.timeouts(r)
	return r, nil
}

// configFor returns the attempt's SDK config with ep's scheme (the KMS,
// STS and RAM endpoints may differ in scheme). The shallow copy shares the
// attempt transport.
func (e *callEnv) configFor(ep endpoint) *sdk.Config {
	cfg := *e.cfg
	cfg.Scheme = ep.scheme
	return &cfg
}

// timeouts keeps the SDK's own read timeout out of the way: the attempt
// context bounds the call.
func (e *callEnv) timeouts(c interface {
	SetReadTimeout(time.Duration)
	SetConnectTimeout(time.Duration)
}) {
	c.SetReadTimeout(e.c.cfg.AttemptTimeout + time.Second)
	c.SetConnectTimeout(defaultConnectTimeout)
}

// call runs op with retries. op performs one SDK call and returns the SDK's
// error; call ignores the error's text and classifies from the wire record.
func (c *Client) call(ctx context.Context, op string, dryRun bool, do func(env *callEnv) error) error {
	if !c.life.begin() {
		return closedError(op)
	}
	defer c.life.end()
	// Close cancels the call: its context ends with ErrClosed as the cause.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(c.closing, func() { cancel(ErrClosed) })
	defer stop()
	start := time.Now()
	service, host := c.serviceOf(op)
	var trace CallTrace
	if c.cfg.Tracer != nil {
		tctx, t := c.cfg.Tracer.StartCall(ctx, CallStart{Operation: op, Service: service, Region: c.cfg.Region, Endpoint: host, Start: start})
		if t != nil && tctx != nil {
			ctx, trace = tctx, t
		}
	}
	var (
		attempts  int
		last      *attempt
		lastErr   error
		throttled int
		refreshes int          // attempts repeated with refreshed credentials
		pending   *AttemptInfo // reported once we know whether a retry follows
	)
	flush := func(retry bool, wait time.Duration) {
		if pending != nil && trace != nil {
			pending.Retry, pending.Backoff = retry, wait
			trace.Attempt(*pending)
		}
		pending = nil
	}
	refreshable, _ := c.creds.(RefreshableCredentials)
	bo := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(c.cfg.InitialBackoff),
		backoff.WithMaxInterval(c.cfg.MaxBackoff),
		backoff.WithMaxElapsedTime(c.cfg.MaxElapsed),
		backoff.WithMultiplier(2),
		backoff.WithRandomizationFactor(0.5),
	)
	policy := backoff.WithContext(backoff.WithMaxRetries(bo, uint64(c.cfg.MaxAttempts-1)), ctx)

	once := func() error {
		var err error
		for {
			flush(false, 0)
			attempts++
			rec := &attempt{}
			last = rec
			astart := time.Now()
			err = c.attempt(ctx, op, rec, do)
			if err != nil && dryRun {
				var ae *APIError
				if errors.As(err, &ae) && ae.Code == "DryRunOperationError" {
					err = nil // the call would have succeeded
				}
			}
			if isThrottled(err) {
				throttled++
			}
			info := attemptInfo(attempts, astart, rec, err)
			pending = &info
			// Rotated credentials: repeat at once with the provider's new
			// credentials (see RefreshableCredentials).
			if err != nil && refreshable != nil && refreshes < maxCredentialRefreshes && ctx.Err() == nil &&
				errors.Is(err, ErrAuthentication) && rec.used.AccessKeyID != "" &&
				refreshable.Rejected(ctx, rec.used) {
				refreshes++
				pending.CredentialsRefreshed = true
				rec.used = Credentials{}
				continue
			}
			rec.used = Credentials{}
			break
		}
		lastErr = err
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !retryable(err) {
			return backoff.Permanent(err)
		}
		return err
	}
	notify := func(err error, wait time.Duration) {
		flush(true, wait)
		if c.cfg.Logger != nil {
			c.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "kms call failed, retrying",
				slog.String("operation", op), slog.Int("attempt", attempts),
				slog.Duration("wait", wait), slog.String("error", err.Error()))
		}
	}
	err := backoff.RetryNotify(once, policy, notify)
	flush(false, 0)

	// Stamp the attempt count and, on cancellation, keep the last cause.
	var ae *APIError
	var re *RequestError
	switch {
	case err == nil:
	case errors.Is(context.Cause(ctx), ErrClosed):
		err = closedError(op)
	case ctx.Err() != nil:
		var prev error
		if lastErr != nil && !errors.Is(lastErr, ctx.Err()) {
			prev = lastErr
		}
		err = &RequestError{Operation: op, Attempts: attempts, Err: context.Cause(ctx), Last: prev}
	case errors.As(err, &ae):
		ae.Attempts = attempts
	case errors.As(err, &re):
		re.Attempts = attempts
	}

	if c.cfg.Observer != nil || trace != nil {
		info := CallInfo{Operation: op, Service: service, Region: c.cfg.Region, Endpoint: host, Start: start,
			Throttled: throttled, Attempts: attempts, Duration: time.Since(start), Err: err}
		if last != nil {
			info.HTTPStatus, info.RequestID = last.status, last.requestID
			if last.apiErr != nil {
				info.Code = last.apiErr.Code
				if last.apiErr.RequestID != "" {
					info.RequestID = last.apiErr.RequestID
				}
			}
		}
		if trace != nil {
			trace.End(info)
		}
		if c.cfg.Observer != nil {
			c.cfg.Observer(info)
		}
	}
	return err
}

// attempt performs one HTTP attempt and converts its outcome to an error.
func (c *Client) attempt(ctx context.Context, op string, rec *attempt, do func(env *callEnv) error) (err error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.AttemptTimeout)
	defer cancel()
	cfg := sdk.NewConfig().WithAutoRetry(false).WithScheme(c.ep.kms.scheme)
	cfg.Transport = &attemptTransport{ctx: actx, base: c.transport, rec: rec}
	if c.cfg.UserAgent != "" {
		cfg.UserAgent = c.cfg.UserAgent
	}
	creds := &signerCredentials{ctx: actx, p: c.creds}
	start := time.Now()

	sdkErr := func() (perr error) {
		defer func() {
			// The SDK type-asserts response fields; a malformed answer must
			// become an error, never a crash of the caller's process.
			if r := recover(); r != nil {
				perr = fmt.Errorf("%w: the SDK could not parse the answer", ErrMalformedResponse)
			}
		}()
		return do(&callEnv{c: c, cfg: cfg, creds: creds})
	}()
	rec.used = creds.used
	err = c.outcome(op, rec, creds, sdkErr, actx)
	if c.cfg.Logger != nil && c.cfg.Logger.Enabled(ctx, slog.LevelDebug) {
		attrs := []slog.Attr{slog.String("operation", op), slog.Int("status", rec.status),
			slog.String("request_id", rec.requestID), slog.Duration("duration", time.Since(start))}
		if err != nil {
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		c.cfg.Logger.LogAttrs(ctx, slog.LevelDebug, "kms attempt", attrs...)
	}
	return err
}

// outcome classifies one attempt from what was seen on the wire.
func (c *Client) outcome(op string, rec *attempt, creds *signerCredentials, sdkErr error, actx context.Context) error {
	switch {
	case rec.apiErr != nil:
		we := rec.apiErr
		ae := &APIError{
			Operation:    op,
			Code:         we.Code,
			Message:      we.Message,
			RequestID:    we.RequestID,
			HostID:       we.HostID,
			HTTPStatus:   rec.status,
			AccessDenied: we.AccessDenied,
			Attempts:     1,
		}
		if we.notJSON {
			ae.Message = "non-JSON error body"
		}
		ae.kind, ae.also = classifyOp(op, we.Code, rec.status)
		return ae
	case rec.netErr != nil || rec.bodyErr != nil:
		cause := rec.netErr
		if cause == nil {
			cause = rec.bodyErr
		}
		if actx.Err() != nil && !errors.Is(cause, actx.Err()) {
			cause = &netError{err: actx.Err(), msg: "attempt timed out: " + cause.Error()}
		}
		return &RequestError{Operation: op, Attempts: 1, Err: cause}
	case creds.err != nil:
		return fmt.Errorf("kmsclient: %s: %w", op, creds.err)
	case sdkErr == nil:
		return nil
	case errors.Is(sdkErr, ErrMalformedResponse):
		return &RequestError{Operation: op, Attempts: 1, Err: sdkErr}
	case rec.sent && rec.status >= 200 && rec.status <= 299:
		// The SDK rejected a 2xx body (invalid JSON, wrong field types).
		return &RequestError{Operation: op, Attempts: 1, Err: fmt.Errorf("%w: undecodable success body", ErrMalformedResponse)}
	default:
		// The SDK failed before sending (bad region, request build error).
		return fmt.Errorf("kmsclient: %s: %s", op, sanitizeText(sdkErr.Error()))
	}
}

// retryable reports whether an attempt's error is worth another attempt.
func retryable(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Retryable()
	}
	var re *RequestError
	if errors.As(err, &re) {
		// A body we could not understand after a 2xx may mean the call took
		// effect; do not repeat it. A certificate that does not verify will
		// not verify next time either, nor will a redirect go away.
		return !errors.Is(re.Err, ErrMalformedResponse) && !isCertificateError(re.Err) && !errors.Is(re.Err, errRedirect)
	}
	return false
}

func isCertificateError(err error) bool {
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		cerr x509.CertificateInvalidError
	)
	return errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &cerr)
}
