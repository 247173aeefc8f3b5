package kmsenvelope_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	kmsenvelope "github.com/kmsenvelope/kmsenvelope"
)

// TestClientTracesKMSCalls: the root Client traces its KMS calls through
// the global OpenTelemetry provider once the program installs one, parented
// on the caller's span (issue 17), and no span carries the plaintext.
func TestClientTracesKMSCalls(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev); _ = tp.Shutdown(context.Background()) })

	w := newWorld(t)
	cfg := w.config(kmsenvelope.PolicyOff)
	cfg.LivePolicies, cfg.SecretNames = false, nil
	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	c, err := kmsenvelope.New(ctx, cfg)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Encrypt(ctx, []byte("canary-plaintext-7f3a"), nil)
	require.NoError(t, err)
	parent.End()

	var names []string
	for _, s := range exp.GetSpans() {
		names = append(names, s.Name)
		if strings.Contains(s.Name, "GenerateDataKey") {
			assert.Equal(t, parent.SpanContext().TraceID(), s.SpanContext.TraceID(), "parented on the caller's span")
		}
		for _, a := range s.Attributes {
			assert.NotContains(t, a.Value.Emit(), "canary-plaintext")
		}
	}
	assert.Contains(t, strings.Join(names, " "), "GenerateDataKey", "spans: %v", names)
}
