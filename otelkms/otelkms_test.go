package otelkms_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/keycache"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/otelkms"
	"github.com/kmsenvelope/kmsenvelope/secrets"
)

// telemetry is an SDK tracer and meter provider with in-memory exporters.
type telemetry struct {
	spans  *tracetest.InMemoryExporter
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
}

func newTelemetry(t *testing.T) *telemetry {
	t.Helper()
	tel := &telemetry{spans: tracetest.NewInMemoryExporter(), reader: sdkmetric.NewManualReader()}
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(tel.spans))
	tel.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	t.Cleanup(func() {
		_ = tel.tp.Shutdown(context.Background())
		_ = tel.mp.Shutdown(context.Background())
	})
	return tel
}

func (tel *telemetry) opts() otelkms.Options {
	return otelkms.Options{TracerProvider: tel.tp, MeterProvider: tel.mp}
}

func (tel *telemetry) metrics(t *testing.T) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, tel.reader.Collect(context.Background(), &rm))
	return rm
}

// find returns the metric named name, failing the test if absent.
func find(t *testing.T, rm metricdata.ResourceMetrics, name string) metricdata.Metrics {
	t.Helper()
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m
			}
		}
	}
	t.Fatalf("no metric %q", name)
	return metricdata.Metrics{}
}

// sum adds up the data points of counter m whose attributes include want.
func sum(t *testing.T, m metricdata.Metrics, want ...attribute.KeyValue) int64 {
	t.Helper()
	s, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is not an int64 sum", m.Name)
	var n int64
	for _, dp := range s.DataPoints {
		if hasAll(dp.Attributes, want) {
			n += dp.Value
		}
	}
	return n
}

func hasAll(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		v, ok := set.Value(kv.Key)
		if !ok || v != kv.Value {
			return false
		}
	}
	return true
}

func attrMap(kvs []attribute.KeyValue) map[string]attribute.Value {
	m := map[string]attribute.Value{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value
	}
	return m
}

type kit struct {
	srv   *testkms.Server
	acct  string
	cred  testkms.Credential
	keyID string
}

func newKit(t *testing.T) *kit {
	t.Helper()
	srv := testkms.Start(t)
	acct := srv.DefaultAccount()
	cred := srv.AddUser(acct, "app")
	keyID, _, err := srv.CreateKey(acct, testkms.KeyOptions{Description: "otel"})
	require.NoError(t, err)
	return &kit{srv: srv, acct: acct, cred: cred, keyID: keyID}
}

