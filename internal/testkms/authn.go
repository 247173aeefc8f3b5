package testkms

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"time"
)

// authenticate checks the common parameters and the signature of the
// request, then sets c.id. The order is: presence and values of the
// signature parameters, access key, signature, credential state, security
// token, timestamp window, nonce. The nonce is recorded only for requests
// that passed every other check.
func (c *call) authenticate() *apiError {
	p := c.params
	if c.r.Method != http.MethodPost && c.r.Method != http.MethodGet {
		return newError(http.StatusBadRequest, codeUnsupportedMethod,
			"HTTP method %q is not supported; use POST or GET.", c.r.Method)
	}
	for _, name := range []string{"AccessKeyId", paramSignature} {
		if p.Get(name) == "" {
			return newError(http.StatusBadRequest, codeIncompleteSignature,
				"The request signature does not conform to Aliyun standards: parameter %q is missing.", name)
		}
	}
	for _, name := range []string{"SignatureMethod", "SignatureVersion", "SignatureNonce", "Timestamp", "Version", "Action", "Format"} {
		if p.Get(name) == "" {
			return errMissingParam(name)
		}
	}
	if m := p.Get("SignatureMethod"); m != "HMAC-SHA1" {
		return errInvalidParam("SignatureMethod", "only HMAC-SHA1 is supported")
	}
	if v := p.Get("SignatureVersion"); v != "1.0" {
		return errInvalidParam("SignatureVersion", "only 1.0 is supported")
	}
	if t := p.Get("SignatureType"); t != "" {
		return errInvalidParam("SignatureType", "only AccessKey signatures are supported")
	}
	if f := p.Get("Format"); !strings.EqualFold(f, "JSON") {
		return errInvalidParam("Format", "only JSON is supported")
	}
	if len(p[paramSignature]) != 1 {
		return newError(http.StatusBadRequest, codeIncompleteSignature,
			"The request signature does not conform to Aliyun standards: Signature is repeated.")
	}

	id := c.s.lookupIdentity(p.Get("AccessKeyId"))
	if id == nil {
		return newError(http.StatusNotFound, codeAccessKeyNotFound, "Specified access key is not found.")
	}
	sts := stringToSign(c.r.Method, p)
	if !signatureMatches(id.cred.AccessKeySecret, sts, p.Get(paramSignature)) {
		return newError(http.StatusBadRequest, codeSignatureMismatch, "%s%s",
			msgSignatureMismatchIntro, redactedStringToSign(c.r.Method, p))
	}

	if err := c.checkCredential(id, p.Get("SecurityToken"), p.Get("Timestamp"), "Timestamp", p.Get("SignatureNonce")); err != nil {
		return err
	}
	c.id = id
	return nil
}

// checkCredential applies the checks that follow a valid signature, the
// same for every signature version: the access key's state, the security
// token (required for STS credentials, refused for others), the request
// time (named timeName in messages: Timestamp or x-acs-date) within
// Options.MaxSkew, and the nonce, recorded only now that every other check
// passed.
func (c *call) checkCredential(id *identity, token, timestamp, timeName, nonce string) *apiError {
	c.s.mu.Lock()
	expired := id.expired
	c.s.mu.Unlock()
	isSTS := id.cred.SecurityToken != ""
	switch {
	case expired && isSTS:
		return newError(http.StatusBadRequest, codeTokenExpired, "Specified SecurityToken is expired.")
	case expired:
		// Alibaba's common error codes
		// (https://www.alibabacloud.com/help/doc-detail/69008.html):
		// 403 Forbidden.AccessKey, "This AccessKey is not enabled."
		return newError(http.StatusForbidden, codeAccessKeyDisabled, "%s", msgAccessKeyDisabled)
	case isSTS && token == "":
		return newError(http.StatusBadRequest, codeTokenMissing,
			"The AccessKeyId is a temporary (STS) credential; parameter \"SecurityToken\" is required.")
	case !isSTS && token != "":
		return newError(http.StatusBadRequest, codeTokenMismatch,
			"Specified SecurityToken mismatch with the AccessKey: the AccessKeyId is not an STS credential.")
	case isSTS && subtle.ConstantTimeCompare([]byte(token), []byte(id.cred.SecurityToken)) != 1:
		return newError(http.StatusBadRequest, codeTokenMismatch, "Specified SecurityToken mismatch with the AccessKey.")
	}

	if nonce == "" {
		return errMissingParam(nonceName(timeName))
	}
	ts, err := parseTimestamp(timestamp)
	if err != nil {
		return newError(http.StatusBadRequest, codeIllegalTimestamp,
			"The input parameter %q is not in the format yyyy-MM-ddTHH:mm:ssZ (UTC).", timeName)
	}
	if d := c.now.Sub(ts); d > c.s.maxSkew || d < -c.s.maxSkew {
		return newError(http.StatusBadRequest, codeIllegalTimestamp,
			"The input parameter %q is %s away from the server time, more than the allowed %s.",
			timeName, d.Abs().Round(time.Second), c.s.maxSkew)
	}
	expires := ts.Add(c.s.maxSkew)
	if c.now.After(ts) {
		expires = c.now.Add(c.s.maxSkew)
	}
	if !c.s.nonces.use(id.cred.AccessKeyID, nonce, c.now, expires) {
		return newError(http.StatusBadRequest, codeNonceUsed, "Specified signature nonce was used already.")
	}
	return nil
}

// nonceName names the nonce that goes with the time parameter timeName.
func nonceName(timeName string) string {
	if timeName == headerDate {
		return headerNonce
	}
	return "SignatureNonce"
}

// parseTimestamp accepts the SDK's ISO 8601 UTC form and RFC 3339.
func parseTimestamp(s string) (time.Time, error) {
	if t, err := time.Parse(timestampLayout, s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}
