package kmsclient

import (
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// sentValues is what one request sent that must not come back in an error
// or a log: every parameter value except known identifiers, in each form a
// server might echo it (raw, base64 in its four alphabets, hex in either
// case, and, for a base64 value such as Plaintext or CiphertextBlob, the
// decoded bytes in each of those forms). A hostile or careless server that
// quotes a value ("The Plaintext: cHcxOWRlZWQ= is invalid") gets the quote
// redacted, however short: the generic run redaction of sanitizeText only
// catches long or random-looking runs.
type sentValues struct {
	exact map[string]bool // every form, matched against whole runs
	long  []string        // forms of minSubstring bytes or more, longest first, also matched inside text
}

// minSubstring is the shortest form also redacted inside longer text (a
// shorter one, "YQ==" or "ab", is redacted only as a whole run: matching it
// anywhere would shred ordinary words).
const minSubstring = 4

// minFragment is the shortest run redacted for being part of a sent form
// (a quote that the server, or our own truncation, cut short).
const minFragment = 8

// identifierParams are the request parameters whose values are names, not
// data: they stay readable in messages ("key key-123 is disabled").
var identifierParams = map[string]bool{
	"AccessKeyId": true, "Action": true, "Version": true, "Format": true, "RegionId": true,
	"SignatureMethod": true, "SignatureVersion": true, "SignatureType": true, "SignatureNonce": true,
	"Timestamp": true, "KeyId": true, "SourceKeyId": true, "DestinationKeyId": true,
	"SourceKeyVersionId": true, "SourceEncryptionAlgorithm": true, "KeySpec": true,
	"NumberOfBytes": true, "DryRun": true, "SecretName": true, "VersionId": true,
	"VersionStage": true, "FetchExtendedConfig": true, "FetchTags": true, "PolicyName": true,
	"PolicyType": true, "PageNumber": true, "PageSize": true, "UserName": true, "RoleName": true,
	"GroupName": true,
}

// sentFromRequest collects the values r carries in its query and, for a
// form body, in its body (which it restores).
func sentFromRequest(r *http.Request) *sentValues {
	s := &sentValues{exact: map[string]bool{}}
	s.addParams(r.URL.Query())
	if r.Body != nil && r.GetBody != nil && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		if body, err := r.GetBody(); err == nil {
			b, _ := io.ReadAll(io.LimitReader(body, maxResponseBytes))
			body.Close()
			if form, err := url.ParseQuery(string(b)); err == nil {
				s.addParams(form)
			}
		}
	}
	s.finish()
	return s
}

func (s *sentValues) addParams(v url.Values) {
	for name, vals := range v {
		if identifierParams[name] {
			continue
		}
		for _, val := range vals {
			s.add(val)
		}
	}
}

// add records v and its encodings, and, when v is base64, the decoded bytes
// and their encodings.
func (s *sentValues) add(v string) {
	if v == "" {
		return
	}
	s.addForms([]byte(v))
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil && len(b) > 0 {
			s.addForms(b)
			break
		}
	}
}

func (s *sentValues) addForms(b []byte) {
	h := hex.EncodeToString(b)
	for _, f := range []string{
		string(b), h, strings.ToUpper(h),
		base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
		url.QueryEscape(string(b)),
	} {
		s.exact[f] = true
	}
}

func (s *sentValues) finish() {
	for f := range s.exact {
		if len(f) >= minSubstring {
			s.long = append(s.long, f)
		}
	}
	sort.Slice(s.long, func(i, j int) bool {
		if len(s.long[i]) != len(s.long[j]) {
			return len(s.long[i]) > len(s.long[j])
		}
		return s.long[i] < s.long[j]
	})
}

// isRunByte reports whether c can be part of a base64 (either alphabet) or
// hex run.
func isRunByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '+' || c == '/' || c == '=' || c == '-' || c == '_'
}

// redact returns text with every sent value removed: a run of base64 or hex
// characters (or a whitespace-delimited word) equal to a sent form or, from
// minFragment bytes, part of one; then any occurrence of a form of
// minSubstring bytes or more. A nil s redacts nothing.
func (s *sentValues) redact(text string) string {
	if s == nil || len(s.exact) == 0 || text == "" {
		return text
	}
	if len(text) > maxRedactInput {
		// Callers bound what they keep far below this; cutting first bounds
		// the work a hostile megabyte-long message can cause.
		cut := maxRedactInput
		for cut > 0 && !isRuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	text = s.redactRuns(text, isRunByte)
	text = s.redactRuns(text, func(c byte) bool { return c != ' ' && c != '\t' && c != '\n' && c != '\r' })
	for _, f := range s.long {
		if strings.Contains(text, f) {
			text = strings.ReplaceAll(text, f, redactedValue)
		}
	}
	return text
}

// maxRedactInput bounds the text redact examines; every caller keeps less
// (messages maxMessageLen, fields 200 bytes, the diagnostic token
// maxDiagnosticLen).
const maxRedactInput = 16 << 10

// redactedValue replaces a sent value found in server text.
const redactedValue = "[redacted]"

func (s *sentValues) redactRuns(text string, in func(byte) bool) string {
	var b strings.Builder
	for i := 0; i < len(text); {
		if !in(text[i]) {
			b.WriteByte(text[i])
			i++
			continue
		}
		j := i
		for j < len(text) && in(text[j]) {
			j++
		}
		run := text[i:j]
		if s.matches(run) || s.matches(strings.TrimRight(run, "=.,;:")) {
			b.WriteString(redactedValue)
		} else {
			b.WriteString(run)
		}
		i = j
	}
	return b.String()
}

func (s *sentValues) matches(run string) bool {
	if run == "" {
		return false
	}
	if s.exact[run] {
		return true
	}
	if len(run) < minFragment {
		return false
	}
	for _, f := range s.long {
		if len(f) > len(run) && strings.Contains(f, run) {
			return true
		}
	}
	return false
}
