package conformance_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/localauthz"
)

const (
	acctA = testkms.DefaultAccountID
	acctB = "2222222222222222"
)

// Flags for searching wider locally, e.g.
//
//	go test ./internal/conformance -scenarios 20000 -seed 7
//
// The defaults are fixed so CI is deterministic and a failure reproduces.
var (
	scenarioCount = flag.Int("scenarios", 600, "random scenarios TestPreflightMatchesEmulator compares")
	scenarioSeed  = flag.Uint64("seed", 20261123, "seed of the scenario generator")
)

// TestPreflightMatchesEmulator generates random RAM and key policies,
// principals, facts and operations, and checks that localauthz's preflight
// (catalogue + evaluator) predicts exactly what the emulator does when the
// real SDK makes the call. The emulator states its own per-operation checks
// in handler code, so a disagreement exposes a catalogue or handler bug.
func TestPreflightMatchesEmulator(t *testing.T) {
	scenarios := *scenarioCount
	rng := rand.New(rand.NewPCG(*scenarioSeed, 3))
	var allowed, denied int
	for i := range scenarios {
		sc := newScenario(rng)
		got := runScenario(t, sc)
		if got.allowed {
			allowed++
		} else {
			denied++
		}
		if t.Failed() {
			t.Fatalf("scenario %d:\n%s", i, sc)
		}
	}
	t.Logf("%d scenarios: %d allowed, %d denied by both", scenarios, allowed, denied)
	// Guard against a generator that only ever produces one outcome.
	require.Greater(t, allowed, scenarios/10)
	require.Greater(t, denied, scenarios/10)
}

type principalKind int

const (
	userA principalKind = iota
	roleA
	userB // another account: cross-account access
)

type scenario struct {
	who        principalKind
	inInstance bool
	selfKey    bool // the secret is encrypted with key1 (else the service key)
	tagged     bool // key1 carries tag env=prod
	ram        string
	keyPolicy  string // "" = the default key policy
	op         string
	byAlias    bool
}

func (s scenario) String() string {
	return fmt.Sprintf("principal=%v inInstance=%v secretSelfKey=%v tagged=%v op=%s byAlias=%v\nRAM: %s\nkey policy: %s",
		s.who, s.inInstance, s.selfKey, s.tagged, s.op, s.byAlias, s.ram, s.keyPolicy)
}

var (
	sameAccountOps = []string{"GenerateDataKey", "Encrypt", "Decrypt", "ReEncrypt", "DescribeKey",
		"GetSecretValue", "DescribeSecret", "ListAliasesByKeyId", "GetKeyPolicy", "DescribeRegions"}
	crossAccountOps = []string{"GenerateDataKey", "Encrypt", "Decrypt", "ReEncrypt", "DescribeKey"}
	actionPool      = []string{"kms:GenerateDataKey", "kms:Decrypt", "kms:Encrypt", "kms:DescribeKey",
		"kms:GetSecretValue", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:ReEncrypt*", "kms:*", "kms:Get*",
		"kms:Describe*", "kms:List*", "kms:DescribeSecret", "kms:GenerateDataKey*", "kms:Decrypt", "kms:GetKeyPolicy"}
)

func newScenario(rng *rand.Rand) scenario {
	sc := scenario{
		who:        principalKind(rng.IntN(3)),
		inInstance: rng.IntN(2) == 0,
		selfKey:    rng.IntN(2) == 0,
		tagged:     rng.IntN(2) == 0,
	}
	if sc.who == userB {
		sc.op = crossAccountOps[rng.IntN(len(crossAccountOps))]
	} else {
		sc.op = sameAccountOps[rng.IntN(len(sameAccountOps))]
	}
	switch sc.op {
	case "GenerateDataKey", "Encrypt", "DescribeKey":
		sc.byAlias = sc.who != userB && rng.IntN(3) == 0
	}
	sc.ram = randomPolicy(rng, false, sc.who)
	if sc.inInstance && rng.IntN(3) > 0 {
		sc.keyPolicy = randomPolicy(rng, true, sc.who)
	}
	return sc
}

