package kmsclient

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Config configures a [Client]. The zero value of every field except Region
// is a safe default; a Config must not be modified after it is passed to
// [New] (New copies it, so later changes have no effect).
type Config struct {
	// Region is the KMS region, e.g. "cn-hangzhou". Required.
	Region string

	// Endpoint is where KMS calls go. Either a host with an optional port
	// ("kms.cn-hangzhou.aliyuncs.com", "kst-hzz6….cryptoservice.kms.aliyuncs.com:443")
	// or a URL whose scheme selects HTTP or HTTPS ("http://127.0.0.1:8080").
	// Empty means the public regional endpoint "kms.<Region>.aliyuncs.com".
	Endpoint string

	// STSEndpoint and RAMEndpoint are where STS (GetCallerIdentity) and RAM
	// (policy listing) calls go, as a host[:port] or a URL, with the same
	// rules as Endpoint (Scheme applies to a bare host). Empty means the
	// public central endpoints "sts.aliyuncs.com" and "ram.aliyuncs.com"
	// over HTTPS, except when Endpoint is a loopback address (the test
	// emulator, which also serves STS and RAM): then they default to
	// Endpoint itself, so tests and offline demos need set nothing.
	STSEndpoint, RAMEndpoint string

	// ManagementEndpoint is where KMS management calls go (DescribeKey,
	// DescribeSecret, GetKeyPolicy, GetSecretPolicy, ListAliasesByKeyId) and
	// ReEncrypt: the shared gateway, "kms.<region>.aliyuncs.com" or
	// "kms-vpc.<region>.aliyuncs.com", as a host[:port] or URL with
	// Endpoint's rules. A KMS 3.0 instance (dedicated) gateway,
	// "<instance-id>.cryptoservice.kms.aliyuncs.com", serves the crypto
	// calls and GetSecretValue but none of these (Alibaba's "Classic KMS
	// SDK" guide), so with Endpoint an instance gateway the crypto calls go
	// there and management calls here. Empty means Endpoint itself, unless
	// Endpoint is an instance gateway (by its host name, or InstanceGateway):
	// then there is no management endpoint, and management calls and
	// ReEncrypt fail at once, sending nothing, with an error matching
	// ErrUnsupportedOperation. Encrypt, Decrypt, data keys and secrets need
	// none of them.
	ManagementEndpoint string
	// ManagementRootCAs verifies the management endpoint's certificate when
	// it is not Endpoint; nil means the system roots (the shared gateway's
	// certificate is public). RootCAs stays for Endpoint.
	ManagementRootCAs *x509.CertPool
	// InstanceGateway says Endpoint is a KMS instance gateway whatever its
	// host name (for a gateway reached through a private DNS name or, in
	// tests, the emulator's instance-gateway listener).
	InstanceGateway bool

	// Scheme is "https" (the default when empty) or "http". A scheme in
	// Endpoint takes precedence. Plain HTTP is refused for any host other
	// than a loopback address unless AllowInsecureHTTP is set, because KMS
	// requests carry plaintext and data keys.
	Scheme string

	// AllowInsecureHTTP permits plain HTTP to non-loopback hosts. Do not
	// set it in production.
	AllowInsecureHTTP bool

	// Credentials signs requests. Nil means [DefaultCredentials], the
	// default chain: ALIBABA_CLOUD_* environment variables, OIDC (RRSA), the
	// CLI profile, the credentials file, the ECS RAM role and the
	// credentials URI, in that order, walked again after a failure.
	Credentials CredentialsProvider

	// RootCAs, when non-nil, replaces the system roots for verifying the
	// endpoint's TLS certificate (a KMS instance endpoint has a private CA).
	// Use [CertPoolFromPEM] to build one from a CA bundle.
	RootCAs *x509.CertPool

	// Transport is the base HTTP transport. Nil means a dedicated
	// *http.Transport with TLS 1.2+, the proxy from the standard environment
	// variables (with Go's loopback exemption) and a 5s connect timeout.
	// The client never mutates it; RootCAs is ignored when Transport is set.
	Transport http.RoundTripper

	// MaxAttempts bounds the attempts per call, the first included.
	// Zero means 4; 1 disables retries.
	MaxAttempts int

	// MaxElapsed bounds the total time spent retrying one call (the caller's
	// context still applies). Zero means 30s.
	MaxElapsed time.Duration

	// InitialBackoff is the first retry delay before jitter; later delays
	// double up to MaxBackoff. Zero means 100ms and 5s.
	InitialBackoff, MaxBackoff time.Duration

	// AttemptTimeout bounds one HTTP attempt. Zero means 10s.
	AttemptTimeout time.Duration

	// Logger receives one debug record per attempt and a warning per retry,
	// with operation, code, status, request id and timing only. Nil
	// disables logging.
	Logger *slog.Logger

	// Observer, when non-nil, is called once per completed call (after the
	// last attempt) with what happened. It must be safe for concurrent use
	// and return quickly.
	Observer func(CallInfo)

	// Tracer, when non-nil, is told of every call before it starts, with the
	// caller's context, of each attempt, and of the end (see [CallTracer]);
	// package otelkms turns that into OpenTelemetry spans and metrics.
	// Observer is still called as well.
	Tracer CallTracer

	// UserAgent is appended to the SDK's User-Agent header.
	UserAgent string

	// AllowSDKDebug permits running while the environment variable DEBUG
	// contains "sdk" or "credential", now or when the process started (the
	// SDK and credentials-go read it once, at initialisation). The Alibaba
	// SDK then prints every request URL (including Encrypt plaintext) and
	// response body (including data keys and secret values) to stdout, and
	// credentials-go its request headers, so New refuses by default.
	AllowSDKDebug bool
}

