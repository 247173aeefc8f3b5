package kmsclient_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/kmstest"
)

// This example runs against package kmstest's emulator; against real KMS
// only the Config changes (Region, and credentials from the environment).
func Example() {
	srv, err := kmstest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	cred := srv.AddUser(srv.DefaultAccount(), "app")
	keyID, _, _ := srv.CreateKey(srv.DefaultAccount(), kmstest.KeyOptions{})

	c, err := kmsclient.New(kmsclient.Config{
		Region:      srv.Region(),
		Endpoint:    srv.URL(), // http://127.0.0.1:PORT
		Credentials: kmsclient.StaticCredentials(cred.AccessKeyID, cred.AccessKeySecret),
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	ec := map[string]string{"tenant": "acme"}

	dk, err := c.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: keyID, EncryptionContext: ec})
	if err != nil {
		log.Fatal(err)
	}
	defer dk.Plaintext.Wipe()
	fmt.Println("data key:", dk.Plaintext)

	out, err := c.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: ec})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("unwrapped the same key:", out.Plaintext.Equal(dk.Plaintext))

	srv.Deny(cred.Principal, "kms:Decrypt")
	_, err = c.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: ec})
	var ae *kmsclient.APIError
	if errors.Is(err, kmsclient.ErrAccessDenied) && errors.As(err, &ae) {
		fmt.Println("denied:", ae.AccessDenied.Action)
	}
	// Output:
	// data key: [REDACTED 32 bytes]
	// unwrapped the same key: true
	// denied: kms:Decrypt
}
