package otelkms_test

import (
	"context"
	"log"

	"github.com/kmsenvelope/kmsenvelope/keycache"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/otelkms"
	"github.com/kmsenvelope/kmsenvelope/secrets"
)

// Wire the three hooks; with Options{} they follow the global providers
// (otel.SetTracerProvider, otel.SetMeterProvider), no-ops until the program
// installs an SDK.
func Example() {
	tel := otelkms.Options{}
	kc, err := kmsclient.New(kmsclient.Config{Region: "cn-hangzhou", Tracer: otelkms.NewTracer(tel)})
	if err != nil {
		log.Fatal(err)
	}
	defer kc.Close()
	cache, err := keycache.New(keycache.Config{OnEvent: otelkms.KeyCacheEvents(tel)})
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()
	sc, err := secrets.New(kc, secrets.Config{OnEvent: otelkms.SecretsEvents(tel)})
	if err != nil {
		log.Fatal(err)
	}
	defer sc.Close()
	// Every call made with ctx is a child of the span in ctx.
	_, _ = sc.Get(context.Background(), "db-password")
}