func (k *kit) client(t *testing.T, tracer kmsclient.CallTracer, creds kmsclient.CredentialsProvider) *kmsclient.Client {
	t.Helper()
	if creds == nil {
		creds = kmsclient.StaticCredentials(k.cred.AccessKeyID, k.cred.AccessKeySecret)
	}
	c, err := kmsclient.New(kmsclient.Config{
		Region: k.srv.Region(), Endpoint: k.srv.URL(), Credentials: creds, Tracer: tracer,
		MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestSpansAndCallMetrics(t *testing.T) {
	k := newKit(t)
	tel := newTelemetry(t)
	c := k.client(t, otelkms.NewTracer(tel.opts()), nil)
	_, err := k.srv.CreateSecret(k.acct, "db", []byte("pw"), testkms.SecretOptions{})
	require.NoError(t, err)

	k.srv.InjectFault(testkms.Fault{Kind: testkms.FaultThrottle, Action: "GenerateDataKey", Count: 1})
	ctx, parent := tel.tp.Tracer("test").Start(context.Background(), "parent")
	dk, err := c.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: k.keyID})
	require.NoError(t, err)
	_, err = c.GetSecretValue(ctx, &kmsclient.GetSecretValueInput{SecretName: "db"})
	require.NoError(t, err)
	_, err = c.GetCallerIdentity(ctx)
	require.NoError(t, err)
	_, _ = c.GetPolicyDocument(ctx, "no-such-policy", "")
	k.srv.Deny(k.cred.Principal, "Decrypt")
	_, err = c.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: dk.CiphertextBlob})
	require.ErrorIs(t, err, kmsclient.ErrAccessDenied)
	parent.End()

	spans := tel.spans.GetSpans()
	byName := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		byName[s.Name] = s
	}
	for _, name := range []string{"Kms/GenerateDataKey", "Kms/GetSecretValue", "Sts/GetCallerIdentity", "Ram/GetPolicy", "Kms/Decrypt"} {
		require.Contains(t, byName, name)
		s := byName[name]
		assert.Equal(t, trace.SpanKindClient, s.SpanKind, name)
		assert.Equal(t, parent.SpanContext().SpanID(), s.Parent.SpanID(), "%s is parented on the caller's span", name)
		assert.Equal(t, parent.SpanContext().TraceID(), s.SpanContext.TraceID(), name)
		a := attrMap(s.Attributes)
		service, method, _ := strings.Cut(name, "/")
		host, port, _ := strings.Cut(k.srv.Endpoint(), ":")
		assert.Equal(t, otelkms.RPCSystem, a["rpc.system"].AsString(), name)
		assert.Equal(t, service, a["rpc.service"].AsString(), name)
		assert.Equal(t, method, a["rpc.method"].AsString(), name)
		assert.Equal(t, "alibaba_cloud", a["cloud.provider"].AsString(), name)
		assert.Equal(t, k.srv.Region(), a["cloud.region"].AsString(), name)
		assert.Equal(t, host, a["server.address"].AsString(), name)
		assert.Equal(t, port, fmt.Sprint(a["server.port"].AsInt64()), name)
		assert.NotEmpty(t, a["alibaba_cloud.request_id"].AsString(), name)
	}

	gdk := byName["Kms/GenerateDataKey"]
	a := attrMap(gdk.Attributes)
	assert.Equal(t, int64(2), a["kmsenvelope.attempts"].AsInt64())
	assert.Equal(t, int64(1), a["kmsenvelope.throttles"].AsInt64())
	assert.Equal(t, int64(200), a["http.response.status_code"].AsInt64())
	assert.Equal(t, codes.Unset, gdk.Status.Code)
	require.Len(t, gdk.Events, 2)
	first, second := attrMap(gdk.Events[0].Attributes), attrMap(gdk.Events[1].Attributes)
	assert.Equal(t, "attempt", gdk.Events[0].Name)
	assert.Equal(t, int64(1), first["kmsenvelope.attempt"].AsInt64())
	assert.Equal(t, "Rejected.Throttling", first["kmsenvelope.error_code"].AsString())
	assert.Equal(t, "Rejected.Throttling", first["error.type"].AsString())
	assert.True(t, first["kmsenvelope.retry"].AsBool())
	assert.True(t, first["kmsenvelope.throttled"].AsBool())
	assert.Equal(t, int64(429), first["http.response.status_code"].AsInt64())
	assert.NotEmpty(t, first["alibaba_cloud.request_id"].AsString())
	assert.Equal(t, int64(2), second["kmsenvelope.attempt"].AsInt64())
	assert.NotContains(t, second, "kmsenvelope.retry")
	assert.NotContains(t, second, "error.type")

	dec := byName["Kms/Decrypt"]
	assert.Equal(t, codes.Error, dec.Status.Code)
	assert.Equal(t, "Forbidden.NoPermission", attrMap(dec.Attributes)["error.type"].AsString())
	assert.Equal(t, "EntityNotExist.Policy", attrMap(byName["Ram/GetPolicy"].Attributes)["error.type"].AsString())

	rm := tel.metrics(t)
	gdkAttrs := []attribute.KeyValue{attribute.String("rpc.system", otelkms.RPCSystem), attribute.String("rpc.service", "Kms"),
		attribute.String("rpc.method", "GenerateDataKey"), attribute.String("cloud.provider", "alibaba_cloud"),
		attribute.String("cloud.region", k.srv.Region())}
	assert.Equal(t, int64(1), sum(t, find(t, rm, "kmsenvelope.kms.calls"), gdkAttrs...))
	assert.Equal(t, int64(2), sum(t, find(t, rm, "kmsenvelope.kms.attempts"), gdkAttrs...))
	assert.Equal(t, int64(1), sum(t, find(t, rm, "kmsenvelope.kms.throttles"), gdkAttrs...))
	assert.Equal(t, int64(1), sum(t, find(t, rm, "kmsenvelope.kms.calls"), attribute.String("rpc.method", "Decrypt"),
		attribute.String("error.type", "Forbidden.NoPermission")))
	assert.Equal(t, int64(1), sum(t, find(t, rm, "kmsenvelope.kms.calls"), attribute.String("rpc.service", "Sts")))
	h := find(t, rm, "rpc.client.call.duration")
	assert.Equal(t, "s", h.Unit)
	hist, ok := h.Data.(metricdata.Histogram[float64])
	require.True(t, ok)
	var count uint64
	for _, dp := range hist.DataPoints {
		if hasAll(dp.Attributes, gdkAttrs) {
			count += dp.Count
			assert.Greater(t, dp.Sum, 0.0)
		}
	}
	assert.Equal(t, uint64(1), count)
}

