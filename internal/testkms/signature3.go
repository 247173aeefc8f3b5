package testkms

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// Signature V3 (ACS3-HMAC-SHA256), as Alibaba Cloud's "Request syntax and
// signature method V3" describes it
// (https://www.alibabacloud.com/help/en/sdk/product-overview/v3-request-structure-and-signature)
// and as the Darabonba SDKs compute it (darabonba-openapi's DoRequest with
// GetAuthorization in the Go V2 SDK, @alicloud/openapi-client in Node):
//
//	CanonicalRequest = METHOD + "\n" + CanonicalURI + "\n" +
//	                   CanonicalQueryString + "\n" + CanonicalHeaders + "\n" +
//	                   SignedHeaders + "\n" + HashedRequestPayload
//	StringToSign     = "ACS3-HMAC-SHA256\n" + hex(SHA256(CanonicalRequest))
//	Signature        = hex(HMAC-SHA256(AccessKeySecret, StringToSign))
//	Authorization: ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<h1;h2;...>,Signature=<hex>
//
// CanonicalURI is the path ("/" for RPC APIs); CanonicalQueryString is the
// query parameters sorted by name, each pe(name) + "=" + pe(value) joined
// with "&" (pe is the RFC 3986 encoding of signature v1); CanonicalHeaders
// is, for each signed header in ascending order, its lower-case name, ":",
// its trimmed values sorted and joined with ",", and "\n"; SignedHeaders is
// the same names joined with ";"; HashedRequestPayload is
// hex(SHA256(body)), the value of x-acs-content-sha256 (the hash of the
// empty string without a body). The action, version, time and nonce are
// the headers x-acs-action, x-acs-version, x-acs-date
// (yyyy-MM-ddTHH:mm:ssZ) and x-acs-signature-nonce; STS credentials add
// x-acs-security-token. RPC parameters may be in the query or in a form
// body (application/x-www-form-urlencoded), which the payload hash covers.
//
// The documentation says every common request header present but
// Authorization "must be signed". The emulator reads that strictly, erring
// toward refusal: host, x-acs-action, x-acs-version, x-acs-date,
// x-acs-signature-nonce and x-acs-content-sha256 must be present and
// signed, and so must every other x-acs-* header that is present (so that
// an unsigned x-acs-security-token cannot ride along) and Content-Type when
// the request has a body.

const (
	algorithmACS3HMACSHA256 = "ACS3-HMAC-SHA256"
	headerAuthorization     = "Authorization"
	headerAction            = "x-acs-action"
	headerVersion           = "x-acs-version"
	headerDate              = "x-acs-date"
	headerNonce             = "x-acs-signature-nonce"
	headerContentSHA256     = "x-acs-content-sha256"
	headerSecurityToken     = "x-acs-security-token"
	headerAccessKeyID       = "x-acs-accesskey-id"
)

// v3RequiredHeaders must be present and signed in every V3 request.
var v3RequiredHeaders = []string{"host", headerAction, headerContentSHA256, headerDate, headerNonce, headerVersion}

// isV3 reports whether r carries an Authorization header, which only
// signature V3 uses among the RPC signatures the emulator knows; a request
// with one is verified as V3 (and refused if it is not ACS3-HMAC-SHA256).
func isV3(r *http.Request) bool { return len(r.Header.Values(headerAuthorization)) > 0 }

// v3Authorization is a parsed Authorization header.
type v3Authorization struct {
	algorithm     string
	accessKeyID   string
	signedHeaders []string
	signature     string
}

func errIncompleteV3(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, codeIncompleteSignature,
		"The request signature does not conform to Aliyun standards: "+format, args...)
}

