package envelope_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"

	"github.com/kmsenvelope/kmsenvelope/envelope"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/kmstest"
)

// This example runs on package kmstest's emulator; with real KMS only the
// kmsclient.Config changes.
func Example() {
	srv, err := kmstest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	cred := srv.AddAccount(srv.DefaultAccount())
	keyID, _, _ := srv.CreateKey(srv.DefaultAccount(), kmstest.KeyOptions{})
	kms, err := kmsclient.New(srv.KMSClientConfig(cred))
	if err != nil {
		log.Fatal(err)
	}

	env, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: keyID, KMS: kms}}})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	tenant := map[string]string{"tenant": "acme"}

	// A record.
	msg, err := env.Encrypt(ctx, []byte("card ending 4242"), tenant)
	if err != nil {
		log.Fatal(err)
	}
	record, err := env.Decrypt(ctx, msg, envelope.RequireContext(tenant))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("record: %s\n", record)

	_, err = env.Decrypt(ctx, msg, envelope.RequireContext(map[string]string{"tenant": "globex"}))
	fmt.Println("as another tenant:", errors.Is(err, envelope.ErrContextMismatch))

	// A stream, in constant memory.
	var file bytes.Buffer
	w, _ := env.NewWriter(ctx, &file, tenant)
	io.WriteString(w, "a large file, written in pieces")
	w.Close()
	r, err := env.NewReader(ctx, &file)
	if err != nil {
		log.Fatal(err)
	}
	content, err := io.ReadAll(r)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("file: %s\n", content)
	fmt.Println("KMS calls for data keys:", srv.Calls("GenerateDataKey"))
	// Output:
	// record: card ending 4242
	// as another tenant: true
	// file: a large file, written in pieces
	// KMS calls for data keys: 1
}