// TestGlobalProviders: with Options{} the tracer follows the global
// providers, installed after the tracer was made.
func TestGlobalProviders(t *testing.T) {
	k := newKit(t)
	tr := otelkms.NewTracer(otelkms.Options{})
	c := k.client(t, tr, nil)
	_, err := c.GenerateDataKey(context.Background(), &kmsclient.GenerateDataKeyInput{KeyID: k.keyID})
	require.NoError(t, err) // no provider yet: nothing recorded, nothing fails

	tel := newTelemetry(t)
	prevTP, prevMP := otel.GetTracerProvider(), otel.GetMeterProvider()
	otel.SetTracerProvider(tel.tp)
	otel.SetMeterProvider(tel.mp)
	t.Cleanup(func() { otel.SetTracerProvider(prevTP); otel.SetMeterProvider(prevMP) })
	_, err = c.GenerateDataKey(context.Background(), &kmsclient.GenerateDataKeyInput{KeyID: k.keyID})
	require.NoError(t, err)
	spans := tel.spans.GetSpans()
	require.Len(t, spans, 1)
	assert.Equal(t, "Kms/GenerateDataKey", spans[0].Name)
	assert.Equal(t, int64(1), sum(t, find(t, tel.metrics(t), "kmsenvelope.kms.calls")))
}

// TestObserverStillCalled: Config.Observer keeps working beside a Tracer,
// and gets the new CallInfo fields.
func TestObserverStillCalled(t *testing.T) {
	k := newKit(t)
	tel := newTelemetry(t)
	var infos []kmsclient.CallInfo
	c, err := kmsclient.New(kmsclient.Config{
		Region: k.srv.Region(), Endpoint: k.srv.URL(),
		Credentials: kmsclient.StaticCredentials(k.cred.AccessKeyID, k.cred.AccessKeySecret),
		Tracer:      otelkms.NewTracer(tel.opts()),
		Observer:    func(ci kmsclient.CallInfo) { infos = append(infos, ci) },
	})
	require.NoError(t, err)
	defer c.Close()
	_, err = c.GetCallerIdentity(context.Background())
	require.NoError(t, err)
	require.Len(t, infos, 1)
	assert.Equal(t, "GetCallerIdentity", infos[0].Operation)
	assert.Equal(t, kmsclient.ServiceSTS, infos[0].Service)
	assert.Equal(t, k.srv.Endpoint(), infos[0].Endpoint)
	assert.False(t, infos[0].Start.IsZero())
	assert.Len(t, tel.spans.GetSpans(), 1)
}

