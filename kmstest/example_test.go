package kmstest_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/kmsenvelope/kmsenvelope"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/kmstest"
)

// A test of a service that may encrypt but not decrypt. In a test, use
// kmstest.Start(t), which closes the Server when the test ends.
func Example() {
	srv, err := kmstest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	acct := srv.DefaultAccount()
	keyID, keyARN, err := srv.CreateKey(acct, kmstest.KeyOptions{})
	if err != nil {
		log.Fatal(err)
	}
	err = srv.AttachPolicy(kmstest.UserARN(acct, "svc"), "svc", `{"Version":"1","Statement":[
		{"Effect":"Allow","Action":"kms:GenerateDataKey","Resource":"`+keyARN+`"}]}`)
	if err != nil {
		log.Fatal(err)
	}
	srv.EnforcePolicies()

	cfg := srv.ClientConfig(srv.AddUser(acct, "svc"))
	cfg.KeyID = keyID
	ctx := context.Background()
	client, err := kmsenvelope.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	msg, err := client.Encrypt(ctx, []byte("record"), map[string]string{"tenant": "acme"})
	fmt.Println("encrypted:", err == nil)
	_, err = client.Decrypt(ctx, msg)
	var ae *kmsclient.APIError
	if errors.As(err, &ae) && errors.Is(err, kmsclient.ErrAccessDenied) {
		fmt.Println("decrypt denied, missing", ae.AccessDenied.Action)
	}
	fmt.Println("GenerateDataKey calls:", srv.Calls("GenerateDataKey"), "Decrypt calls:", srv.Calls("Decrypt"))
	// Output:
	// encrypted: true
	// decrypt denied, missing kms:Decrypt
	// GenerateDataKey calls: 1 Decrypt calls: 1
}

// Throttling on the first call: kmsclient retries and succeeds, and the
// counters show both attempts.
func ExampleServer_InjectFault() {
	srv, err := kmstest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	keyID, _, _ := srv.CreateKey(srv.DefaultAccount(), kmstest.KeyOptions{})
	srv.InjectFault(kmstest.Fault{Kind: kmstest.FaultThrottle, Action: "GenerateDataKey", Count: 1})

	cfg := srv.KMSClientConfig(srv.AddUser(srv.DefaultAccount(), "app"))
	cfg.InitialBackoff = time.Millisecond
	c, err := kmsclient.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	dk, err := c.GenerateDataKey(context.Background(), &kmsclient.GenerateDataKeyInput{KeyID: keyID})
	if err != nil {
		log.Fatal(err)
	}
	defer dk.Plaintext.Wipe()
	fmt.Println("data key:", dk.Plaintext)
	fmt.Println("requests:", srv.Calls("GenerateDataKey"))
	// Output:
	// data key: [REDACTED 32 bytes]
	// requests: 2
}

// A KMS 3.0 instance gateway serves the data path, and nothing on it
// reaches a management API.
func ExampleServer_NewInstanceGateway() {
	srv, err := kmstest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	acct := srv.DefaultAccount()
	keyID, _, _ := srv.CreateKey(acct, kmstest.KeyOptions{InstanceID: "kst-hzz6demo"})
	gw, err := srv.NewInstanceGateway("kst-hzz6demo")
	if err != nil {
		log.Fatal(err)
	}

	cfg := gw.ClientConfig(srv.AddUser(acct, "app"))
	cfg.KeyID = keyID
	ctx := context.Background()
	client, err := kmsenvelope.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	msg, _ := client.Encrypt(ctx, []byte("record"), nil)
	pt, err := client.Decrypt(ctx, msg)
	fmt.Printf("%s %v\n", pt, err)
	fmt.Println("gateway:", gw.Host())
	fmt.Println("management calls:", srv.ManagementCalls())
	// Output:
	// record <nil>
	// gateway: kst-hzz6demo.cryptoservice.kms.aliyuncs.com
	// management calls: 0
}