// CallInfo describes one completed client call for [Config.Observer] and
// [CallTrace.End].
type CallInfo struct {
	Operation  string        // API name, e.g. "GenerateDataKey"
	Service    string        // ServiceKMS, ServiceSTS or ServiceRAM
	Region     string        // the client's region
	Endpoint   string        // host[:port] the call went to
	Start      time.Time     // when the call started
	Throttled  int           // attempts answered with a throttling error
	Attempts   int           // HTTP attempts made, 1 when not retried
	Duration   time.Duration // wall time of the whole call, retries included
	Code       string        // error code of the last attempt, "" on success
	HTTPStatus int           // HTTP status of the last attempt, 0 if none
	RequestID  string        // request id of the last attempt, if any
	Err        error         // the error returned to the caller, nil on success
}

const (
	defaultMaxAttempts    = 4
	defaultMaxElapsed     = 30 * time.Second
	defaultInitialBackoff = 100 * time.Millisecond
	defaultMaxBackoff     = 5 * time.Second
	defaultAttemptTimeout = 10 * time.Second
	defaultConnectTimeout = 5 * time.Second
)

var regionPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// endpoints holds the resolved destinations of KMS, STS and RAM calls.
type endpoints struct {
	kms, mgmt, sts, ram endpoint
	noMgmt              bool // no management endpoint (an instance gateway alone)
}

// isInstanceGateway reports whether host is a KMS 3.0 instance gateway,
// "<instance-id>.cryptoservice.kms.aliyuncs.com[:port]".
func isInstanceGateway(host string) bool {
	h := strings.ToLower(host)
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	return strings.HasSuffix(h, ".cryptoservice.kms.aliyuncs.com")
}

// managementOps are the KMS operations an instance gateway does not serve;
// they go to the management endpoint.
var managementOps = map[string]bool{
	"DescribeKey": true, "DescribeSecret": true, "GetKeyPolicy": true, "GetSecretPolicy": true,
	"ListAliasesByKeyId": true, "ReEncrypt": true,
}

// endpoint is the resolved destination of one product's calls.
type endpoint struct {
	scheme string // "HTTPS" or "HTTP" (the SDK's spelling)
	host   string // host[:port]
}

