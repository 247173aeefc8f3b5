// Package otelkms connects kmsenvelope to OpenTelemetry: spans for every
// KMS, STS and RAM call of a [kmsclient.Client], and metrics for those calls
// and for the data-key cache ([keycache]) and the secrets cache
// ([secrets]).
//
// It uses only the OpenTelemetry API (go.opentelemetry.io/otel and its
// trace, metric and attribute packages): it does nothing until the program
// installs providers, either globally (otel.SetTracerProvider,
// otel.SetMeterProvider; the global providers are read when each span
// starts, and instruments made from the global meter provider before it is
// set forward to it once it is) or in [Options].
//
//	kc, err := kmsclient.New(kmsclient.Config{
//		Region: "cn-hangzhou",
//		Tracer: otelkms.NewTracer(otelkms.Options{}),
//	})
//	cache, err := keycache.New(keycache.Config{OnEvent: otelkms.KeyCacheEvents(otelkms.Options{})})
//	sc, err := secrets.New(kc, secrets.Config{OnEvent: otelkms.SecretsEvents(otelkms.Options{})})
//
// # Spans
//
// One client span per call, named "<service>/<method>" ("Kms/GenerateDataKey",
// "Sts/GetCallerIdentity", "Ram/GetPolicy"), a child of the span in the
// caller's context, with the RPC and cloud attributes of the OpenTelemetry
// semantic conventions (v1.37.0): rpc.system "alibaba_cloud_api" (the
// conventions define no value for Alibaba Cloud's OpenAPI; this one follows
// "aws-api" for AWS), rpc.service (the product code: Kms, Sts, Ram),
// rpc.method, cloud.provider "alibaba_cloud", cloud.region, server.address
// and server.port; at the end http.response.status_code,
// alibaba_cloud.request_id, kmsenvelope.attempts, kmsenvelope.throttles and,
// on failure, error.type (the Alibaba error code, or a kind such as
// "network", "timeout", "canceled", "credentials") and an Error status whose
// description is that error.type, never the error text (which can name the
// secret, alias or key id). Each HTTP attempt is an "attempt" event with its
// number, status, error code, request id, duration, and whether a retry
// follows (and after what backoff) or the credentials were refreshed.
//
// The credentials provider runs inside the span, so a provider that reads
// a secret (secrets.RAMCredentials) makes a child span.
//
// Nothing recorded holds plaintext, data keys, ciphertext blobs, secret
// values, secret names, key ids or credentials: kmsclient hands the tracer
// only the operation, endpoint, timings, status, code, request id and its
// error, of which only the error.type is recorded.
//
// # Metrics
//
// Calls: rpc.client.call.duration (histogram, seconds: the name and unit of
// the current conventions; v1.37.0 had rpc.client.duration in
// milliseconds), kmsenvelope.kms.calls,
// kmsenvelope.kms.attempts and kmsenvelope.kms.throttles (counters), with
// rpc.system, rpc.service, rpc.method, cloud.provider, cloud.region and, for
// failed calls, error.type.
//
// Data-key cache: kmsenvelope.keycache.hits, .misses, .fetches,
// .fetch_errors and .evictions, with kmsenvelope.keycache.materials
// ("encryption" or "decryption") and, for evictions, kmsenvelope.evict.reason.
//
// Secrets cache: kmsenvelope.secrets.hits, .misses, .fetches, .fetch_errors,
// .evictions (with kmsenvelope.evict.reason), .stale_served, .refreshes,
// .refresh_failures, .rotations, .file_cache.loads and .file_cache.errors.
//
// No metric carries a secret name, key id or other unbounded label.
package otelkms

