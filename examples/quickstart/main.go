// Command quickstart shows kmsenvelope at work: a preflight of the service
// account's permissions, envelope encryption of a record and of a stream,
// a secret fetched at start-up, and the cache statistics.
//
// With no cloud credentials in the environment it starts the KMS emulator
// of package kmstest on loopback, seeds a key, an alias, a secret and a service
// account with a least-privilege policy, and runs against it:
//
//	go run ./examples/quickstart
//
// With ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET (or
// another credential source of the SDK's chain) plus KMS_KEY_ID set, it
// runs the same steps against real KMS in ALIBABA_CLOUD_REGION_ID (default
// cn-hangzhou), or at KMS_ENDPOINT; SECRET_NAMES (comma-separated) adds
// secrets to fetch.
//
// It never prints plaintext, key bytes, secret values or credentials.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kmsenvelope/kmsenvelope"
	"github.com/kmsenvelope/kmsenvelope/envelope"
	"github.com/kmsenvelope/kmsenvelope/kmstest"
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

	// 1. Preflight: is every operation this service performs allowed?
	rep, err := client.Preflight(ctx)
	if err != nil {
		return err
	}
	fmt.Fprint(out, rep.Text())
	if !rep.OK() {
		return errors.New("preflight failed: grant the statements above")
	}

	// 2. A record, bound to its tenant here and at KMS.
	tenant := map[string]string{"tenant": "acme"}
	record := []byte(`{"order":1042,"card":"4242 4242 4242 4242"}`)
	msg, err := client.Encrypt(ctx, record, tenant)
	if err != nil {
		return err
	}
	h, _ := envelope.ParseHeader(msg)
	fmt.Fprintf(out, "record: %d bytes encrypted into a %d-byte message under %s\n", len(record), len(msg), h.WrappedKeys[0].KeyARN)
	back, err := client.Decrypt(ctx, msg, envelope.RequireContext(tenant))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "record: decrypted, identical: %t\n", bytes.Equal(back, record))
	_, err = client.Decrypt(ctx, msg, envelope.RequireContext(map[string]string{"tenant": "globex"}))
	fmt.Fprintf(out, "record: decrypting as tenant globex refused: %t\n", errors.Is(err, envelope.ErrContextMismatch))
	for i := range 99 { // more records for the same tenant reuse the cached data key
		if _, err := client.Encrypt(ctx, []byte(fmt.Sprint(`{"order":`, 1043+i, `}`)), tenant); err != nil {
			return err
		}
	}
	fmt.Fprintln(out, "record: 99 more records encrypted for tenant acme")

	// 3. A stream, in one frame of memory.
	file := bytes.Repeat([]byte("a line of a large report\n"), 40000) // ~1 MiB
	var sealed bytes.Buffer
	w, err := client.NewWriter(ctx, &sealed, map[string]string{"file": "report.txt"})
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, bytes.NewReader(file)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	r, err := client.NewReader(ctx, &sealed)
	if err != nil {
		return err
	}
	sum := sha256.New()
	n, err := io.Copy(sum, r)
	if err != nil {
		return err
	}
	want := sha256.Sum256(file)
	fmt.Fprintf(out, "stream: %d bytes through NewWriter/NewReader, identical: %t\n", n, bytes.Equal(sum.Sum(nil), want[:]))

	// 4. Secrets, fetched once and cached; values are never printed.
	for _, name := range cfg.SecretNames {
		v, err := client.Secret(ctx, name)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "secret %s: version %s, %v\n", name, v.VersionID(), v)
		if _, err := client.Secret(ctx, name); err != nil { // served from the cache
			return err
		}
	}

	// 5. What it cost.
	st := client.Stats()
	fmt.Fprintf(out, "data keys: %d KMS fetches, %d cache hits, %d misses\n", st.DataKeys.Fetches, st.DataKeys.Hits, st.DataKeys.Misses)
	fmt.Fprintf(out, "secrets: %d KMS fetches, %d cache hits\n", st.Secrets.Fetches, st.Secrets.Hits)
	fmt.Fprintf(out, "KMS: %d calls (%d HTTP attempts, %d errors)\n", st.KMS.Calls, st.KMS.Attempts, st.KMS.Errors)
	fmt.Fprintln(out, "done")
	return nil
}