// parseV3Authorization parses "ACS3-HMAC-SHA256 Credential=...,SignedHeaders=...,Signature=...".
// Each field must appear once; unknown fields are refused.
func parseV3Authorization(values []string) (*v3Authorization, *apiError) {
	if len(values) != 1 {
		return nil, errIncompleteV3("the Authorization header is repeated.")
	}
	v := strings.TrimSpace(values[0])
	if len(v) > 4096 {
		return nil, errIncompleteV3("the Authorization header is longer than 4096 bytes.")
	}
	algo, rest, _ := strings.Cut(v, " ")
	if algo != algorithmACS3HMACSHA256 {
		if len(algo) > 64 {
			algo = algo[:64]
		}
		return nil, errIncompleteV3("signature algorithm %q is not supported; use %s (or signature version 1.0 parameters).", algo, algorithmACS3HMACSHA256)
	}
	a := &v3Authorization{algorithm: algo}
	seen := map[string]bool{}
	for _, field := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(field), "=")
		if !ok {
			return nil, errIncompleteV3("the Authorization field %q is not NAME=VALUE.", truncate(field, 64))
		}
		k, val = strings.TrimSpace(k), strings.TrimSpace(val)
		switch k {
		case "Credential", "SignedHeaders", "Signature":
		default:
			return nil, errIncompleteV3("the Authorization field %q is unknown; expected Credential, SignedHeaders and Signature.", truncate(k, 64))
		}
		if seen[k] {
			return nil, errIncompleteV3("the Authorization field %s is repeated.", k)
		}
		seen[k] = true
		switch k {
		case "Credential":
			a.accessKeyID = val
		case "SignedHeaders":
			if val != "" {
				a.signedHeaders = strings.Split(val, ";")
			}
		case "Signature":
			a.signature = val
		}
	}
	for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
		if !seen[k] {
			return nil, errIncompleteV3("the Authorization field %s is missing.", k)
		}
	}
	if a.accessKeyID == "" {
		return nil, errIncompleteV3("the Authorization field Credential is empty.")
	}
	if a.signature == "" {
		return nil, errIncompleteV3("the Authorization field Signature is empty.")
	}
	for i, h := range a.signedHeaders {
		if h == "" || h != strings.ToLower(h) || strings.ContainsAny(h, " \t:") {
			return nil, errIncompleteV3("SignedHeaders must be lower-case header names separated by \";\", got %q.", truncate(h, 64))
		}
		if i > 0 && a.signedHeaders[i-1] >= h {
			return nil, errIncompleteV3("SignedHeaders must be sorted and without repeats.")
		}
	}
	return a, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// v3HeaderValue is the canonical value of header name in r: for host the
// request's Host, otherwise every value trimmed, sorted and joined with ",".
// ok is false when the request has no such header.
func v3HeaderValue(r *http.Request, name string) (value string, ok bool) {
	if name == "host" {
		return strings.TrimSpace(r.Host), r.Host != ""
	}
	vals := r.Header.Values(name)
	if len(vals) == 0 {
		return "", false
	}
	trimmed := make([]string, len(vals))
	for i, v := range vals {
		trimmed[i] = strings.TrimSpace(v)
	}
	sort.Strings(trimmed)
	return strings.Join(trimmed, ","), true
}

// v3CanonicalQuery is the canonical query string of q: names sorted, each
// value of a name in its order, name and value RFC 3986-encoded.
func v3CanonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range q[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(percentEncode(k))
			b.WriteByte('=')
			b.WriteString(percentEncode(v))
		}
	}
	return b.String()
}

// v3CanonicalURI is the request path as sent, "/" when empty.
func v3CanonicalURI(r *http.Request) string {
	p := r.URL.EscapedPath()
	if p == "" {
		return "/"
	}
	p = strings.ReplaceAll(p, "+", "%20")
	p = strings.ReplaceAll(p, "*", "%2A")
	return strings.ReplaceAll(p, "%7E", "~")
}