import (
	"context"
	"errors"
	"net"
	"strconv"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// ScopeName is the instrumentation scope of every tracer and meter.
const ScopeName = "github.com/kmsenvelope/kmsenvelope/otelkms"

// RPCSystem is the rpc.system attribute value of every span and call metric.
const RPCSystem = "alibaba_cloud_api"

// Attribute keys this package defines beyond the semantic conventions.
const (
	RequestIDKey       = attribute.Key("alibaba_cloud.request_id")
	AttemptsKey        = attribute.Key("kmsenvelope.attempts")
	ThrottlesKey       = attribute.Key("kmsenvelope.throttles")
	AttemptKey         = attribute.Key("kmsenvelope.attempt")
	ErrorCodeKey       = attribute.Key("kmsenvelope.error_code")
	DurationKey        = attribute.Key("kmsenvelope.duration_ms")
	RetryKey           = attribute.Key("kmsenvelope.retry")
	BackoffKey         = attribute.Key("kmsenvelope.backoff_ms")
	ThrottledKey       = attribute.Key("kmsenvelope.throttled")
	CredsRefreshedKey  = attribute.Key("kmsenvelope.credentials_refreshed")
	MaterialsKey       = attribute.Key("kmsenvelope.keycache.materials")
	EvictReasonKey     = attribute.Key("kmsenvelope.evict.reason")
	attemptEventName   = "attempt"
	instrumentsVersion = "0.1.0"
)

// Options choose the providers. Nil providers mean the global ones
// (otel.GetTracerProvider, otel.GetMeterProvider), which are no-ops until
// the program installs real ones.
type Options struct {
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
}

func (o Options) meter() metric.Meter {
	mp := o.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	return mp.Meter(ScopeName, metric.WithInstrumentationVersion(instrumentsVersion), metric.WithSchemaURL(semconv.SchemaURL))
}

// Tracer is a [kmsclient.CallTracer] recording spans and call metrics.
type Tracer struct {
	tp        trace.TracerProvider // nil: the global one, read per span
	duration  metric.Float64Histogram
	calls     metric.Int64Counter
	attempts  metric.Int64Counter
	throttles metric.Int64Counter
}

var _ kmsclient.CallTracer = (*Tracer)(nil)

// NewTracer returns a CallTracer for [kmsclient.Config.Tracer].
func NewTracer(o Options) *Tracer {
	m := o.meter()
	t := &Tracer{tp: o.TracerProvider}
	// Instrument errors only come from invalid names or units, which are
	// constants here; a nil instrument falls back to a no-op.
	t.duration, _ = m.Float64Histogram("rpc.client.call.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of KMS, STS and RAM calls, retries included."),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30))
	t.calls, _ = m.Int64Counter("kmsenvelope.kms.calls", metric.WithUnit("{call}"),
		metric.WithDescription("KMS, STS and RAM calls made."))
	t.attempts, _ = m.Int64Counter("kmsenvelope.kms.attempts", metric.WithUnit("{attempt}"),
		metric.WithDescription("HTTP attempts of KMS, STS and RAM calls."))
	t.throttles, _ = m.Int64Counter("kmsenvelope.kms.throttles", metric.WithUnit("{attempt}"),
		metric.WithDescription("Attempts answered with a throttling error."))
	return t
}

func (t *Tracer) tracer() trace.Tracer {
	tp := t.tp
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return tp.Tracer(ScopeName, trace.WithInstrumentationVersion(instrumentsVersion), trace.WithSchemaURL(semconv.SchemaURL))
}

// StartCall implements [kmsclient.CallTracer].
func (t *Tracer) StartCall(ctx context.Context, cs kmsclient.CallStart) (context.Context, kmsclient.CallTrace) {
	base := []attribute.KeyValue{
		attribute.String(string(semconv.RPCSystemKey), RPCSystem),
		semconv.RPCService(cs.Service),
		semconv.RPCMethod(cs.Operation),
		semconv.CloudProviderAlibabaCloud,
		semconv.CloudRegion(cs.Region),
	}
	spanAttrs := append([]attribute.KeyValue(nil), base...)
	host, port := splitHostPort(cs.Endpoint)
	spanAttrs = append(spanAttrs, semconv.ServerAddress(host))
	if port > 0 {
		spanAttrs = append(spanAttrs, semconv.ServerPort(port))
	}
	ctx, span := t.tracer().Start(ctx, cs.Service+"/"+cs.Operation,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(cs.Start), trace.WithAttributes(spanAttrs...))
	return ctx, &callTrace{t: t, ctx: ctx, span: span, base: base}
}

