package testkms_test

import (
	"fmt"
	"log"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
)

// A real SDK client encrypts and decrypts against the emulator, then meets
// an injected throttling fault.
func Example() {
	srv, err := testkms.New(testkms.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	keyID, _, err := srv.CreateKey(srv.DefaultAccount(), testkms.KeyOptions{Description: "demo"})
	if err != nil {
		log.Fatal(err)
	}
	cred := srv.AddUser(srv.DefaultAccount(), "app")

	cfg := sdk.NewConfig().WithAutoRetry(false).WithScheme(srv.Scheme())
	client, err := kms.NewClientWithOptions(srv.Region(), cfg,
		credentials.NewStaticAKCredentialsProvider(cred.AccessKeyID, cred.AccessKeySecret))
	if err != nil {
		log.Fatal(err)
	}
	client.Domain = srv.Endpoint()
	client.SetNoProxy("127.0.0.1") // the SDK applies HTTP_PROXY even to loopback

	enc := kms.CreateEncryptRequest()
	enc.KeyId, enc.Plaintext, enc.EncryptionContext = keyID, "aGVsbG8=", `{"purpose":"demo"}`
	encrypted, err := client.Encrypt(enc)
	if err != nil {
		log.Fatal(err)
	}
	dec := kms.CreateDecryptRequest()
	dec.CiphertextBlob, dec.EncryptionContext = encrypted.CiphertextBlob, `{"purpose":"demo"}`
	decrypted, err := client.Decrypt(dec)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("plaintext:", decrypted.Plaintext)

	srv.InjectFault(testkms.Fault{Kind: testkms.FaultThrottle, Action: "Decrypt", Count: 1})
	dec = kms.CreateDecryptRequest()
	dec.CiphertextBlob, dec.EncryptionContext = encrypted.CiphertextBlob, `{"purpose":"demo"}`
	_, err = client.Decrypt(dec)
	fmt.Println("throttled:", err != nil)
	fmt.Println("Decrypt calls:", srv.Calls("Decrypt"))
	// Output:
	// plaintext: aGVsbG8=
	// throttled: true
	// Decrypt calls: 2
}
