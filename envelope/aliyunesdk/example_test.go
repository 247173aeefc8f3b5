package aliyunesdk_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/kmsenvelope/kmsenvelope/envelope"
	"github.com/kmsenvelope/kmsenvelope/envelope/aliyunesdk"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/kmstest"
)

// A message as a Java or Python service writes it is read, then migrated to
// a kmsenvelope message under the same context. This example runs on
// package kmstest's emulator.
func Example() {
	srv, err := kmstest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	cred := srv.AddAccount(srv.DefaultAccount())
	_, keyARN, _ := srv.CreateKey(srv.DefaultAccount(), kmstest.KeyOptions{})
	kms, err := kmsclient.New(srv.KMSClientConfig(cred))
	if err != nil {
		log.Fatal(err)
	}
	env, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: keyARN, KMS: kms}}})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	tenant := map[string]string{"tenant": "acme"}

	// What the Java SDK's encrypt call returns (AES_GCM_NOPADDING_256).
	enc, _ := aliyunesdk.NewEncrypter(env, aliyunesdk.AESGCM256)
	legacy, err := enc.Encrypt(ctx, []byte("order 1001"), tenant)
	if err != nil {
		log.Fatal(err)
	}

	_, err = env.Decrypt(ctx, legacy)
	var lf *envelope.LegacyFormatError
	fmt.Println("envelope says:", errors.As(err, &lf), lf.Function)

	d, _ := aliyunesdk.NewDecrypter(aliyunesdk.Config{Client: env})
	plaintext, msg, err := d.Decrypt(ctx, legacy, envelope.RequireContext(tenant))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("legacy: %s (%v)\n", plaintext, msg.Algorithm)

	var migrated bytes.Buffer
	report, err := (&aliyunesdk.Migrator{From: d, To: env}).Migrate(ctx, &migrated, bytes.NewReader(legacy))
	if err != nil {
		log.Fatal(err)
	}
	record, err := env.Decrypt(ctx, migrated.Bytes(), envelope.RequireContext(tenant))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("migrated: %s, %d plaintext bytes, context %v\n", record, report.PlaintextBytes, report.Context)
	// Output:
	// envelope says: true aliyunesdk.Decrypter.Decrypt
	// legacy: order 1001 (AES_GCM_NOPADDING_256)
	// migrated: order 1001, 10 plaintext bytes, context map[tenant:acme]
}
