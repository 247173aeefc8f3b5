package kmsclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxResponseBytes bounds a KMS response body. The largest legitimate
// answers (a 64 KiB secret, base64-encoded, in JSON) are far below it.
const maxResponseBytes = 1 << 20

// errRedirect marks a refused redirect; it is never retried.
var errRedirect = errors.New("kmsclient: redirect refused")

var errResponseTooLarge = fmt.Errorf("%w: response body exceeds %d bytes", ErrMalformedResponse, maxResponseBytes)

func newBaseTransport(roots *x509.CertPool) *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   defaultConnectTimeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots},
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// rootsRouter sends requests for systemHosts through a transport that
// trusts the system roots, and every other request through the one built
// with Config.RootCAs.
type rootsRouter struct {
	custom, system http.RoundTripper
	systemHosts    map[string]bool
	byHost         map[string]http.RoundTripper // host[:port] -> its own roots
}

func (r *rootsRouter) RoundTrip(req *http.Request) (*http.Response, error) {
	if rt, ok := r.byHost[strings.ToLower(req.URL.Host)]; ok {
		return rt.RoundTrip(req)
	}
	if r.systemHosts[strings.ToLower(req.URL.Hostname())] {
		return r.system.RoundTrip(req)
	}
	return r.custom.RoundTrip(req)
}

// attempt records what one HTTP attempt produced, as seen on the wire. The
// SDK's own error values are unreliable (they embed the signed URL, and it
// panics on some malformed bodies), so the client reports from this record.
type attempt struct {
	sent      bool
	status    int
	requestID string
	netErr    error // transport failure, sanitised
	bodyErr   error // the body could not be read or was too large
	apiErr    *wireError
	used      Credentials // what signed the request, for RefreshableCredentials
}

// wireError is an Alibaba error body, decoded leniently.
type wireError struct {
	Code, Message, RequestID, HostID, Recommend string
	AccessDenied                                *AccessDeniedDetail
	notJSON                                     bool
}

// attemptTransport binds one attempt's context to every request the SDK
// sends and records the outcome. It is deliberately not an *http.Transport,
// so the SDK leaves it alone instead of mutating TLS, proxy and dial
// settings on a shared value.
type attemptTransport struct {
	ctx  context.Context
	base http.RoundTripper
	rec  *attempt
}

func (t *attemptTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.rec.sent = true
	resp, err := t.base.RoundTrip(r.WithContext(t.ctx))
	if err != nil {
		t.rec.netErr = sanitizeNetError(err)
		return nil, t.rec.netErr
	}
	t.rec.status = resp.StatusCode
	t.rec.requestID = resp.Header.Get("X-Acs-Request-Id")
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		// KMS never redirects. Following one would send the signed request
		// (with Encrypt's plaintext in the query) to wherever Location
		// points, and the outcome would be misreported; refuse it.
		resp.Body.Close()
		t.rec.netErr = fmt.Errorf("%w: the endpoint answered HTTP %d (a redirect); KMS does not redirect, so the endpoint is wrong or intercepted", errRedirect, resp.StatusCode)
		return nil, t.rec.netErr
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	resp.Body.Close()
	switch {
	case err != nil:
		t.rec.bodyErr = sanitizeNetError(err)
		return nil, t.rec.bodyErr
	case len(body) > maxResponseBytes:
		t.rec.bodyErr = errResponseTooLarge
		return nil, t.rec.bodyErr
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		we := parseWireErrorSent(body, sentFromRequest(r))
		t.rec.apiErr = we
		if we.RequestID == "" {
			we.RequestID = t.rec.requestID
		}
		// Hand the SDK a well-formed body: it type-asserts each field and
		// panics on, say, a numeric Code.
		body = we.normalized()
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// parseWireError decodes an error body without trusting field types.
func parseWireError(body []byte) *wireError { return parseWireErrorSent(body, nil) }

// parseWireErrorSent is parseWireError for an answer to a request that
// sent sent: every field loses the values the request sent (see
// sentValues) before it is bounded, so no quote of them survives in part.
func parseWireErrorSent(body []byte, sent *sentValues) *wireError {
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		return &wireError{notJSON: true}
	}
	scalarString := func(v any) string { return sanitizeLine(sent.redact(rawScalar(v))) }
	we := &wireError{
		Code:      scalarString(raw["Code"]),
		Message:   sanitizeText(sent.redact(rawScalar(raw["Message"]))),
		RequestID: scalarString(raw["RequestId"]),
		HostID:    scalarString(raw["HostId"]),
		Recommend: scalarString(raw["Recommend"]),
	}
	var detail map[string]any
	switch d := raw["AccessDeniedDetail"].(type) {
	case map[string]any:
		detail = d
	case string: // some Alibaba APIs send the detail as a JSON string
		_ = json.Unmarshal([]byte(d), &detail)
	}
	if detail != nil {
		we.AccessDenied = &AccessDeniedDetail{
			Action:                   scalarString(detail["AuthAction"]),
			PrincipalType:            scalarString(detail["AuthPrincipalType"]),
			PrincipalOwnerID:         scalarString(detail["AuthPrincipalOwnerId"]),
			PrincipalDisplayName:     scalarString(detail["AuthPrincipalDisplayName"]),
			PolicyType:               scalarString(detail["PolicyType"]),
			NoPermissionType:         scalarString(detail["NoPermissionType"]),
			EncodedDiagnosticMessage: diagnosticToken(sent.redact(rawScalar(detail["EncodedDiagnosticMessage"]))),
		}
	}
	return we
}

// normalized renders we as the SDK expects: string fields only.
func (we *wireError) normalized() []byte {
	out := map[string]string{
		"Code":      we.Code,
		"Message":   we.Message,
		"RequestId": we.RequestID,
		"HostId":    we.HostID,
		"Recommend": we.Recommend,
	}
	b, _ := json.Marshal(out) // a map of strings always marshals
	return b
}

// rawScalar renders a JSON scalar as a string, unbounded, or "" for any
// other type.
func rawScalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// sanitizeLine bounds an identifier-like field and removes control
// characters; messages get the stronger sanitizeText.
func sanitizeLine(s string) string {
	if len(s) > 200 {
		s = s[:200]
	}
	return string(bytes.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, []byte(s)))
}

// sanitizeNetError strips the request URL, whose query holds the signature,
// access key id and, for Encrypt, the plaintext, from a transport error while
// keeping its behaviour (Timeout, errors.Is on the cause).
func sanitizeNetError(err error) error {
	for {
		var ue *url.Error
		if !errors.As(err, &ue) || ue.Err == nil {
			break
		}
		err = ue.Err
	}
	return &netError{err: err, msg: sanitizeText(err.Error())}
}

// netError is a transport error with a sanitised message.
type netError struct {
	err error
	msg string
}

func (e *netError) Error() string { return e.msg }
func (e *netError) Unwrap() error { return e.err }
func (e *netError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.err, &t) && t.Timeout()
}
