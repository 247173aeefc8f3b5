// Command quickstart shows kmsenvelope's KMS client at work.
//
// With no cloud credentials in the environment it starts the embedded KMS
// emulator on loopback, creates a key there, and runs against it:
//
//	go run ./examples/quickstart
//
// With ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET (and
// optionally ALIBABA_CLOUD_SECURITY_TOKEN) plus KMS_KEY_ID set, it runs the
// same steps against real KMS in ALIBABA_CLOUD_REGION_ID (default
// cn-hangzhou), or at KMS_ENDPOINT if set:
//
//	KMS_KEY_ID=alias/demo go run ./examples/quickstart
//
// It never prints plaintext, key bytes or credentials.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()

	client, keyID, cleanup, err := connect(out)
	if err != nil {
		return err
	}
	defer cleanup()

	md, err := client.DescribeKey(ctx, keyID)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "key %s is %s (ARN %s)\n", md.KeyID, md.State, md.ARN)

	// 1. A data key for envelope encryption, bound to an encryption context.
	ec := map[string]string{"tenant": "acme", "purpose": "quickstart"}
	dk, err := client.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: keyID, EncryptionContext: ec})
	if err != nil {
		return err
	}
	defer dk.Plaintext.Wipe()
	fmt.Fprintf(out, "GenerateDataKey: %d-byte data key %v, wrapped by key version %s into a %d-byte blob\n",
		len(dk.Plaintext), dk.Plaintext, dk.KeyVersionID, len(dk.CiphertextBlob))

	unwrapped, err := client.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: ec})
	if err != nil {
		return err
	}
	defer unwrapped.Plaintext.Wipe()
	fmt.Fprintf(out, "Decrypt: data key recovered, matches: %t\n", unwrapped.Plaintext.Equal(dk.Plaintext))

	_, err = client.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: map[string]string{"tenant": "mallory"}})
	switch {
	case errors.Is(err, kmsclient.ErrInvalidCiphertext):
		fmt.Fprintln(out, "Decrypt with the wrong encryption context: refused by KMS, as it should be")
	case err == nil:
		return errors.New("KMS decrypted with the wrong encryption context")
	default:
		return err
	}

	// 2. Direct Encrypt/Decrypt of a small value.
	secret := []byte("a small secret such as an API token")
	enc, err := client.Encrypt(ctx, &kmsclient.EncryptInput{KeyID: keyID, Plaintext: secret, EncryptionContext: ec})
	if err != nil {
		return err
	}
	dec, err := client.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Encrypt/Decrypt: %d bytes round-tripped through a %d-byte ciphertext blob, equal: %t\n",
		len(secret), len(enc.CiphertextBlob), dec.Plaintext.Equal(secret))
	fmt.Fprintln(out, "done")
	return nil
}

// connect returns a client and key id: real KMS when credentials and
// KMS_KEY_ID are set, otherwise the embedded emulator with a fresh key.
func connect(out io.Writer) (*kmsclient.Client, string, func(), error) {
	region := envOr("ALIBABA_CLOUD_REGION_ID", "cn-hangzhou")
	if os.Getenv("ALIBABA_CLOUD_ACCESS_KEY_ID") != "" {
		keyID := os.Getenv("KMS_KEY_ID")
		if keyID == "" {
			return nil, "", nil, errors.New("credentials are set but KMS_KEY_ID is not: name the key (id, ARN or alias/name) to use")
		}
		c, err := kmsclient.New(kmsclient.Config{Region: region, Endpoint: os.Getenv("KMS_ENDPOINT")})
		if err != nil {
			return nil, "", nil, err
		}
		fmt.Fprintf(out, "using Alibaba Cloud KMS at %s\n", c.Endpoint())
		return c, keyID, func() {}, nil
	}

	srv, err := testkms.New(testkms.Options{Region: region})
	if err != nil {
		return nil, "", nil, err
	}
	acct := srv.DefaultAccount()
	cred := srv.AddUser(acct, "quickstart")
	keyID, _, err := srv.CreateKey(acct, testkms.KeyOptions{Description: "quickstart demo key"})
	if err != nil {
		srv.Close()
		return nil, "", nil, err
	}
	c, err := kmsclient.New(kmsclient.Config{
		Region:      region,
		Endpoint:    strings.ToLower(srv.Scheme()) + "://" + srv.Endpoint(),
		Credentials: kmsclient.StaticCredentials(cred.AccessKeyID, cred.AccessKeySecret),
	})
	if err != nil {
		srv.Close()
		return nil, "", nil, err
	}
	fmt.Fprintf(out, "no ALIBABA_CLOUD_* credentials: using the embedded KMS emulator at %s as %s\n", srv.URL(), cred.Principal)
	return c, keyID, func() { srv.Close() }, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
