package kmsclient

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseWireError(t *testing.T) {
	cases := []struct {
		name, body       string
		code, action     string
		notJSON          bool
		explicit         bool
		wantMessageNoSTS bool
	}{
		{name: "access denied object", body: `{"Code":"Forbidden.NoPermission","Message":"m","RequestId":"r","AccessDeniedDetail":{"AuthAction":"kms:Decrypt","NoPermissionType":"ExplicitDeny"}}`,
			code: "Forbidden.NoPermission", action: "kms:Decrypt", explicit: true},
		{name: "access denied as JSON string", body: `{"Code":"Forbidden.NoPermission","AccessDeniedDetail":"{\"AuthAction\":\"kms:Encrypt\"}"}`,
			code: "Forbidden.NoPermission", action: "kms:Encrypt"},
		{name: "numeric code", body: `{"Code":503,"Message":7}`, code: "503"},
		{name: "html", body: `<html>bad gateway</html>`, notJSON: true},
		{name: "array", body: `[1,2]`, notJSON: true},
		{name: "detail wrong type", body: `{"Code":"X","AccessDeniedDetail":12}`, code: "X"},
		{name: "string to sign", body: `{"Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched with our calculation. server string to sign is:POST&%2F&Plaintext%3DQ0FOQVJZ"}`,
			code: "SignatureDoesNotMatch", wantMessageNoSTS: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			we := parseWireError([]byte(tc.body))
			assert.Equal(t, tc.notJSON, we.notJSON)
			assert.Equal(t, tc.code, we.Code)
			if tc.action != "" {
				require.NotNil(t, we.AccessDenied)
				assert.Equal(t, tc.action, we.AccessDenied.Action)
				assert.Equal(t, tc.explicit, we.AccessDenied.Explicit())
			}
			if tc.wantMessageNoSTS {
				assert.NotContains(t, we.Message, "Q0FOQVJZ")
			}
			var m map[string]any
			require.NoError(t, json.Unmarshal(we.normalized(), &m))
			for k, v := range m {
				_, ok := v.(string)
				assert.True(t, ok, "field %s is a string for the SDK", k)
			}
		})
	}
}

func TestSanitizeText(t *testing.T) {
	in := "Post \"http://127.0.0.1:1/?AccessKeyId=LTAI&Plaintext=Q0FOQVJZ&Signature=abc\": read: connection reset\nsecond line"
	out := sanitizeText(in)
	for _, bad := range []string{"LTAI", "Q0FOQVJZ", "abc\"", "\n"} {
		assert.NotContains(t, out, bad)
	}
	assert.Contains(t, out, "connection reset")
	long := sanitizeText(strings.Repeat("é", 1000))
	assert.True(t, utf8.ValidString(long))
	assert.LessOrEqual(t, len(long), maxMessageLen+len("…"))
}

func FuzzParseWireError(f *testing.F) {
	for _, s := range []string{
		`{"Code":"Forbidden.NoPermission","AccessDeniedDetail":{"AuthAction":"kms:Decrypt"}}`,
		`{"Code":1,"Message":null,"AccessDeniedDetail":"{\"AuthAction\":2}"}`,
		`<html></html>`, `null`, `"x"`, `{"AccessDeniedDetail":{"AuthAction":{"x":[1]}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		we := parseWireError(body)
		var m map[string]string
		if err := json.Unmarshal(we.normalized(), &m); err != nil {
			t.Fatalf("normalized body is not a JSON object of strings: %v", err)
		}
		if len(we.Message) > maxMessageLen+len("…") {
			t.Fatalf("message not bounded: %d bytes", len(we.Message))
		}
	})
}

func FuzzSanitizeText(f *testing.F) {
	f.Add("Post \"https://h/?Plaintext=abc\": EOF")
	f.Add("string to sign is:POST&%2F&x")
	f.Add("Plaintext%3Dabc&Signature=zz")
	f.Fuzz(func(t *testing.T, s string) {
		out := sanitizeText(s)
		if strings.ContainsAny(out, "\r\n") {
			t.Fatal("line break survived")
		}
		if strings.Contains(out, "Plaintext=") && !strings.Contains(out, "Plaintext=[redacted]") {
			t.Fatalf("plaintext parameter survived: %q", out)
		}
	})
}

// TestSanitizeEchoedParameters: a server message that echoes base64 data
// loses it; identifiers stay readable.
func TestSanitizeEchoedParameters(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString([]byte("CANARY-plaintext-echoed-back"))
	out := sanitizeText("The parameter Plaintext: " + b64 + " is invalid")
	assert.NotContains(t, out, b64)
	assert.Contains(t, out, "[redacted]")
	for _, keep := range []string{
		"key-3875f22e3a3e5ef1a13e6778",
		"acs:kms:cn-hangzhou:1234567890123456:key/key-3875f22e3a3e5ef1a13e6778",
		"A5F1D4B2-3C8E-4F6A-9B7D-1E2F3A4B5C6D",
		"Rejected.Throttling",
		"IncorrectKeyStateException",
	} {
		assert.Contains(t, sanitizeText("The key "+keep+" is disabled"), keep)
	}
}
