// Command startup-secrets is a service that reads its secrets at start-up
// and refuses to serve unless it can.
//
// Before fetching anything it runs a preflight: it learns who it is (STS),
// reads its own RAM policies and the key and secret facts, and checks every
// operation it will perform. If a permission is missing it prints exactly
// which action on which resource, and the statement to add, then exits with
// status 1 before serving.
//
// With no cloud credentials it runs on package kmstest's KMS emulator, seeded
// with a service account whose policy allows kms:GetSecretValue on its
// secret but not kms:Decrypt on the self-managed key that encrypts it:
//
//	go run ./examples/startup-secrets                  # prints the missing kms:Decrypt, exits 1
//	go run ./examples/startup-secrets -grant-decrypt   # starts, prints the secret's version id
//	go run ./examples/startup-secrets -stale-policy    # trusts an out-of-date policy file: KMS's DryRun disagrees, exits 1
//
// Its GetSecretValue grant holds only from the service's public egress
// range (an acs:SourceIp condition). The service does not know its public
// address, so the local decision on that statement is conditional, and
// the report says KMS's DryRun settled it. With -stale-policy the service
// checks against the policy document its team keeps in the repository,
// which grants kms:Decrypt, instead of reading the live one, which does
// not: the local check allows, KMS's DryRun denies, and the report names
// the disagreement and the missing action.
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
	"github.com/kmsenvelope/kmsenvelope/kmstest"
	"github.com/kmsenvelope/kmsenvelope/localauthz"
)

// options are the demo's switches.
type options struct {
	grantDecrypt bool // on the emulator, grant kms:Decrypt on the secret's key
	stalePolicy  bool // check against a policy file that grants more than RAM does
}

func main() {
	var o options
	flag.BoolVar(&o.grantDecrypt, "grant-decrypt", false, "on the emulator, also grant kms:Decrypt on the secret's key")
	flag.BoolVar(&o.stalePolicy, "stale-policy", false, "on the emulator, check against an out-of-date policy document instead of the live policies")
	flag.Parse()
	os.Exit(run(context.Background(), os.Stdout, o))
}

func run(ctx context.Context, out io.Writer, o options) int {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cfg, names, cleanup, err := configure(out, o)
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
func configure(out io.Writer, o options) (kmsenvelope.Config, []string, func(), error) {
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

	srv, err := kmstest.New(kmstest.WithRegion(region))
	if err != nil {
		return kmsenvelope.Config{}, nil, nil, err
	}
	acct := srv.DefaultAccount()
	keyID, keyARN, err := srv.CreateKey(acct, kmstest.KeyOptions{Description: "orders database secrets"})
	if err != nil {
		srv.Close()
		return kmsenvelope.Config{}, nil, nil, err
	}
	secretARN, err := srv.CreateSecret(acct, "orders-db-password", []byte("s3cr3t-never-printed"), kmstest.SecretOptions{EncryptionKeyID: keyID, VersionID: "v1"})
	if err != nil {
		srv.Close()
		return kmsenvelope.Config{}, nil, nil, err
	}
	user := kmstest.UserARN(acct, "orders-svc")
	statements := []string{
		// What the service needs to run, from its egress range only...
		`{"Effect":"Allow","Action":["kms:GetSecretValue","kms:DescribeSecret"],"Resource":"` + secretARN + `",` +
			`"Condition":{"IpAddress":{"acs:SourceIp":"203.0.113.0/24"}}}`,
		`{"Effect":"Allow","Action":"kms:DescribeKey","Resource":"` + keyARN + `"}`,
		// ...and to read its own policies for the preflight.
		`{"Effect":"Allow","Action":["ram:ListPoliciesForUser","ram:ListGroupsForUser"],"Resource":"` + user + `"}`,
		`{"Effect":"Allow","Action":["ram:GetPolicy","ram:GetPolicyVersion"],"Resource":"acs:ram::` + acct + `:policy/*"}`,
	}
	if o.grantDecrypt {
		statements = append(statements, `{"Effect":"Allow","Action":"kms:Decrypt","Resource":"`+keyARN+`"}`)
	}
	doc := `{"Version":"1","Statement":[` + strings.Join(statements, ",") + `]}`
	if err := srv.AttachPolicy(user, "orders-svc-runtime", doc); err != nil {
		srv.Close()
		return kmsenvelope.Config{}, nil, nil, err
	}
	srv.EnforcePolicies()
	cred := srv.AddUser(acct, "orders-svc")
	// The emulator sees the service at its (documentation-range) public
	// egress address, as KMS would behind the service's NAT gateway.
	if err := srv.SetRequestFacts(cred.AccessKeyID, kmstest.RequestFacts{SourceIP: "203.0.113.7"}); err != nil {
		srv.Close()
		return kmsenvelope.Config{}, nil, nil, err
	}
	fmt.Fprintf(out, "no cloud credentials: using the embedded KMS emulator at %s\n", srv.URL())
	cfg := srv.ClientConfig(cred) // the emulator's region, endpoint and credentials
	cfg.SecretNames = []string{"orders-db-password"}
	cfg.LivePolicies = true
	cfg.PolicyMode = kmsenvelope.PolicyEnforce
	if o.stalePolicy {
		// The document the team keeps in its repository: it says Decrypt
		// was granted, but nobody attached that version.
		stale := `{"Version":"1","Statement":[` +
			`{"Effect":"Allow","Action":["kms:GetSecretValue","kms:DescribeSecret"],"Resource":"` + secretARN + `"},` +
			`{"Effect":"Allow","Action":["kms:Decrypt","kms:DescribeKey"],"Resource":"` + keyARN + `"}]}`
		cfg.LivePolicies, cfg.Principal = false, user
		cfg.Policies = []kmsenvelope.Policy{{Kind: localauthz.RAMPolicy, Name: "policies/orders-svc.json", Document: []byte(stale)}}
	}
	return cfg, cfg.SecretNames, func() { srv.Close() }, nil
}