func TestKeyCacheMetrics(t *testing.T) {
	tel := newTelemetry(t)
	cache, err := keycache.New(keycache.Config{MaxMessages: 2, OnEvent: otelkms.KeyCacheEvents(tel.opts())})
	require.NoError(t, err)
	defer cache.Close()
	fetch := func(context.Context) (*keycache.Materials, error) {
		return &keycache.Materials{Key: keycache.NewKey(make([]byte, 32))}, nil
	}
	ctx := context.Background()
	for range 3 { // miss+fetch, hit, retire for messages + miss+fetch
		_, err := cache.GetEncryption(ctx, "k", 1, fetch)
		require.NoError(t, err)
	}
	_, err = cache.GetDecryption(ctx, "d", fetch)
	require.NoError(t, err)
	_, err = cache.GetDecryption(ctx, "e", func(context.Context) (*keycache.Materials, error) { return nil, fmt.Errorf("kms down") })
	require.Error(t, err)
	cache.Purge()

	rm := tel.metrics(t)
	enc, decr := otelkms.MaterialsKey.String("encryption"), otelkms.MaterialsKey.String("decryption")
	assert.Equal(t, int64(1), sum(t, find(t, rm, "kmsenvelope.keycache.hits"), enc))
	assert.Equal(t, int64(2), sum(t, find(t, rm, "kmsenvelope.keycache.misses"), enc))
	assert.Equal(t, int64(2), sum(t, find(t, rm, "kmsenvelope.keycache.fetches"), enc))
	assert.Equal(t, int64(2), sum(t, find(t, rm, "kmsenvelope.keycache.fetches"), decr))
	assert.Equal(t, int64(1), sum(t, find(t, rm, "kmsenvelope.keycache.fetch_errors"), decr))
	ev := find(t, rm, "kmsenvelope.keycache.evictions")
	assert.Equal(t, int64(1), sum(t, ev, enc, otelkms.EvictReasonKey.String("messages")))
	assert.Equal(t, int64(1), sum(t, ev, enc, otelkms.EvictReasonKey.String("purged")))
	assert.Equal(t, int64(1), sum(t, ev, decr, otelkms.EvictReasonKey.String("purged")))
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestSecretsMetrics(t *testing.T) {
	k := newKit(t)
	tel := newTelemetry(t)
	_, err := k.srv.CreateSecret(k.acct, "db", []byte("pw"), testkms.SecretOptions{})
	require.NoError(t, err)
	clk := &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	kc := k.client(t, nil, nil)
	sc, err := secrets.New(kc, secrets.Config{TTL: time.Minute, RefreshAhead: -1, Now: clk.now,
		OnEvent: otelkms.SecretsEvents(tel.opts())})
	require.NoError(t, err)
	defer sc.Close()
	ctx := context.Background()
	_, err = sc.Get(ctx, "db") // miss, fetch
	require.NoError(t, err)
	_, err = sc.Get(ctx, "db") // hit
	require.NoError(t, err)
	clk.t = clk.t.Add(2 * time.Minute)
	id := k.srv.InjectFault(testkms.Fault{Kind: testkms.FaultUnavailable})
	v, err := sc.Get(ctx, "db") // miss, fetch error, stale
	require.NoError(t, err)
	require.True(t, v.Stale())
	k.srv.RemoveFault(id)
	require.NoError(t, k.srv.PutSecretValue(k.acct, "db", []byte("pw2"), "v2"))
	_, err = sc.RefreshNow(ctx, "db") // fetch, rotation
	require.NoError(t, err)
	k.srv.Deny(k.cred.Principal, "GetSecretValue")
	_, err = sc.RefreshNow(ctx, "db") // fetch error, evict (error)
	require.ErrorIs(t, err, kmsclient.ErrAccessDenied)

	rm := tel.metrics(t)
	for name, want := range map[string]int64{
		"kmsenvelope.secrets.hits": 1, "kmsenvelope.secrets.misses": 2, "kmsenvelope.secrets.fetches": 4,
		"kmsenvelope.secrets.fetch_errors": 2, "kmsenvelope.secrets.stale_served": 1, "kmsenvelope.secrets.rotations": 1,
	} {
		assert.Equal(t, want, sum(t, find(t, rm, name)), name)
	}
	assert.Equal(t, int64(1), sum(t, find(t, rm, "kmsenvelope.secrets.evictions"), otelkms.EvictReasonKey.String(secrets.EvictError)))
}

// TestSecretsRefreshFailureMetric: a failed background refresh counts as a
// refresh failure.
func TestSecretsRefreshFailureMetric(t *testing.T) {
	k := newKit(t)
	tel := newTelemetry(t)
	_, err := k.srv.CreateSecret(k.acct, "db", []byte("pw"), testkms.SecretOptions{})
	require.NoError(t, err)
	kc := k.client(t, nil, nil)
	sc, err := secrets.New(kc, secrets.Config{TTL: 200 * time.Millisecond, RefreshAhead: 150 * time.Millisecond,
		OnEvent: otelkms.SecretsEvents(tel.opts())})
	require.NoError(t, err)
	defer sc.Close()
	ctx := context.Background()
	_, err = sc.Get(ctx, "db")
	require.NoError(t, err)
	k.srv.InjectFault(testkms.Fault{Kind: testkms.FaultUnavailable})
	_, err = sc.Get(ctx, "db") // a hit marks it used: the refresher fetches ahead
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		var rm metricdata.ResourceMetrics
		require.NoError(t, tel.reader.Collect(ctx, &rm))
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if m.Name == "kmsenvelope.secrets.refresh_failures" {
					return sum(t, m) >= 1
				}
			}
		}
		return false
	}, 5*time.Second, 20*time.Millisecond)
}