// v3StringToSign builds the canonical request of r and returns its string
// to sign. query is the parsed query string, payloadHash the hex SHA-256 of
// the body.
func v3StringToSign(r *http.Request, query url.Values, signed []string, payloadHash string) string {
	var ch strings.Builder
	for _, h := range signed {
		v, _ := v3HeaderValue(r, h)
		ch.WriteString(h)
		ch.WriteByte(':')
		ch.WriteString(v)
		ch.WriteByte('\n')
	}
	canonical := r.Method + "\n" + v3CanonicalURI(r) + "\n" + v3CanonicalQuery(query) + "\n" +
		ch.String() + "\n" + strings.Join(signed, ";") + "\n" + payloadHash
	sum := sha256.Sum256([]byte(canonical))
	return algorithmACS3HMACSHA256 + "\n" + hex.EncodeToString(sum[:])
}

// v3Signature signs sts with secret.
func v3Signature(secret, sts string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(sts))
	return hex.EncodeToString(mac.Sum(nil))
}

// authenticateV3 verifies a signature V3 request, then applies the checks
// every signature shares (credential state, security token, time window,
// nonce) and sets c.id.
func (c *call) authenticateV3() *apiError {
	r := c.r
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		return newError(http.StatusBadRequest, codeUnsupportedMethod,
			"HTTP method %q is not supported; use POST or GET.", r.Method)
	}
	a, err := parseV3Authorization(r.Header.Values(headerAuthorization))
	if err != nil {
		return err
	}
	signed := make(map[string]bool, len(a.signedHeaders))
	for _, h := range a.signedHeaders {
		if _, ok := v3HeaderValue(r, h); !ok {
			return errIncompleteV3("the signed header %q is not in the request.", h)
		}
		signed[h] = true
	}
	for _, h := range v3RequiredHeaders {
		if v, ok := v3HeaderValue(r, h); !ok || v == "" {
			return errIncompleteV3("header %q is missing.", h)
		}
		if !signed[h] {
			return errIncompleteV3("header %q is not in SignedHeaders.", h)
		}
	}
	for name := range r.Header {
		lower := strings.ToLower(name)
		if strings.HasPrefix(lower, "x-acs-") && !signed[lower] {
			return errIncompleteV3("header %q is present but not in SignedHeaders.", truncate(lower, 64))
		}
	}
	if len(c.body) > 0 && r.Header.Get("Content-Type") != "" && !signed["content-type"] {
		return errIncompleteV3("header \"content-type\" is present but not in SignedHeaders.")
	}

	sum := sha256.Sum256(c.body)
	payloadHash := hex.EncodeToString(sum[:])
	if got, _ := v3HeaderValue(r, headerContentSHA256); !strings.EqualFold(got, payloadHash) {
		return newError(http.StatusBadRequest, codeSignatureMismatch,
			"The header x-acs-content-sha256 is not the SHA-256 of the request body.")
	}
	if kid := r.Header.Get(headerAccessKeyID); kid != "" && kid != a.accessKeyID {
		return errIncompleteV3("header x-acs-accesskey-id does not match the Credential.")
	}

	id := c.s.lookupIdentity(a.accessKeyID)
	if id == nil {
		return newError(http.StatusNotFound, codeAccessKeyNotFound, "Specified access key is not found.")
	}
	query, qerr := url.ParseQuery(r.URL.RawQuery)
	if qerr != nil {
		return newError(http.StatusBadRequest, codeInvalidParameter, "The request query string is malformed.")
	}
	sts := v3StringToSign(r, query, a.signedHeaders, payloadHash)
	want := v3Signature(id.cred.AccessKeySecret, sts)
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(a.signature))) {
		// The string to sign is a hash: it reveals no parameter.
		return newError(http.StatusBadRequest, codeSignatureMismatch, "%s%s", msgSignatureMismatchIntro, sts)
	}
	token, _ := v3HeaderValue(r, headerSecurityToken)
	date, _ := v3HeaderValue(r, headerDate)
	nonce, _ := v3HeaderValue(r, headerNonce)
	if err := c.checkCredential(id, token, date, headerDate, nonce); err != nil {
		return err
	}
	c.id = id
	return nil
}