// withDefaults returns a copy of c with zero fields defaulted, or an error
// naming the invalid field.
func (c Config) withDefaults() (Config, endpoints, error) {
	var ep endpoints
	if c.Region == "" {
		return c, ep, configError("Region", "is required")
	}
	if !regionPattern.MatchString(c.Region) {
		return c, ep, configError("Region", fmt.Sprintf("%q is not a region id (want e.g. cn-hangzhou)", c.Region))
	}
	var err error
	if ep.kms, err = resolveEndpoint(c, "Endpoint", c.Endpoint, "kms."+c.Region+".aliyuncs.com"); err != nil {
		return c, ep, err
	}
	switch {
	case c.ManagementEndpoint != "":
		if ep.mgmt, err = resolveEndpoint(c, "ManagementEndpoint", c.ManagementEndpoint, ""); err != nil {
			return c, ep, err
		}
	case c.InstanceGateway || isInstanceGateway(ep.kms.host):
		ep.noMgmt = true
	default:
		ep.mgmt = ep.kms
	}
	// On loopback (the emulator) STS and RAM default to the shared
	// endpoint: the management endpoint when there is one, since an
	// instance gateway serves neither.
	central := ep.kms
	if !ep.noMgmt {
		central = ep.mgmt
	}
	if ep.sts, err = resolveCentralEndpoint(c, central, "STSEndpoint", c.STSEndpoint, "sts.aliyuncs.com"); err != nil {
		return c, ep, err
	}
	if ep.ram, err = resolveCentralEndpoint(c, central, "RAMEndpoint", c.RAMEndpoint, "ram.aliyuncs.com"); err != nil {
		return c, ep, err
	}
	switch {
	case c.MaxAttempts < 0:
		return c, ep, configError("MaxAttempts", "must not be negative")
	case c.MaxAttempts == 0:
		c.MaxAttempts = defaultMaxAttempts
	}
	if c.MaxElapsed < 0 || c.InitialBackoff < 0 || c.MaxBackoff < 0 || c.AttemptTimeout < 0 {
		return c, ep, configError("MaxElapsed/InitialBackoff/MaxBackoff/AttemptTimeout", "must not be negative")
	}
	if c.MaxElapsed == 0 {
		c.MaxElapsed = defaultMaxElapsed
	}
	if c.InitialBackoff == 0 {
		c.InitialBackoff = defaultInitialBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = defaultMaxBackoff
	}
	if c.MaxBackoff < c.InitialBackoff {
		c.MaxBackoff = c.InitialBackoff
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = defaultAttemptTimeout
	}
	if strings.ContainsAny(c.UserAgent, "\r\n") {
		return c, ep, configError("UserAgent", "must not contain line breaks")
	}
	return c, ep, nil
}

// resolveCentralEndpoint resolves STSEndpoint or RAMEndpoint (named field):
// raw if set, else the KMS endpoint when that is a loopback address (the
// emulator), else defaultHost over HTTPS.
func resolveCentralEndpoint(c Config, kms endpoint, field, raw, defaultHost string) (endpoint, error) {
	switch {
	case raw != "":
		return resolveEndpoint(c, field, raw, defaultHost)
	case isLoopback(kms.host):
		return kms, nil
	default:
		return endpoint{scheme: "HTTPS", host: defaultHost}, nil
	}
}

// resolveEndpoint resolves the endpoint raw of config field field, a host
// or a URL; empty means defaultHost.
func resolveEndpoint(c Config, field, raw, defaultHost string) (endpoint, error) {
	scheme := strings.ToLower(c.Scheme)
	host := raw
	// Scheme errors name Scheme for KMS (whose scheme Scheme sets) and the
	// endpoint field for STS and RAM.
	schemeField := "Scheme"
	if field != "Endpoint" {
		schemeField = field
	}
	if strings.Contains(host, "://") {
		u, err := url.Parse(host)
		if err != nil {
			return endpoint{}, configError(field, "is not a valid URL")
		}
		if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
			return endpoint{}, configError(field, "must be a scheme and host[:port] only, without path, query or user info")
		}
		scheme, host = strings.ToLower(u.Scheme), u.Host
	}
	if host == "" {
		host = defaultHost
	}
	if strings.ContainsAny(host, "/?#@ \t\r\n") {
		return endpoint{}, configError(field, fmt.Sprintf("%q is not a host[:port]", host))
	}
	switch scheme {
	case "", "https":
		return endpoint{scheme: "HTTPS", host: host}, nil
	case "http":
		if !c.AllowInsecureHTTP && !isLoopback(host) {
			return endpoint{}, configError(schemeField, "plain HTTP to a non-loopback host sends plaintext and keys in the clear; set AllowInsecureHTTP to insist")
		}
		return endpoint{scheme: "HTTP", host: host}, nil
	default:
		return endpoint{}, configError(schemeField, fmt.Sprintf("%q is neither https nor http", scheme))
	}
}

func isLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// ConfigError reports an invalid [Config] field. It unwraps to
// [ErrInvalidConfig].
type ConfigError struct {
	Field  string // the Config field, e.g. "Region"
	Reason string // what is wrong with it
}

func (e *ConfigError) Error() string {
	return "kmsclient: invalid config: " + e.Field + " " + e.Reason
}

// Unwrap returns [ErrInvalidConfig].
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

func configError(field, reason string) error { return &ConfigError{Field: field, Reason: reason} }

// CertPoolFromPEM returns a pool holding the certificates in pemCerts, for
// [Config.RootCAs]. It fails if pemCerts holds no certificate.
func CertPoolFromPEM(pemCerts []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemCerts) {
		return nil, errors.New("kmsclient: no PEM certificate found in CA bundle")
	}
	return pool, nil
}
