package testkms

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPercentEncode(t *testing.T) {
	tests := map[string]string{
		"":                 "",
		"abc-_.~XYZ019":    "abc-_.~XYZ019",
		"a b":              "a%20b",
		"*":                "%2A",
		"+":                "%2B",
		"/":                "%2F",
		"=&":               "%3D%26",
		"2026-11-23T08:44": "2026-11-23T08%3A44",
		"é":                "%C3%A9",
		`{"k":"v"}`:        "%7B%22k%22%3A%22v%22%7D",
	}
	for in, want := range tests {
		assert.Equal(t, want, percentEncode(in), "percentEncode(%q)", in)
	}
}

// sdkSigned signs an Encrypt request with the real SDK and returns its query
// parameters and the SDK's string to sign.
func sdkSigned(t testing.TB, keyID, plaintext, ctx string) (url.Values, string) {
	t.Helper()
	req := kms.CreateEncryptRequest()
	req.KeyId, req.Plaintext, req.EncryptionContext = keyID, plaintext, ctx
	require.NoError(t, requests.InitParams(req))
	provider := credentials.NewStaticSTSCredentialsProvider("STS.id", "secret", "token/+=")
	require.NoError(t, auth.Sign(req, nil, "cn-hangzhou", provider))
	q := url.Values{}
	for k, v := range req.GetQueryParams() {
		q.Set(k, v)
	}
	return q, req.GetStringToSign()
}

func TestStringToSignMatchesSDK(t *testing.T) {
	q, want := sdkSigned(t, "alias/test key*~+", "c2VjcmV0", `{"tenant":"a b","x":"*~%"}`)
	got := stringToSign("POST", q)
	assert.Equal(t, want, got)
	assert.True(t, signatureMatches("secret", got, q.Get("Signature")))
	assert.False(t, signatureMatches("Secret", got, q.Get("Signature")))
	assert.Contains(t, got, "SignatureType%3D%26", "empty SignatureType is signed")

	// Redaction hides sensitive values and nothing else.
	red := redactedStringToSign("POST", q)
	assert.NotContains(t, red, "c2VjcmV0")
	assert.NotContains(t, red, percentEncode(percentEncode("token/+=")))
	assert.Contains(t, red, "alias%252Ftest")
}

func FuzzStringToSignMatchesSDK(f *testing.F) {
	f.Add("key-1", "c2VjcmV0", `{"a":"b"}`)
	f.Add("alias/x y*~+", "plain text", "")
	f.Add("acs:kms:cn-hangzhou:1:key/k", "\x00\xff%", `{"é":"☃"}`)
	f.Fuzz(func(t *testing.T, keyID, plaintext, ctx string) {
		q, want := sdkSigned(t, keyID, plaintext, ctx)
		// What the SDK puts on the wire is what the server parses.
		wire, err := url.ParseQuery(q.Encode())
		require.NoError(t, err)
		got := stringToSign("POST", wire)
		if got != want {
			t.Fatalf("string to sign differs\n got: %q\nwant: %q", got, want)
		}
		if !signatureMatches("secret", got, wire.Get("Signature")) {
			t.Fatal("signature does not verify")
		}
	})
}

// checkAnswer asserts that rec holds a well-formed answer: JSON, string
// RequestId, and on error string Code/Message/HostId/Recommend.
func checkAnswer(t *testing.T, s *Server, rec *httptest.ResponseRecorder) {
	t.Helper()
	if n := s.panics.Load(); n != 0 {
		t.Fatalf("handler panicked %d times", n)
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("status %d, answer is not JSON: %q", rec.Code, rec.Body.String())
	}
	fields := []string{"RequestId"}
	if rec.Code != http.StatusOK {
		fields = append(fields, "Code", "Message", "HostId", "Recommend")
	}
	for _, k := range fields {
		if _, ok := body[k].(string); !ok {
			t.Fatalf("status %d: %s is not a string in %s", rec.Code, k, rec.Body.String())
		}
	}
	if d, ok := body["AccessDeniedDetail"]; ok {
		if _, isObj := d.(map[string]any); !isObj {
			t.Fatalf("AccessDeniedDetail is not an object: %s", rec.Body.String())
		}
	}
}