// randomPolicy writes a policy of 1-4 statements over the scenario's
// resources; key policies name principals and use Resource "*".
func randomPolicy(rng *rand.Rand, keyPolicy bool, who principalKind) string {
	acct := acctA
	if who == userB && !keyPolicy {
		acct = acctB
	}
	resources := []string{
		"acs:kms:cn-hangzhou:" + acctA + ":key/key1", "acs:kms:cn-hangzhou:" + acctA + ":key/key2",
		"acs:kms:cn-hangzhou:" + acctA + ":alias/app", "acs:kms:cn-hangzhou:" + acctA + ":secret/db",
		"acs:kms:*:" + acctA + ":key/*", "acs:kms:*:" + acctA + ":alias/*", "acs:kms:*:" + acctA + ":secret/*",
		"acs:kms:*:" + acct + ":*", "*",
	}
	principals := []string{"acs:ram::" + acctA + ":*", "acs:ram::" + acctA + ":user/alice",
		"acs:ram::" + acctA + ":role/app", "acs:ram::" + acctB + ":user/bob", "acs:ram::" + acctB + ":*"}
	var stmts []map[string]any
	for range 1 + rng.IntN(4) {
		st := map[string]any{"Effect": "Allow"}
		if rng.IntN(5) == 0 {
			st["Effect"] = "Deny"
		}
		st["Action"] = pick(rng, actionPool, 1+rng.IntN(3))
		if keyPolicy {
			st["Resource"] = []string{"*"}
			st["Principal"] = map[string]any{"RAM": pick(rng, principals, 1+rng.IntN(2))}
		} else {
			st["Resource"] = pick(rng, resources, 1+rng.IntN(3))
		}
		switch rng.IntN(6) {
		case 0:
			cidr := []string{"127.0.0.0/8", "10.0.0.0/8", "127.0.0.1"}[rng.IntN(3)]
			st["Condition"] = map[string]any{"IpAddress": map[string]any{"acs:SourceIp": cidr}}
		case 1:
			st["Condition"] = map[string]any{"StringEquals": map[string]any{"kms:tag/env": []string{"prod", "dev"}[rng.IntN(2)]}}
		case 2:
			st["Condition"] = map[string]any{"Bool": map[string]any{"acs:SecureTransport": []string{"true", "false"}[rng.IntN(2)]}}
		}
		stmts = append(stmts, st)
	}
	b, _ := json.Marshal(map[string]any{"Version": "1", "Statement": stmts})
	return string(b)
}

func pick(rng *rand.Rand, from []string, n int) []string {
	out := make([]string, 0, n)
	for _, i := range rng.Perm(len(from))[:n] {
		out = append(out, from[i])
	}
	return out
}

type outcome struct {
	allowed bool
}