// TestCanaryNoSecretInTelemetry: no plaintext, data key, ciphertext blob,
// secret value, access key secret or security token appears in any span
// name, attribute, event, status or metric label, in any of the encodings
// a leak could take, across successes, retries and errors (including
// answers that quote what was sent).
func TestCanaryNoSecretInTelemetry(t *testing.T) {
	k := newKit(t)
	tel := newTelemetry(t)
	sts := k.srv.AssumeRole(k.acct, "deployer", "canary")
	const (
		secretValue  = "CANARY-SECRET-VALUE-7f3a9c"
		plaintext    = "CANARY-PLAINTEXT-2b8e41"
		ramSecretKey = "CANARYRAMACCESSKEYSECRET91"
	)
	_, err := k.srv.CreateSecret(k.acct, "canary", []byte(secretValue), testkms.SecretOptions{})
	require.NoError(t, err)
	ramUser := k.srv.AddUser(k.acct, "ramuser")
	_, err = k.srv.CreateSecret(k.acct, "ram-canary", fmt.Appendf(nil, `{"AccessKeyId":%q,"AccessKeySecret":%q}`, ramUser.AccessKeyID, ramUser.AccessKeySecret), testkms.SecretOptions{})
	require.NoError(t, err)

	tracer := otelkms.NewTracer(tel.opts())
	c := k.client(t, tracer, kmsclient.STSCredentials(sts.AccessKeyID, sts.AccessKeySecret, sts.SecurityToken))
	sc, err := secrets.New(c, secrets.Config{OnEvent: otelkms.SecretsEvents(tel.opts())})
	require.NoError(t, err)
	defer sc.Close()
	ramClient := k.client(t, tracer, secrets.NewRAMCredentials(sc, "ram-canary"))

	ctx := context.Background()
	k.srv.InjectFault(testkms.Fault{Kind: testkms.FaultInternal, Action: "Encrypt", Count: 1})
	enc, err := c.Encrypt(ctx, &kmsclient.EncryptInput{KeyID: k.keyID, Plaintext: []byte(plaintext)})
	require.NoError(t, err)
	dk, err := c.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: k.keyID})
	require.NoError(t, err)
	_, err = c.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"wrong": plaintext}})
	require.Error(t, err)
	bad := append([]byte(plaintext), dk.CiphertextBlob...)
	_, err = c.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: bad})
	require.Error(t, err)
	v, err := sc.Get(ctx, "canary")
	require.NoError(t, err)
	require.Equal(t, secretValue, v.Text())
	_, err = ramClient.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: k.keyID})
	require.NoError(t, err)
	k.srv.InjectFault(testkms.Fault{Kind: testkms.FaultMalformedJSON200, Action: "GetSecretValue", Count: 1})
	_, _ = sc.RefreshNow(ctx, "canary")
	// Failures whose error text names the secret, the alias or the RAM
	// credentials' secret (they used to reach the span status).
	const (
		missingSecret = "payroll-prod-db-password"
		missingRAM    = "ram/billing-prod-ak"
		missingAlias  = "alias/hr-payroll-prod"
	)
	_, err = c.GetSecretValue(ctx, &kmsclient.GetSecretValueInput{SecretName: missingSecret})
	require.Error(t, err)
	_, err = c.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: missingAlias})
	require.Error(t, err)
	badRAM := k.client(t, tracer, secrets.NewRAMCredentials(sc, missingRAM))
	_, err = badRAM.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: k.keyID})
	require.Error(t, err)

	var haystack strings.Builder
	for _, s := range tel.spans.GetSpans() {
		fmt.Fprintln(&haystack, s.Name, s.Status.Description)
		for _, kv := range s.Attributes {
			fmt.Fprintln(&haystack, kv.Key, kv.Value.Emit())
		}
		for _, e := range s.Events {
			fmt.Fprintln(&haystack, e.Name)
			for _, kv := range e.Attributes {
				fmt.Fprintln(&haystack, kv.Key, kv.Value.Emit())
			}
		}
		for _, kv := range s.Resource.Attributes() {
			fmt.Fprintln(&haystack, kv.Key, kv.Value.Emit())
		}
	}
	rm := tel.metrics(t)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			fmt.Fprintln(&haystack, m.Name, m.Description)
			fmt.Fprintf(&haystack, "%+v\n", m.Data) // data points with their attribute sets
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					for _, kv := range dp.Attributes.ToSlice() {
						fmt.Fprintln(&haystack, kv.Key, kv.Value.Emit())
					}
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					for _, kv := range dp.Attributes.ToSlice() {
						fmt.Fprintln(&haystack, kv.Key, kv.Value.Emit())
					}
				}
			}
		}
	}
	text := haystack.String()
	require.Greater(t, len(tel.spans.GetSpans()), 6)
	canaries := map[string][]byte{
		"plaintext": []byte(plaintext), "secret value": []byte(secretValue), "data key": dk.Plaintext,
		"ciphertext blob": dk.CiphertextBlob, "encrypt blob": enc.CiphertextBlob,
		"access key secret": []byte(sts.AccessKeySecret), "security token": []byte(sts.SecurityToken),
		"RAM secret's access key secret": []byte(ramUser.AccessKeySecret), "unused": []byte(ramSecretKey),
		"missing secret's name": []byte(missingSecret), "missing RAM secret's name": []byte(missingRAM),
		"alias": []byte(missingAlias), "key id": []byte(k.keyID),
	}
	for what, b := range canaries {
		for _, form := range []string{string(b), base64.StdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b), hex.EncodeToString(b)} {
			if len(form) >= 8 {
				assert.NotContains(t, text, form, "the %s leaked into telemetry", what)
			}
		}
	}
	// The identifiers that are fine to record are there.
	assert.Contains(t, text, "Kms/Encrypt")
	assert.Contains(t, text, "InternalFailure")
}

