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
}

// clientSeq numbers Clients for CacheIdentity.
var clientSeq atomic.Uint64

// New returns a Client for cfg. It validates cfg and does no I/O.
func New(cfg Config) (*Client, error) {
	cfg, ep, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if !cfg.AllowSDKDebug && sdkDebugEnabled(os.Getenv("DEBUG")) {
		return nil, configError("AllowSDKDebug", "is false but DEBUG contains \"sdk\": the Alibaba SDK would print plaintext, data keys and secret values to stdout; unset DEBUG=sdk")
	}
	c := &Client{cfg: cfg, ep: ep, creds: cfg.Credentials, transport: cfg.Transport}
	c.identity = "kmsclient#" + strconv.FormatUint(clientSeq.Add(1), 10) + " " +
		strings.ToLower(ep.kms.scheme) + "://" + ep.kms.host + " " + cfg.Region
	if c.creds == nil {
		c.creds = DefaultCredentials()
	}
	if c.transport == nil {
		c.transport = newBaseTransport(cfg.RootCAs)
		if cfg.RootCAs != nil {
			// RootCAs is for the KMS endpoint (a dedicated KMS instance, a
			// private CA). The public STS and RAM endpoints, used by default
			// for preflight, keep the system roots.
			c.transport = &rootsRouter{custom: c.transport, system: newBaseTransport(nil),
				systemHosts: map[string]bool{"sts.aliyuncs.com": true, "ram.aliyuncs.com": true}}
		}
	}
	return c, nil
}

func sdkDebugEnabled(env string) bool {
	for _, part := range strings.Split(env, ",") {
		if part == "sdk" {
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

// kms returns a KMS SDK client for this attempt.
func (e *callEnv) kms() (*kms.Client, error) {
	k, err := kms.NewClientWithOptions(e.c.cfg.Region, e.cfg, e.creds)
	if err != nil {
		return nil, err
	}
	k.Domain = e.c.ep.kms.host
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
	start := time.Now()
	var (
		attempts int
		last     *attempt
		lastErr  error
	)
	bo := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(c.cfg.InitialBackoff),
		backoff.WithMaxInterval(c.cfg.MaxBackoff),
		backoff.WithMaxElapsedTime(c.cfg.MaxElapsed),
		backoff.WithMultiplier(2),
		backoff.WithRandomizationFactor(0.5),
	)
	policy := backoff.WithContext(backoff.WithMaxRetries(bo, uint64(c.cfg.MaxAttempts-1)), ctx)

	once := func() error {
		attempts++
		rec := &attempt{}
		last = rec
		err := c.attempt(ctx, op, rec, do)
		if err != nil && dryRun {
			var ae *APIError
			if errors.As(err, &ae) && ae.Code == "DryRunOperationError" {
				err = nil // the call would have succeeded
			}
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
		if c.cfg.Logger != nil {
			c.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "kms call failed, retrying",
				slog.String("operation", op), slog.Int("attempt", attempts),
				slog.Duration("wait", wait), slog.String("error", err.Error()))
		}
	}
	err := backoff.RetryNotify(once, policy, notify)

	// Stamp the attempt count and, on cancellation, keep the last cause.
	var ae *APIError
	var re *RequestError
	switch {
	case err == nil:
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

	if c.cfg.Observer != nil {
		info := CallInfo{Operation: op, Attempts: attempts, Duration: time.Since(start), Err: err}
		if last != nil {
			info.HTTPStatus, info.RequestID = last.status, last.requestID
			if last.apiErr != nil {
				info.Code = last.apiErr.Code
				if last.apiErr.RequestID != "" {
					info.RequestID = last.apiErr.RequestID
				}
			}
		}
		c.cfg.Observer(info)
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
		ae.kind = classify(we.Code, rec.status)
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