// runScenario sets the scenario up on a fresh emulator, asks the preflight,
// makes the call through the real SDK, and compares.
func runScenario(t *testing.T, sc scenario) outcome {
	t.Helper()
	srv := testkms.Start(t)
	region := srv.Region()
	ko := testkms.KeyOptions{KeyID: "key1"}
	if sc.inInstance {
		ko.InstanceID = "kst-hzz000test"
	}
	if sc.tagged {
		ko.Tags = map[string]string{"env": "prod"}
	}
	_, key1, err := srv.CreateKey(acctA, ko)
	require.NoError(t, err)
	ko2 := testkms.KeyOptions{KeyID: "key2", InstanceID: ko.InstanceID}
	_, key2, err := srv.CreateKey(acctA, ko2)
	require.NoError(t, err)
	require.NoError(t, srv.CreateAlias(acctA, "alias/app", "key1"))
	so := testkms.SecretOptions{}
	if sc.selfKey {
		so.EncryptionKeyID = "key1"
	}
	secretARN, err := srv.CreateSecret(acctA, "db", []byte("pw"), so)
	require.NoError(t, err)
	if sc.keyPolicy != "" {
		require.NoError(t, srv.SetKeyPolicy(acctA, "key1", sc.keyPolicy))
		require.NoError(t, srv.SetKeyPolicy(acctA, "key2", sc.keyPolicy))
	}

	root := srv.AddAccount(acctA)
	admin := client(t, srv, root)
	ctx := context.Background()
	blob, err := admin.Encrypt(ctx, &kmsclient.EncryptInput{KeyID: "key1", Plaintext: []byte("x")})
	require.NoError(t, err)

	var cred testkms.Credential
	var holder string
	switch sc.who {
	case userA:
		cred, holder = srv.AddUser(acctA, "alice"), "acs:ram::"+acctA+":user/alice"
	case roleA:
		cred, holder = srv.AssumeRole(acctA, "app", "s1"), "acs:ram::"+acctA+":role/app"
	case userB:
		srv.AddAccount(acctB)
		cred, holder = srv.AddUser(acctB, "bob"), "acs:ram::"+acctB+":user/bob"
	}
	require.NoError(t, srv.AttachPolicy(holder, "app-policy", sc.ram))

	// The preflight side: the same policies, read back the way the live
	// preflight reads them (the key's effective policy from GetKeyPolicy).
	var set localauthz.PolicySet
	require.NoError(t, set.Add(localauthz.MustParsePolicy(sc.ram, localauthz.RAMPolicy), holder))
	for _, k := range []string{"key1", "key2"} {
		doc, err := admin.GetKeyPolicy(ctx, k, "")
		require.NoError(t, err)
		arn := key1
		if k == "key2" {
			arn = key2
		}
		require.NoError(t, set.Add(localauthz.MustParsePolicy(doc, localauthz.KeyPolicy), arn))
	}
	sdoc, err := admin.GetSecretPolicy(ctx, "db", "")
	require.NoError(t, err)
	require.NoError(t, set.Add(localauthz.MustParsePolicy(sdoc, localauthz.SecretPolicy), secretARN))
	srv.EnforcePolicies() // after the admin reads: a key policy Deny binds the root too
	call := localauthz.Call{Operation: sc.op, Resource: key1, Facts: localauthz.Facts{InKMSInstance: sc.inInstance}}
	call.Context = localauthz.Context{}
	call.Context.Set("acs:SourceIp", "127.0.0.1")
	call.Context.Set("acs:SecureTransport", "false")
	call.Context.Set("acs:CurrentTime", time.Now().UTC().Format(time.RFC3339))
	if sc.tagged {
		call.Facts.Tags = map[string]map[string]string{key1: {"env": "prod"}}
	}
	keyRef := "key1"
	if sc.who == userB {
		keyRef = key1
	}
	if sc.byAlias {
		call.Resource = "acs:kms:" + region + ":" + acctA + ":alias/app"
		call.Facts.AliasTargetKey = key1
		keyRef = "alias/app"
	}
	switch sc.op {
	case "ReEncrypt":
		call.Facts.DestinationKey = key2
	case "GetSecretValue", "DescribeSecret":
		call.Resource = secretARN
		// A secret lives in the KMS instance of the key that encrypts it;
		// one under the service key is in no instance.
		if sc.selfKey {
			call.Facts.EncryptionKey, call.Facts.EncryptionKeyType = key1, localauthz.KeyTypeSelfManaged
		} else {
			call.Facts.EncryptionKeyType = localauthz.KeyTypeServiceManaged
			call.Facts.InKMSInstance = false
		}
	case "DescribeRegions":
		call.Resource = "*"
	}
	rep := set.Check(cred.Principal, call)
	require.NoError(t, rep.Err)
	predicted := rep.Decision.Effect == localauthz.Allow

	// The emulator side, through the real SDK.
	c := client(t, srv, cred)
	dst := "key2"
	if sc.who == userB {
		dst = key2
	}
	switch sc.op {
	case "GenerateDataKey":
		_, err = c.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: keyRef})
	case "Encrypt":
		_, err = c.Encrypt(ctx, &kmsclient.EncryptInput{KeyID: keyRef, Plaintext: []byte("x")})
	case "Decrypt":
		_, err = c.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: blob.CiphertextBlob})
	case "ReEncrypt":
		_, err = c.ReEncrypt(ctx, &kmsclient.ReEncryptInput{CiphertextBlob: blob.CiphertextBlob, DestinationKeyID: dst})
	case "DescribeKey":
		_, err = c.DescribeKey(ctx, keyRef)
	case "GetSecretValue":
		_, err = c.GetSecretValue(ctx, &kmsclient.GetSecretValueInput{SecretName: "db"})
	case "DescribeSecret":
		_, err = c.DescribeSecret(ctx, "db")
	case "ListAliasesByKeyId":
		_, err = c.ListAliasesByKeyID(ctx, keyRef)
	case "GetKeyPolicy":
		_, err = c.GetKeyPolicy(ctx, keyRef, "")
	case "DescribeRegions":
		err = describeRegions(srv, cred)
	default:
		t.Fatalf("no emulator call for %s", sc.op)
	}
	var ae *kmsclient.APIError
	if err != nil && !errors.Is(err, kmsclient.ErrAccessDenied) {
		t.Fatalf("emulator call failed for a reason other than permission: %v", err)
	}
	actual := err == nil

	if predicted != actual {
		t.Errorf("preflight says allowed=%v, emulator says allowed=%v (%v)\npreflight:\n%s", predicted, actual, err, rep.Text())
		return outcome{}
	}
	if !actual && errors.As(err, &ae) && ae.AccessDenied != nil {
		// The action the emulator denied first must be one the preflight
		// reports as not allowed.
		var notAllowed []string
		for _, ch := range rep.Checks {
			if ch.Decision.Effect != localauthz.Allow {
				notAllowed = append(notAllowed, ch.Action)
			}
		}
		if !containsFold(notAllowed, ae.AccessDenied.Action) {
			t.Errorf("emulator denied %s, preflight's unmet actions are %v\n%s", ae.AccessDenied.Action, notAllowed, rep.Text())
		}
	}
	return outcome{allowed: actual}
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