// FuzzVerify feeds arbitrary requests to the handler: it must never panic
// and always answer in Alibaba's JSON error format.
func FuzzVerify(f *testing.F) {
	s := newServer(Options{})
	cred := s.AddAccount(DefaultAccountID)
	good, _ := sdkSigned(f, "key-1", "eA==", "")
	f.Add("POST", good.Encode(), "")
	f.Add("GET", "Action=DescribeRegions&AccessKeyId="+cred.AccessKeyID+"&Signature=x", "")
	f.Add("POST", "", "Action=Encrypt&Signature=%zz")
	f.Add("POST", "a=%&b", "")
	f.Add("DELETE", "Signature=a&Signature=b&AccessKeyId="+cred.AccessKeyID, "x=1")
	f.Fuzz(func(t *testing.T, method, rawQuery, body string) {
		if method == "" || strings.ContainsAny(method, " \t\r\n()<>@,;:\\\"/[]?={}") {
			method = "POST"
		}
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Method = method
		r.URL.RawQuery = rawQuery
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, r)
		checkAnswer(t, s, rec)
	})
}

// FuzzSignedRequest sends correctly signed requests with arbitrary actions
// and parameters, so that they reach the handlers.
func FuzzSignedRequest(f *testing.F) {
	s := newServer(Options{})
	cred := s.AddAccount(DefaultAccountID)
	keyID, _, err := s.CreateKey(DefaultAccountID, KeyOptions{})
	require.NoError(f, err)
	require.NoError(f, s.CreateAlias(DefaultAccountID, "alias/f", keyID))
	_, err = s.CreateSecret(DefaultAccountID, "sec", []byte("v"), SecretOptions{EncryptionKeyID: keyID})
	require.NoError(f, err)
	blob, err := seal(keyID, "x", make([]byte, 32), []byte("p"), nil)
	require.NoError(f, err)

	f.Add("Encrypt", "KeyId", "alias/f", "Plaintext", "eA==")
	f.Add("Decrypt", "CiphertextBlob", blob, "EncryptionContext", `{"a":"b"}`)
	f.Add("GenerateDataKey", "KeyId", keyID, "NumberOfBytes", "0")
	f.Add("ReEncrypt", "CiphertextBlob", blob, "DestinationKeyId", "acs:kms:cn-hangzhou::key/")
	f.Add("ListKeys", "Filters", `[{"Key":"KeyState"}]`, "PageNumber", "99999999999999999999")
	f.Add("TagResource", "SecretName", "sec", "Tags", `[{}]`)
	f.Add("UpdateSecretVersionStage", "SecretName", "sec", "MoveToVersion", "v1")
	f.Add("PutSecretValue", "SecretName", "sec", "VersionStages", `[""]`)
	f.Add("CreateSecret", "SecretName", "n", "SecretDataType", "binary")
	f.Add("ScheduleKeyDeletion", "KeyId", keyID, "PendingWindowInDays", "-1")
	f.Fuzz(func(t *testing.T, action, k1, v1, k2, v2 string) {
		p := url.Values{}
		p.Set("Action", action)
		p.Set("Version", kmsVersion)
		p.Set("Format", "JSON")
		p.Set("Timestamp", time.Now().UTC().Format(timestampLayout))
		p.Set("SignatureMethod", "HMAC-SHA1")
		p.Set("SignatureVersion", "1.0")
		p.Set("SignatureType", "")
		p.Set("SignatureNonce", newUUID())
		p.Set("AccessKeyId", cred.AccessKeyID)
		p.Set("RegionId", "cn-hangzhou")
		for _, kv := range [][2]string{{k1, v1}, {k2, v2}} {
			if _, reserved := p[kv[0]]; !reserved && kv[0] != paramSignature && kv[0] != "SecurityToken" {
				p.Set(kv[0], kv[1])
			}
		}
		p.Set(paramSignature, computeSignature(cred.AccessKeySecret, stringToSign("POST", p)))
		r := httptest.NewRequest("POST", "/?"+p.Encode(), nil)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, r)
		checkAnswer(t, s, rec)
		if rec.Code == http.StatusBadRequest && strings.Contains(rec.Body.String(), codeSignatureMismatch) {
			t.Fatalf("self-signed request rejected: %s", rec.Body.String())
		}
	})
}