// configure returns real-KMS settings when credentials are set, otherwise
// a seeded emulator.
func configure(out io.Writer) (kmsenvelope.Config, func(), error) {
	region := os.Getenv("ALIBABA_CLOUD_REGION_ID")
	if region == "" {
		region = "cn-hangzhou"
	}
	if os.Getenv("ALIBABA_CLOUD_ACCESS_KEY_ID") != "" {
		keyID := os.Getenv("KMS_KEY_ID")
		if keyID == "" {
			return kmsenvelope.Config{}, nil, errors.New("credentials are set but KMS_KEY_ID is not: name the key (id, ARN or alias/name) to use")
		}
		var names []string
		if s := os.Getenv("SECRET_NAMES"); s != "" {
			names = strings.Split(s, ",")
		}
		fmt.Fprintln(out, "using Alibaba Cloud KMS")
		return kmsenvelope.Config{Region: region, Endpoint: os.Getenv("KMS_ENDPOINT"), KeyID: keyID, SecretNames: names}, func() {}, nil
	}

	srv, err := kmstest.New(kmstest.WithRegion(region))
	if err != nil {
		return kmsenvelope.Config{}, nil, err
	}
	fail := func(err error) (kmsenvelope.Config, func(), error) {
		srv.Close()
		return kmsenvelope.Config{}, nil, err
	}
	acct := srv.DefaultAccount()
	keyID, keyARN, err := srv.CreateKey(acct, kmstest.KeyOptions{Description: "quickstart demo key"})
	if err != nil {
		return fail(err)
	}
	if err := srv.CreateAlias(acct, "alias/quickstart", keyID); err != nil {
		return fail(err)
	}
	secretARN, err := srv.CreateSecret(acct, "quickstart-api-token", []byte("never-printed-token"), kmstest.SecretOptions{EncryptionKeyID: keyID})
	if err != nil {
		return fail(err)
	}
	user := kmstest.UserARN(acct, "quickstart-svc")
	aliasARN := "acs:kms:" + region + ":" + acct + ":alias/quickstart"
	policy := `{"Version":"1","Statement":[
	  {"Effect":"Allow","Action":["kms:GenerateDataKey","kms:DescribeKey"],"Resource":["` + keyARN + `","` + aliasARN + `"]},
	  {"Effect":"Allow","Action":["kms:Decrypt","kms:GenerateDataKeyWithoutPlaintext"],"Resource":["` + keyARN + `","` + aliasARN + `"],
	   "Condition":{"IpAddress":{"acs:SourceIp":"203.0.113.0/24"}}},
	  {"Effect":"Allow","Action":["kms:GetSecretValue","kms:DescribeSecret"],"Resource":"` + secretARN + `"},
	  {"Effect":"Allow","Action":["ram:ListPoliciesForUser","ram:ListGroupsForUser"],"Resource":"` + user + `"},
	  {"Effect":"Allow","Action":["ram:GetPolicy","ram:GetPolicyVersion"],"Resource":"acs:ram::` + acct + `:policy/*"}]}`
	if err := srv.AttachPolicy(user, "quickstart-svc", policy); err != nil {
		return fail(err)
	}
	srv.EnforcePolicies()
	cred := srv.AddUser(acct, "quickstart-svc")
	// Decrypt is granted only from the service's public egress range; the
	// emulator sees the service there, as KMS would behind its NAT. The
	// client itself does not know that address, so its local decision on
	// Decrypt is conditional: KMS decides, and the preflight shows it.
	if err := srv.SetRequestFacts(cred.AccessKeyID, kmstest.RequestFacts{SourceIP: "203.0.113.7"}); err != nil {
		return fail(err)
	}
	fmt.Fprintf(out, "no ALIBABA_CLOUD_* credentials: using the embedded KMS emulator at %s as %s\n", srv.URL(), cred.Principal)
	cfg := srv.ClientConfig(cred) // the emulator's region, endpoint and credentials
	cfg.KeyID = "alias/quickstart"
	cfg.SecretNames = []string{"quickstart-api-token"}
	cfg.LivePolicies = true
	cfg.PolicyMode = kmsenvelope.PolicyEnforce
	return cfg, func() { srv.Close() }, nil
}