func client(t *testing.T, srv *testkms.Server, cred testkms.Credential) *kmsclient.Client {
	t.Helper()
	var p kmsclient.CredentialsProvider = kmsclient.StaticCredentials(cred.AccessKeyID, cred.AccessKeySecret)
	if cred.SecurityToken != "" {
		p = kmsclient.STSCredentials(cred.AccessKeyID, cred.AccessKeySecret, cred.SecurityToken)
	}
	c, err := kmsclient.New(kmsclient.Config{
		Region: srv.Region(), Endpoint: "http://" + srv.Endpoint(), Credentials: p, MaxAttempts: 1,
	})
	require.NoError(t, err)
	return c
}

// describeRegions calls DescribeRegions with the SDK directly: kmsclient
// has no method for it.
func describeRegions(srv *testkms.Server, cred testkms.Credential) error {
	cfg := sdk.NewConfig().WithAutoRetry(false).WithScheme("HTTP")
	var p credentials.CredentialsProvider = credentials.NewStaticAKCredentialsProvider(cred.AccessKeyID, cred.AccessKeySecret)
	if cred.SecurityToken != "" {
		p = credentials.NewStaticSTSCredentialsProvider(cred.AccessKeyID, cred.AccessKeySecret, cred.SecurityToken)
	}
	k, err := kms.NewClientWithOptions(srv.Region(), cfg, p)
	if err != nil {
		return err
	}
	k.Domain = srv.Endpoint()
	k.SetNoProxy("127.0.0.1")
	_, err = k.DescribeRegions(kms.CreateDescribeRegionsRequest())
	if err != nil && strings.Contains(err.Error(), "Forbidden.NoPermission") {
		return fmt.Errorf("%w: DescribeRegions", kmsclient.ErrAccessDenied)
	}
	return err
}