// FuzzParseBlob checks that blob parsing never panics and that an authentic
// blob opens only intact and with its own encryption context.
func FuzzParseBlob(f *testing.F) {
	material := make([]byte, 32)
	sealed, err := seal("key-1", "v1", material, []byte("pt"), map[string]string{"a": "b"})
	require.NoError(f, err)
	raw, _ := base64.StdEncoding.DecodeString(sealed)
	f.Add(raw)
	f.Add([]byte("TKM\x01"))
	f.Add([]byte("TKM\x01\x05key-1\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := parseBlob(base64.StdEncoding.EncodeToString(data))
		if err != nil {
			return
		}
		pt, err := open(b, material, map[string]string{"a": "b"})
		if err != nil {
			return
		}
		if string(pt) != "pt" {
			t.Fatalf("blob opened to unexpected plaintext: %x", data)
		}
		// Every single-bit change of an authentic blob is rejected.
		for i := range data {
			mut := append([]byte(nil), data...)
			mut[i] ^= 0x80
			if b, err := parseBlob(base64.StdEncoding.EncodeToString(mut)); err == nil {
				if _, err := open(b, material, map[string]string{"a": "b"}); err == nil {
					t.Fatalf("blob with byte %d flipped still opens", i)
				}
			}
		}
		if _, err := open(b, material, nil); err == nil {
			t.Fatal("blob opens without its encryption context")
		}
	})
}

func TestBlobLayout(t *testing.T) {
	material := make([]byte, 32)
	randomBytes(material)
	pt := []byte("hello")
	sealed, err := seal("key-abc", "ver-1", material, pt, nil)
	require.NoError(t, err)
	raw, err := base64.StdEncoding.DecodeString(sealed)
	require.NoError(t, err)
	assert.Equal(t, "TKM", string(raw[:3]))
	assert.Equal(t, byte(1), raw[3])
	assert.Equal(t, byte(len("key-abc")), raw[4])
	assert.Equal(t, "key-abc", string(raw[5:12]))
	assert.Equal(t, byte(len("ver-1")), raw[12])
	assert.Equal(t, "ver-1", string(raw[13:18]))
	assert.Len(t, raw, 18+12+len(pt)+16)

	b, err := parseBlob(sealed)
	require.NoError(t, err)
	got, err := open(b, material, map[string]string{})
	require.NoError(t, err, "no context and an empty context are the same")
	assert.Equal(t, pt, got)
	_, err = open(b, material, map[string]string{"k": ""})
	require.Error(t, err)

	_, err = seal("", "v", material, pt, nil)
	require.Error(t, err)
	_, err = seal(strings.Repeat("k", 256), "v", material, pt, nil)
	require.Error(t, err)
	_, err = parseBlob(strings.Repeat("A", maxBlobLen+4))
	require.Error(t, err)
}

