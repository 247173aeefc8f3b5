package testkms

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// RPC signature version 1.0 (HMAC-SHA1), as the v1 Go SDK computes it in
// sdk/auth/rpc_signature_composer.go:
//
//	canon        = join(pe(k) + "=" + pe(v), "&") over all params but Signature,
//	               keys sorted bytewise, empty values kept (SignatureType=)
//	StringToSign = METHOD + "&" + pe("/") + "&" + pe(canon)
//	Signature    = base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign))
//
// where pe is RFC 3986 percent-encoding: url.QueryEscape with "+" → "%20",
// "*" → "%2A" and "%7E" → "~".

const (
	timestampLayout = "2006-01-02T15:04:05Z"
	paramSignature  = "Signature"
)

// sensitiveParams are request parameters whose values are replaced in the
// string to sign that SignatureDoesNotMatch echoes back, so that an error
// message never carries plaintext, secret values or session tokens.
var sensitiveParams = map[string]bool{
	"Plaintext":     true,
	"SecretData":    true,
	"SecurityToken": true,
}

// percentEncode encodes s the way Alibaba's RPC signature expects.
func percentEncode(s string) string {
	s = url.QueryEscape(s)
	s = strings.ReplaceAll(s, "+", "%20")
	s = strings.ReplaceAll(s, "*", "%2A")
	return strings.ReplaceAll(s, "%7E", "~")
}

// canonicalize returns the sorted, percent-encoded parameter string of params
// without Signature. Multiple values of one key are kept in their order, like
// url.Values.Encode does.
func canonicalize(params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != paramSignature {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		ek := percentEncode(k)
		for _, v := range params[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(ek)
			b.WriteByte('=')
			b.WriteString(percentEncode(v))
		}
	}
	return b.String()
}

// stringToSign builds the RPC string to sign for method and params.
func stringToSign(method string, params url.Values) string {
	return method + "&" + percentEncode("/") + "&" + percentEncode(canonicalize(params))
}

// redactedStringToSign is stringToSign with sensitive values replaced, for
// the SignatureDoesNotMatch message. It equals stringToSign whenever the
// request carries no sensitive parameter.
func redactedStringToSign(method string, params url.Values) string {
	redacted := make(url.Values, len(params))
	for k, vs := range params {
		if sensitiveParams[k] {
			vs = []string{"REDACTED"}
		}
		redacted[k] = vs
	}
	return stringToSign(method, redacted)
}

// computeSignature signs sts with secret.
func computeSignature(secret, sts string) string {
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(sts))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// signatureMatches reports whether got is the signature of sts under secret,
// in constant time.
func signatureMatches(secret, sts, got string) bool {
	want := computeSignature(secret, sts)
	return hmac.Equal([]byte(want), []byte(got))
}

// nonceCache remembers the SignatureNonce values seen per access key until
// their request could no longer pass the timestamp check.
//
// Entries are filed in one-second buckets by expiry, so that expired ones
// are dropped bucket by bucket as the clock passes them: each entry is
// filed and dropped once, and a request examines only the buckets whose
// second has passed since the previous one (at most the number of buckets
// held, which the timestamp window bounds, not the number of entries).
// The cost per request is O(1) amortised, however many nonces are live.
type nonceCache struct {
	mu      sync.Mutex
	seen    map[string]time.Time // access key id + "\x00" + nonce → forget after
	buckets map[int64][]string   // expiry second (Unix) → keys filed there
	swept   int64                // every bucket before this second is gone
	work    int                  // buckets and keys examined by sweeps, for tests
}

// use records nonce for accessKeyID and reports whether it was fresh. The
// entry is kept until expires.
func (n *nonceCache) use(accessKeyID, nonce string, now, expires time.Time) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.seen == nil {
		n.seen = make(map[string]time.Time)
		n.buckets = make(map[int64][]string)
		n.swept = now.Unix()
	}
	n.sweep(now)
	k := accessKeyID + "\x00" + nonce
	if exp, ok := n.seen[k]; ok && !now.After(exp) {
		return false
	}
	n.seen[k] = expires
	n.file(k, expires.Unix())
	return true
}

// file puts key k in the bucket of second b, or of the oldest second not
// yet swept when b is before it (a clock moved back), so that every key
// is swept eventually.
func (n *nonceCache) file(k string, b int64) {
	if b < n.swept {
		b = n.swept
	}
	n.buckets[b] = append(n.buckets[b], k)
}

// sweep drops the buckets of every second before now's: their entries
// expired (an entry of second b expires before b+1, and now is at least
// b+1). A key still live there (its clock moved back, or it was used again
// after expiring and filed anew) is kept, and filed again if it has no
// later bucket.
func (n *nonceCache) sweep(now time.Time) {
	cur := now.Unix()
	if cur <= n.swept {
		return
	}
	drop := func(b int64) {
		keys := n.buckets[b]
		delete(n.buckets, b)
		for _, k := range keys {
			n.work++
			exp, ok := n.seen[k]
			switch {
			case !ok:
			case now.After(exp):
				delete(n.seen, k)
			case exp.Unix() <= b:
				n.file(k, cur) // live in a swept second: look again then
			}
		}
	}
	if gap := cur - n.swept; gap <= int64(len(n.buckets)) {
		for b := n.swept; b < cur; b++ {
			n.work++
			if _, ok := n.buckets[b]; ok {
				drop(b)
			}
		}
	} else {
		// A long quiet spell: visit the buckets held instead of every
		// second that passed.
		var due []int64
		for b := range n.buckets {
			n.work++
			if b < cur {
				due = append(due, b)
			}
		}
		for _, b := range due {
			drop(b)
		}
	}
	n.swept = cur
}

// reset forgets every nonce.
func (n *nonceCache) reset() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.seen, n.buckets, n.swept, n.work = nil, nil, 0, 0
}
