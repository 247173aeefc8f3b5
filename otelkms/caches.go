package otelkms

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/kmsenvelope/kmsenvelope/keycache"
	"github.com/kmsenvelope/kmsenvelope/secrets"
)

func counter(m metric.Meter, name, unit, desc string) metric.Int64Counter {
	c, _ := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	return c
}

// KeyCacheEvents returns a [keycache.Config.OnEvent] that counts the data-key
// cache's hits, misses, fetches, fetch errors and evictions. Chain it with
// another OnEvent by calling both.
func KeyCacheEvents(o Options) func(keycache.Event) {
	m := o.meter()
	hits := counter(m, "kmsenvelope.keycache.hits", "{get}", "Data-key cache lookups served from the cache.")
	misses := counter(m, "kmsenvelope.keycache.misses", "{get}", "Data-key cache lookups that found no usable entry.")
	fetches := counter(m, "kmsenvelope.keycache.fetches", "{fetch}", "Data-key fetches (KMS calls) started by the cache.")
	fetchErrors := counter(m, "kmsenvelope.keycache.fetch_errors", "{fetch}", "Data-key fetches that failed.")
	evictions := counter(m, "kmsenvelope.keycache.evictions", "{entry}", "Data-key cache entries retired, by reason.")
	enc := metric.WithAttributeSet(attribute.NewSet(MaterialsKey.String("encryption")))
	dec := metric.WithAttributeSet(attribute.NewSet(MaterialsKey.String("decryption")))
	ctx := context.Background()
	return func(ev keycache.Event) {
		set := dec
		if ev.Encryption {
			set = enc
		}
		switch ev.Kind {
		case keycache.EventHit:
			hits.Add(ctx, 1, set)
		case keycache.EventMiss:
			misses.Add(ctx, 1, set)
		case keycache.EventFetch:
			fetches.Add(ctx, 1, set)
		case keycache.EventFetchError:
			fetchErrors.Add(ctx, 1, set)
		case keycache.EventEvict:
			materials := "decryption"
			if ev.Encryption {
				materials = "encryption"
			}
			evictions.Add(ctx, 1, metric.WithAttributes(MaterialsKey.String(materials), EvictReasonKey.String(ev.Reason.String())))
		}
	}
}

// SecretsEvents returns a [secrets.Config.OnEvent] that counts the secrets
// cache's hits, misses, fetches, fetch errors, evictions, stale serves,
// background refreshes and their failures, rotations seen, and file-cache
// loads and errors.
func SecretsEvents(o Options) func(secrets.Event) {
	m := o.meter()
	by := map[secrets.EventKind]metric.Int64Counter{
		secrets.EventHit:            counter(m, "kmsenvelope.secrets.hits", "{get}", "Secret reads served fresh from the cache."),
		secrets.EventMiss:           counter(m, "kmsenvelope.secrets.misses", "{get}", "Secret reads that found no fresh value."),
		secrets.EventFetch:          counter(m, "kmsenvelope.secrets.fetches", "{fetch}", "GetSecretValue calls made by the cache."),
		secrets.EventFetchError:     counter(m, "kmsenvelope.secrets.fetch_errors", "{fetch}", "GetSecretValue calls that failed."),
		secrets.EventStaleServed:    counter(m, "kmsenvelope.secrets.stale_served", "{get}", "Expired values served because KMS could not be reached."),
		secrets.EventRefresh:        counter(m, "kmsenvelope.secrets.refreshes", "{fetch}", "Successful background refreshes."),
		secrets.EventRefreshError:   counter(m, "kmsenvelope.secrets.refresh_failures", "{fetch}", "Background refreshes that failed."),
		secrets.EventRotation:       counter(m, "kmsenvelope.secrets.rotations", "{change}", "New secret versions seen."),
		secrets.EventFileCacheLoad:  counter(m, "kmsenvelope.secrets.file_cache.loads", "{get}", "Values served from the encrypted file cache."),
		secrets.EventFileCacheError: counter(m, "kmsenvelope.secrets.file_cache.errors", "{error}", "File cache reads or writes that failed."),
	}
	evictions := counter(m, "kmsenvelope.secrets.evictions", "{entry}", "Secret values dropped from the cache, by reason.")
	ctx := context.Background()
	return func(ev secrets.Event) {
		if ev.Kind == secrets.EventEvict {
			evictions.Add(ctx, 1, metric.WithAttributes(EvictReasonKey.String(ev.Reason)))
			return
		}
		if c := by[ev.Kind]; c != nil {
			c.Add(ctx, 1)
		}
	}
}
