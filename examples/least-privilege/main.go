// Command least-privilege runs a workload, records the KMS calls the client
// made, and prints the minimal RAM policy that allows exactly those calls:
// a starting point for a service account's policy that grants nothing more
// than the code uses.
//
//	go run ./examples/least-privilege
//
// With no cloud credentials it runs on package kmstest's KMS emulator as a
// staging service account that may do anything, so every call succeeds and
// is recorded. Against real KMS, set ALIBABA_CLOUD_* credentials, KMS_KEY_ID
// and SECRET_NAMES, and run it with a principal that is allowed the
// workload (for example in a staging account).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kmsenvelope/kmsenvelope"
	"github.com/kmsenvelope/kmsenvelope/kmstest"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "least-privilege:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cfg, cleanup, err := configure(out)
	if err != nil {
		return err
	}
	defer cleanup()
	client, err := kmsenvelope.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer client.Close()

	// The workload: what the service does in production.
	for i := range 3 {
		msg, err := client.Encrypt(ctx, []byte(fmt.Sprint("order ", i)), map[string]string{"tenant": "acme"})
		if err != nil {
			return err
		}
		if _, err := client.Decrypt(ctx, msg); err != nil {
			return err
		}
	}
	for _, name := range cfg.SecretNames {
		if _, err := client.Secret(ctx, name); err != nil {
			return err
		}
	}

	fmt.Fprintln(out, "KMS calls made by the workload:")
	for _, c := range client.Stats().Calls {
		fmt.Fprintf(out, "  %dx %s on %s\n", c.Count, c.Operation, c.Resource)
	}
	policy, err := client.LeastPrivilegePolicy()
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "minimal RAM policy for this workload:")
	fmt.Fprintln(out, policy)
	return nil
}

func configure(out io.Writer) (kmsenvelope.Config, func(), error) {
	region := os.Getenv("ALIBABA_CLOUD_REGION_ID")
	if region == "" {
		region = "cn-hangzhou"
	}
	if os.Getenv("ALIBABA_CLOUD_ACCESS_KEY_ID") != "" {
		names := strings.Split(os.Getenv("SECRET_NAMES"), ",")
		if names[0] == "" {
			names = nil
		}
		return kmsenvelope.Config{Region: region, KeyID: os.Getenv("KMS_KEY_ID"), SecretNames: names}, func() {}, nil
	}
	srv, err := kmstest.New(kmstest.WithRegion(region))
	if err != nil {
		return kmsenvelope.Config{}, nil, err
	}
	acct := srv.DefaultAccount()
	keyID, _, err := srv.CreateKey(acct, kmstest.KeyOptions{})
	if err == nil {
		err = srv.CreateAlias(acct, "alias/orders", keyID)
	}
	if err == nil {
		_, err = srv.CreateSecret(acct, "orders-db-password", []byte("never printed"), kmstest.SecretOptions{EncryptionKeyID: keyID})
	}
	if err != nil {
		srv.Close()
		return kmsenvelope.Config{}, nil, err
	}
	// A staging identity with a broad policy (the emulator does not
	// enforce it here): the point is to learn what the code really uses.
	user := srv.AddUser(acct, "orders-svc")
	fmt.Fprintf(out, "no cloud credentials: using the embedded KMS emulator at %s as %s\n", srv.URL(), user.Principal)
	cfg := srv.ClientConfig(user) // the emulator's region, endpoint and credentials
	cfg.Principal = user.Principal
	cfg.KeyID = "alias/orders"
	cfg.SecretNames = []string{"orders-db-password"}
	return cfg, func() { srv.Close() }, nil
}
