package secrets_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/kmstest"
	"github.com/kmsenvelope/kmsenvelope/secrets"
)

// This example runs against package kmstest's emulator; against real KMS
// only the kmsclient.Config changes.
func Example() {
	srv, err := kmstest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	acct := srv.DefaultAccount()
	cred := srv.AddUser(acct, "app")
	_, _ = srv.CreateSecret(acct, "db-password", []byte("hunter2"), kmstest.SecretOptions{VersionID: "v1"})
	_, _ = srv.CreateSecret(acct, "db-config", []byte(`{"host":"db.internal","port":5432}`), kmstest.SecretOptions{})

	kc, err := kmsclient.New(srv.KMSClientConfig(cred))
	if err != nil {
		log.Fatal(err)
	}
	sc, err := secrets.New(kc, secrets.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer sc.Close()
	ctx := context.Background()

	// At start-up: fetch everything, and report every failure at once.
	err = sc.Prefetch(ctx, "db-password", "db-config", "api-key")
	var pe *secrets.PrefetchError
	if errors.As(err, &pe) {
		for _, f := range pe.Failures {
			fmt.Println("missing:", f.Name, errors.Is(f.Err, kmsclient.ErrNotFound))
		}
	}

	// At runtime: served from the cache.
	pw, err := sc.Get(ctx, "db-password")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(pw) // redacted
	fmt.Println("length:", len(pw.Bytes()))

	var dbc struct {
		Host string `json:"host"`
		Port int    `json:"port"`
	}
	if err := sc.GetJSON(ctx, "db-config", &dbc); err != nil {
		log.Fatal(err)
	}
	fmt.Println(dbc.Host, dbc.Port)

	st := sc.Stats()
	fmt.Println("fetches:", st.Fetches, "hits:", st.Hits)
	// Output:
	// missing: api-key true
	// secrets.Value{name=db-password version=v1 [REDACTED 7 bytes]}
	// length: 7
	// db.internal 5432
	// fetches: 3 hits: 2
}