type callTrace struct {
	t    *Tracer
	ctx  context.Context
	span trace.Span
	base []attribute.KeyValue
}

func (c *callTrace) Attempt(a kmsclient.AttemptInfo) {
	c.t.attempts.Add(c.ctx, 1, metric.WithAttributes(c.base...))
	if a.Throttled {
		c.t.throttles.Add(c.ctx, 1, metric.WithAttributes(c.base...))
	}
	if !c.span.IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{
		AttemptKey.Int(a.Attempt),
		DurationKey.Float64(float64(a.Duration.Microseconds()) / 1000),
	}
	if a.HTTPStatus != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(a.HTTPStatus))
	}
	if a.Code != "" {
		attrs = append(attrs, ErrorCodeKey.String(a.Code))
	}
	if a.RequestID != "" {
		attrs = append(attrs, RequestIDKey.String(a.RequestID))
	}
	if a.Err != nil {
		attrs = append(attrs, semconv.ErrorTypeKey.String(errorType(a.Code, a.Err)))
	}
	if a.Throttled {
		attrs = append(attrs, ThrottledKey.Bool(true))
	}
	if a.Retry {
		attrs = append(attrs, RetryKey.Bool(true), BackoffKey.Float64(float64(a.Backoff.Microseconds())/1000))
	}
	if a.CredentialsRefreshed {
		attrs = append(attrs, CredsRefreshedKey.Bool(true))
	}
	c.span.AddEvent(attemptEventName, trace.WithTimestamp(a.Start.Add(a.Duration)), trace.WithAttributes(attrs...))
}

func (c *callTrace) End(info kmsclient.CallInfo) {
	mattrs := c.base
	if info.Err != nil {
		mattrs = append(append([]attribute.KeyValue(nil), c.base...), semconv.ErrorTypeKey.String(errorType(info.Code, info.Err)))
	}
	set := metric.WithAttributes(mattrs...)
	c.t.calls.Add(c.ctx, 1, set)
	c.t.duration.Record(c.ctx, info.Duration.Seconds(), set)

	attrs := []attribute.KeyValue{AttemptsKey.Int(info.Attempts), ThrottlesKey.Int(info.Throttled)}
	if info.HTTPStatus != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(info.HTTPStatus))
	}
	if info.RequestID != "" {
		attrs = append(attrs, RequestIDKey.String(info.RequestID))
	}
	if info.Err != nil {
		attrs = append(attrs, semconv.ErrorTypeKey.String(errorType(info.Code, info.Err)))
		if info.Code != "" {
			attrs = append(attrs, ErrorCodeKey.String(info.Code))
		}
		// Not info.Err.Error(): kmsclient's error text may name the secret,
		// alias or key id of the request (a not-found or a denial does).
		c.span.SetStatus(codes.Error, errorType(info.Code, info.Err))
	}
	c.span.SetAttributes(attrs...)
	c.span.End(trace.WithTimestamp(info.Start.Add(info.Duration)))
}

// errorType is the error.type of a failed call or attempt: the Alibaba
// error code when there is one, else a low-cardinality kind.
func errorType(code string, err error) string {
	if code != "" {
		return code
	}
	var ue *kmsclient.UnsupportedError
	var ce *kmsclient.CredentialsError
	var ie *kmsclient.InputError
	switch {
	case errors.Is(err, kmsclient.ErrClosed):
		return "closed"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, &ce):
		return "credentials"
	case errors.As(err, &ue):
		return "unsupported"
	case errors.As(err, &ie):
		return "input"
	case errors.Is(err, kmsclient.ErrMalformedResponse):
		return "malformed_response"
	}
	var re *kmsclient.RequestError
	if errors.As(err, &re) {
		return "network"
	}
	return "_OTHER"
}

func splitHostPort(hostport string) (string, int) {
	h, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport, 0
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return h, 0
	}
	return h, n
}