// TestCredentialsProviderSpanIsAChild: a credentials provider that reads a
// secret (RAMCredentials) runs inside the call's span, so its
// GetSecretValue is a child of the call it signs.
func TestCredentialsProviderSpanIsAChild(t *testing.T) {
	k := newKit(t)
	tel := newTelemetry(t)
	tracer := otelkms.NewTracer(tel.opts())
	ramUser := k.srv.AddUser(k.acct, "ramuser")
	_, err := k.srv.CreateSecret(k.acct, "ram", fmt.Appendf(nil, `{"AccessKeyId":%q,"AccessKeySecret":%q}`, ramUser.AccessKeyID, ramUser.AccessKeySecret), testkms.SecretOptions{})
	require.NoError(t, err)
	sc, err := secrets.New(k.client(t, tracer, nil), secrets.Config{})
	require.NoError(t, err)
	defer sc.Close()
	c := k.client(t, tracer, secrets.NewRAMCredentials(sc, "ram"))
	_, err = c.GenerateDataKey(context.Background(), &kmsclient.GenerateDataKeyInput{KeyID: k.keyID})
	require.NoError(t, err)
	spans := tel.spans.GetSpans()
	require.Len(t, spans, 2)
	byName := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		byName[s.Name] = s
	}
	gdk, gsv := byName["Kms/GenerateDataKey"], byName["Kms/GetSecretValue"]
	assert.False(t, gdk.Parent.IsValid(), "a root span without a caller span")
	assert.Equal(t, gdk.SpanContext.SpanID(), gsv.Parent.SpanID())
	assert.Equal(t, gdk.SpanContext.TraceID(), gsv.SpanContext.TraceID())
}