// TestLatencyCancellationFreesHandler checks that a client giving up during
// injected latency releases the handler at once.
func TestLatencyCancellationFreesHandler(t *testing.T) {
	s, err := New(Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	s.InjectFault(Fault{Kind: FaultLatency, Latency: time.Minute})

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", s.URL()+"/?Action=DescribeRegions", nil)
	require.NoError(t, err)
	start := time.Now()
	_, err = (&http.Client{Transport: &http.Transport{}}).Do(req)
	require.Error(t, err)
	require.Eventually(t, func() bool { return s.inflight.Load() == 0 }, 5*time.Second, 10*time.Millisecond)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Equal(t, 1, s.Calls("DescribeRegions"))
}

func TestNonceCachePrunes(t *testing.T) {
	var n nonceCache
	now := time.Now()
	for range 5000 {
		require.True(t, n.use("ak", newUUID(), now, now.Add(time.Minute)))
	}
	require.True(t, n.use("ak", "dup", now, now.Add(time.Minute)))
	require.False(t, n.use("ak", "dup", now, now.Add(time.Minute)))
	require.True(t, n.use("other-ak", "dup", now, now.Add(time.Minute)), "nonces are per access key")
	later := now.Add(2 * time.Minute)
	require.True(t, n.use("ak", "fresh", later, later.Add(time.Minute)))
	n.mu.Lock()
	defer n.mu.Unlock()
	assert.Less(t, len(n.seen), 10, "expired nonces are pruned")
}

// TestNonceCacheAmortisedConstant: with tens of thousands of live nonces
// (far past the 4,096 above which the old cache rescanned its whole map on
// every request), each request costs O(1) amortised: the sweeps examine
// about one bucket per second that passed plus each expired entry once.
// 60,000 requests at 100 a second with a 5-minute window keep up to 30,000
// nonces live; the old cache made about 1.5e9 map visits here.
func TestNonceCacheAmortisedConstant(t *testing.T) {
	var n nonceCache
	start := time.Unix(1_700_000_000, 0)
	const uses, perSecond, window = 60_000, 100, 5 * time.Minute
	began := time.Now()
	var now time.Time
	for i := range uses {
		now = start.Add(time.Duration(i) * time.Second / perSecond)
		require.True(t, n.use("ak", strconv.Itoa(i), now, now.Add(window)))
	}
	elapsed := time.Since(began)
	n.mu.Lock()
	live, work := len(n.seen), n.work
	n.mu.Unlock()
	assert.InDelta(t, int(window/time.Second)*perSecond, live, perSecond, "the window's nonces are live, older ones dropped")
	seconds := uses / perSecond
	assert.LessOrEqual(t, work, uses+2*seconds, "each entry examined once, plus a step per second")
	assert.Less(t, elapsed, 5*time.Second, "no rescans of the whole cache (the old cache took 15.8 s here without -race)")

	// Still correct: a live nonce is refused, an expired one accepted again.
	assert.False(t, n.use("ak", strconv.Itoa(uses-1), now, now.Add(window)))
	assert.True(t, n.use("ak", "0", now, now.Add(window)), "nonce 0 expired long ago")
	assert.False(t, n.use("ak", "0", now, now.Add(window)))

	// A long quiet spell visits the buckets held, not every second.
	n.mu.Lock()
	before := n.work
	n.mu.Unlock()
	later := now.Add(365 * 24 * time.Hour)
	require.True(t, n.use("ak", "after a year", later, later.Add(window)))
	n.mu.Lock()
	defer n.mu.Unlock()
	assert.Less(t, n.work-before, 2*live, "bounded by the entries and buckets held")
	assert.Len(t, n.seen, 1)
}

// TestNonceCacheClockBackwards: a clock moved back keeps refusing live
// nonces and still drops them once they expire.
func TestNonceCacheClockBackwards(t *testing.T) {
	var n nonceCache
	t0 := time.Unix(1_700_000_000, 0)
	require.True(t, n.use("ak", "a", t0, t0.Add(time.Minute)))
	back := t0.Add(-10 * time.Minute)
	require.True(t, n.use("ak", "b", back, back.Add(time.Minute)), "filed although its second was swept")
	require.False(t, n.use("ak", "a", back, t0.Add(time.Minute)))
	far := t0.Add(time.Hour)
	require.True(t, n.use("ak", "c", far, far.Add(time.Minute)))
	n.mu.Lock()
	defer n.mu.Unlock()
	assert.Len(t, n.seen, 1, "a and b dropped")
	total := 0
	for _, keys := range n.buckets {
		total += len(keys)
	}
	assert.Equal(t, 1, total, "no key left filed")
}

// TestCloseDuringLatency checks that Close cancels a request held by
// injected latency and waits for its handler.
func TestCloseDuringLatency(t *testing.T) {
	s, err := New(Options{})
	require.NoError(t, err)
	s.InjectFault(Fault{Kind: FaultLatency, Latency: time.Minute})
	done := make(chan error, 1)
	go func() {
		resp, err := (&http.Client{Transport: &http.Transport{}}).Post(s.URL()+"/?Action=ListKeys", "text/plain", nil)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	require.Eventually(t, func() bool { return s.inflight.Load() == 1 }, 5*time.Second, 5*time.Millisecond)
	start := time.Now()
	require.NoError(t, s.Close())
	assert.Less(t, time.Since(start), 3*time.Second)
	assert.Zero(t, s.inflight.Load())
	assert.Error(t, <-done)
}
