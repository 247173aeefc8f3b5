package kmsenvelope_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/kmsenvelope/kmsenvelope"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/kmstest"
)

// A service account that may encrypt but not decrypt: in enforce mode the
// refusal happens locally, before any request is sent, and names exactly
// what is missing. The KMS here is package kmstest's emulator; against
// real KMS only the Config changes.
func Example() {
	srv, err := kmstest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	acct := srv.DefaultAccount()
	keyID, keyARN, _ := srv.CreateKey(acct, kmstest.KeyOptions{})
	_ = srv.AttachPolicy(kmstest.UserARN(acct, "svc"), "svc", `{"Version":"1","Statement":[
		{"Effect":"Allow","Action":["kms:GenerateDataKey","kms:DescribeKey"],"Resource":"`+keyARN+`"},
		{"Effect":"Allow","Action":["ram:ListPoliciesForUser","ram:ListGroupsForUser","ram:GetPolicy"],"Resource":"*"}]}`)
	srv.EnforcePolicies()
	cred := srv.AddUser(acct, "svc")

	ctx := context.Background()
	cfg := srv.ClientConfig(cred) // Region, Endpoint and Credentials of the emulator
	cfg.KeyID = keyID
	cfg.LivePolicies = true
	cfg.PolicyMode = kmsenvelope.PolicyEnforce
	client, err := kmsenvelope.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	msg, err := client.Encrypt(ctx, []byte("record"), map[string]string{"tenant": "acme"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("encrypted:", len(msg) > 0)

	sent := srv.TotalCalls()
	_, err = client.Decrypt(ctx, msg)
	fmt.Println("access denied:", errors.Is(err, kmsclient.ErrAccessDenied))
	fmt.Println("requests sent for the refused call:", srv.TotalCalls()-sent)
	// Output:
	// encrypted: true
	// access denied: true
	// requests sent for the refused call: 0
}
