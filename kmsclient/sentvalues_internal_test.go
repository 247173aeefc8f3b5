package kmsclient

import (
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSentValuesFromRequest(t *testing.T) {
	q := url.Values{"Plaintext": {base64.StdEncoding.EncodeToString([]byte("ab"))}, "KeyId": {"key-123"},
		"AccessKeyId": {"LTAIexample"}, "SecurityToken": {"tok"}}
	r, err := http.NewRequest("POST", "http://127.0.0.1/?"+q.Encode(), strings.NewReader("SecretData=hunter2"))
	require.NoError(t, err)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	s := sentFromRequest(r)
	cases := []struct{ in, want string }{
		{"The Plaintext: YWI= is invalid", "The Plaintext: [redacted] is invalid"},
		{"raw ab, hex 6162 and 6162.", "raw [redacted], hex [redacted] and [redacted]."},
		{"key key-123 of LTAIexample", "key key-123 of LTAIexample"},
		{"token tok!", "token [redacted]!"},
		{"form value hunter2", "form value [redacted]"},
		{"inside xxhunter2yy", "inside xx[redacted]yy"},
		{"", ""},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, s.redact(tc.in), tc.in)
	}
	var none *sentValues
	assert.Equal(t, "YWI=", none.redact("YWI="))
}

func FuzzSentValuesRedact(f *testing.F) {
	f.Add([]byte("pw19deed"), "The Plaintext: %s is invalid")
	f.Add([]byte{0xff, 0}, "%s")
	f.Add([]byte("a"), "a %s a")
	f.Fuzz(func(t *testing.T, value []byte, template string) {
		if len(value) == 0 || len(template) > 4096 || !strings.Contains(template, "%s") {
			return
		}
		s := &sentValues{exact: map[string]bool{}}
		s.add(base64.StdEncoding.EncodeToString(value))
		s.finish()
		for _, form := range []string{base64.StdEncoding.EncodeToString(value), hex.EncodeToString(value)} {
			out := s.redact(strings.Replace(template, "%s", " "+form+" ", 1))
			if len(form) >= minSubstring && strings.Contains(out, form) {
				t.Fatalf("form %q survived in %q", form, out)
			}
		}
	})
}

// FuzzParseWireErrorSent: whatever the error body, a sent value quoted in
// it (here in base64 and hex) survives in no field kmsclient keeps.
func FuzzParseWireErrorSent(f *testing.F) {
	f.Add([]byte("pw19deed"), `{"Code":"InvalidParameter","Message":"The Plaintext: %s is invalid"}`)
	f.Add([]byte{1, 2, 3}, `{"Code":"%s","AccessDeniedDetail":{"EncodedDiagnosticMessage":"%s","AuthAction":"%s"}}`)
	f.Add([]byte("x"), `{"Recommend":"%s","HostId":"%s","RequestId":"%s"}`)
	f.Fuzz(func(t *testing.T, value []byte, template string) {
		if len(value) == 0 || len(template) > 8192 {
			return
		}
		q := url.Values{"Plaintext": {base64.StdEncoding.EncodeToString(value)}}
		r, err := http.NewRequest("POST", "http://127.0.0.1/?"+q.Encode(), nil)
		if err != nil {
			t.Skip()
		}
		sent := sentFromRequest(r)
		for _, form := range []string{base64.StdEncoding.EncodeToString(value), hex.EncodeToString(value)} {
			we := parseWireErrorSent([]byte(strings.ReplaceAll(template, "%s", form)), sent)
			fields := []string{we.Code, we.Message, we.RequestID, we.HostID, we.Recommend}
			if d := we.AccessDenied; d != nil {
				fields = append(fields, d.Action, d.PrincipalType, d.PrincipalOwnerID, d.PrincipalDisplayName,
					d.PolicyType, d.NoPermissionType, d.EncodedDiagnosticMessage)
			}
			for _, field := range fields {
				if len(form) >= minSubstring && strings.Contains(field, form) {
					t.Fatalf("sent value %q survived in %q", form, field)
				}
			}
		}
	})
}
