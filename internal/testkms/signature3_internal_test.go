package testkms

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestV3KnownAnswer checks the canonicalisation against the vector of
// Alibaba's own openapi-util test of GetAuthorization (Go, service_test.go):
// query test=ok and empty="", headers x-acs-test "http" and x-acs-TEST
// "https", the given payload hash, no method and no path, secret "secret".
func TestV3KnownAnswer(t *testing.T) {
	r := &http.Request{Method: "", URL: &url.URL{}, Header: http.Header{}}
	r.Header.Add("x-acs-test", "http")
	r.Header.Add("x-acs-TEST", "https")
	q := url.Values{"test": {"ok"}, "empty": {""}}
	sts := v3StringToSign(r, q, []string{"x-acs-test"}, "55e12e91650d2fec56ec74e1d3e4ddbfce2ef3a65890c2a19ecf88a307e76a23")
	assert.Equal(t, "4ab59fffe3c5738ff8a2729f90cc04fe18b02a4b15b2102cbaf92f9ff3df2ea3", v3Signature("secret", sts))
}

func TestParseV3Authorization(t *testing.T) {
	const good = "ACS3-HMAC-SHA256 Credential=LTAIabc,SignedHeaders=host;x-acs-action,Signature=0a1b"
	tests := []struct {
		name  string
		in    []string
		want  *v3Authorization
		error string // part of the message
	}{
		{name: "SDK form", in: []string{good}, want: &v3Authorization{
			algorithm: "ACS3-HMAC-SHA256", accessKeyID: "LTAIabc", signedHeaders: []string{"host", "x-acs-action"}, signature: "0a1b"}},
		{name: "spaces around fields", in: []string{"ACS3-HMAC-SHA256 Credential=LTAIabc, SignedHeaders=host , Signature=0a"}, want: &v3Authorization{
			algorithm: "ACS3-HMAC-SHA256", accessKeyID: "LTAIabc", signedHeaders: []string{"host"}, signature: "0a"}},
		{name: "repeated header", in: []string{good, good}, error: "repeated"},
		{name: "SM3", in: []string{strings.Replace(good, "SHA256", "SM3", 1)}, error: `"ACS3-HMAC-SM3" is not supported`},
		{name: "RPC v1 style", in: []string{"acs LTAIabc:sig"}, error: "not supported"},
		{name: "empty", in: []string{""}, error: "not supported"},
		{name: "no fields", in: []string{"ACS3-HMAC-SHA256"}, error: "not NAME=VALUE"},
		{name: "field without value", in: []string{"ACS3-HMAC-SHA256 Credential"}, error: "not NAME=VALUE"},
		{name: "unknown field", in: []string{good + ",Date=x"}, error: `"Date" is unknown`},
		{name: "repeated field", in: []string{good + ",Signature=ff"}, error: "Signature is repeated"},
		{name: "missing signature", in: []string{"ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host"}, error: "Signature is missing"},
		{name: "empty credential", in: []string{"ACS3-HMAC-SHA256 Credential=,SignedHeaders=host,Signature=0a"}, error: "Credential is empty"},
		{name: "upper-case header", in: []string{"ACS3-HMAC-SHA256 Credential=a,SignedHeaders=Host,Signature=0a"}, error: "lower-case"},
		{name: "unsorted headers", in: []string{"ACS3-HMAC-SHA256 Credential=a,SignedHeaders=x-acs-date;host,Signature=0a"}, error: "sorted"},
		{name: "repeated signed header", in: []string{"ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host;host,Signature=0a"}, error: "sorted"},
		{name: "empty signed header", in: []string{"ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host;;x,Signature=0a"}, error: "lower-case"},
		{name: "too long", in: []string{good + strings.Repeat(" ", 5000) + "x"}, error: "longer than 4096"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseV3Authorization(tt.in)
			if tt.error != "" {
				require.NotNil(t, err)
				assert.Equal(t, codeIncompleteSignature, err.code)
				assert.Contains(t, err.message, tt.error)
				return
			}
			require.Nil(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// FuzzParseV3Authorization: any header value is either refused with
// IncompleteSignature or parsed into fields that satisfy the parser's
// promises (non-empty credential and signature, sorted lower-case signed
// headers); it never panics, and a refusal quotes at most a bounded piece
// of the input.
func FuzzParseV3Authorization(f *testing.F) {
	f.Add("ACS3-HMAC-SHA256 Credential=LTAIabc,SignedHeaders=host;x-acs-action,Signature=0a1b")
	f.Add("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=,Signature=b")
	f.Add("ACS3-HMAC-SM3 Credential=a")
	f.Add("ACS3-HMAC-SHA256 ,,,==")
	f.Fuzz(func(t *testing.T, v string) {
		a, err := parseV3Authorization([]string{v})
		if err != nil {
			if err.code != codeIncompleteSignature {
				t.Fatalf("code %q", err.code)
			}
			if len(err.message) > 600 {
				t.Fatalf("message of %d bytes", len(err.message))
			}
			return
		}
		if a.algorithm != algorithmACS3HMACSHA256 || a.accessKeyID == "" || a.signature == "" {
			t.Fatalf("accepted %q as %+v", v, a)
		}
		for i, h := range a.signedHeaders {
			if h == "" || h != strings.ToLower(h) || (i > 0 && a.signedHeaders[i-1] >= h) {
				t.Fatalf("signed headers %q", a.signedHeaders)
			}
		}
	})
}
