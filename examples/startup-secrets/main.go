// Command startup-secrets is a service that reads its secrets at start-up
// and refuses to serve unless it can.
//
// Before fetching anything it runs a preflight: it learns who it is (STS),
// reads its own RAM policies and the key and secret facts, and checks every
// operation it will perform. If a permission is missing it prints exactly
// which action on which resource, and the statement to add, then exits with
// status 1 before serving.
//
// With no cloud credentials it runs on the embedded KMS emulator, seeded
// with a service account whose policy allows kms:GetSecretValue on its
// secret but not kms:Decrypt on the self-managed key that encrypts it:
//
//	go run ./examples/startup-secrets                  # prints the missing kms:Decrypt, exits 1
//	go run ./examples/startup-secrets -grant-decrypt   # starts, prints the secret's version id
//
// Against real KMS set ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET (or a RAM role),
// ALIBABA_CLOUD_REGION_ID and SECRET_NAMES (comma-separated).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kmsenvelope/kmsenvelope"
	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

func main() {
	grant := flag.Bool("grant-decrypt", false, "on the emulator, also grant kms:Decrypt on the secret's key")
	flag.Parse()
	os.Exit(run(context.Background(), os.Stdout, *grant))
}

func run(ctx context.Context, out io.Writer, grantDecrypt bool) int {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cfg, names, cleanup, err := configure(out, grantDecrypt)
	if err != nil {
		fmt.Fprintln(out, "startup-secrets:", err)
		return 2
	}
	defer cleanup()

	client, err := kmsenvelope.New(ctx, cfg)
	if err != nil {
		fmt.Fprintln(out, "startup-secrets:", err)
		return 2
	}
	defer client.Close()

	rep, err := client.Preflight(ctx)
	if err != nil {
		fmt.Fprintln(out, "startup-secrets: preflight:", err)
		return 2
	}
	fmt.Fprint(out, rep.Text())
	if !rep.OK() {
		fmt.Fprintln(out, "not serving: fix the permissions above and restart")
		return 1
	}
	if err := client.Secrets().Prefetch(ctx, names...); err != nil {
		fmt.Fprintln(out, "not serving:", err)
		return 1
	}
	for _, name := range names {
		v, err := client.Secret(ctx, name)
		if err != nil {
			fmt.Fprintln(out, "not serving:", err)
			return 1
		}
		// Never print the value; its version is enough to tell which one.
		fmt.Fprintf(out, "loaded secret %s version %s\n", name, v.VersionID())
	}
	fmt.Fprintln(out, "serving")
	return 0
}

// configure returns the client configuration: real KMS when credentials
// are set, otherwise a seeded emulator.
func configure(out io.Writer, grantDecrypt bool) (kmsenvelope.Config, []string, func(), error) {
	region := os.Getenv("ALIBABA_CLOUD_REGION_ID")
	if region == "" {
		region = "cn-hangzhou"
	}
	if os.Getenv("ALIBABA_CLOUD_ACCESS_KEY_ID") != "" {
		names := strings.Split(os.Getenv("SECRET_NAMES"), ",")
		if len(names) == 0 || names[0] == "" {
			return kmsenvelope.Config{}, nil, nil, errors.New("set SECRET_NAMES to the secrets this service reads")
		}
		return kmsenvelope.Config{Region: region, SecretNames: names, LivePolicies: true, PolicyMode: kmsenvelope.PolicyEnforce}, names, func() {}, nil
	}

	srv, err := testkms.New(testkms.Options{Region: region})
	if err != nil {
		return kmsenvelope.Config{}, nil, nil, err
	}
	acct := srv.DefaultAccount()
	keyID, keyARN, err := srv.CreateKey(acct, testkms.KeyOptions{Description: "orders database secrets"})
	if err != nil {
		srv.Close()
		return kmsenvelope.Config{}, nil, nil, err
	}
	secretARN, err := srv.CreateSecret(acct, "orders-db-password", []byte("s3cr3t-never-printed"), testkms.SecretOptions{EncryptionKeyID: keyID, VersionID: "v1"})
	if err != nil {
		srv.Close()
		return kmsenvelope.Config{}, nil, nil, err
	}
	user := "acs:ram::" + acct + ":user/orders-svc"
	statements := []string{
		// What the service needs to run...
		`{"Effect":"Allow","Action":["kms:GetSecretValue","kms:DescribeSecret"],"Resource":"` + secretARN + `"}`,
		`{"Effect":"Allow","Action":"kms:DescribeKey","Resource":"` + keyARN + `"}`,
		// ...and to read its own policies for the preflight.
		`{"Effect":"Allow","Action":["ram:ListPoliciesForUser","ram:ListGroupsForUser"],"Resource":"` + user + `"}`,
		`{"Effect":"Allow","Action":["ram:GetPolicy","ram:GetPolicyVersion"],"Resource":"acs:ram::` + acct + `:policy/*"}`,
	}
	if grantDecrypt {
		statements = append(statements, `{"Effect":"Allow","Action":"kms:Decrypt","Resource":"`+keyARN+`"}`)
	}
	doc := `{"Version":"1","Statement":[` + strings.Join(statements, ",") + `]}`
	if err := srv.AttachPolicy(user, "orders-svc-runtime", doc); err != nil {
		srv.Close()
		return kmsenvelope.Config{}, nil, nil, err
	}
	srv.EnforcePolicies()
	cred := srv.AddUser(acct, "orders-svc")
	fmt.Fprintf(out, "no cloud credentials: using the embedded KMS emulator at %s\n", srv.URL())
	cfg := kmsenvelope.Config{
		Region:       region,
		Endpoint:     "http://" + srv.Endpoint(),
		Credentials:  kmsclient.StaticCredentials(cred.AccessKeyID, cred.AccessKeySecret),
		SecretNames:  []string{"orders-db-password"},
		LivePolicies: true,
		PolicyMode:   kmsenvelope.PolicyEnforce,
	}
	return cfg, cfg.SecretNames, func() { srv.Close() }, nil
}
