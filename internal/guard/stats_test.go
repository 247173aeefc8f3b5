package guard_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/guard"
	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/localauthz"
)

// TestCallsAreBoundedUnderUntrustedResources: a flood of calls on distinct
// resources (as crafted message headers and secret names produce) is
// recorded in bounded entries; declared resources keep exact entries; a
// resource used often keeps its entry against the flood; and every call is
// counted once, in Calls or OtherCalls. Enforce refuses all of the flood
// locally, so the emulator sees no request.
func TestCallsAreBoundedUnderUntrustedResources(t *testing.T) {
	ctx := context.Background()
	srv := testkms.Start(t)
	acct := srv.DefaultAccount()
	keyID, keyARN, err := srv.CreateKey(acct, testkms.KeyOptions{})
	require.NoError(t, err)
	root := srv.AddAccount(acct)
	kc, err := kmsclient.New(kmsclient.Config{Region: srv.Region(), Endpoint: "http://" + srv.Endpoint(),
		Credentials: kmsclient.StaticCredentials(root.AccessKeyID, root.AccessKeySecret), MaxAttempts: 1})
	require.NoError(t, err)
	var set localauthz.PolicySet
	user := "acs:ram::" + acct + ":user/svc"
	require.NoError(t, set.Add(localauthz.MustParsePolicy(`{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:GenerateDataKey","Resource":"`+keyARN+`"}]}`, localauthz.RAMPolicy), user))
	const max = 16
	g, err := guard.New(kc, guard.Config{Mode: guard.Enforce, Principal: user, Policies: &set, MaxCalls: max,
		DeclaredKeys: []string{keyID}, DeclaredSecrets: []string{"db-password"}})
	require.NoError(t, err)

	prefix := "acs:kms:" + srv.Region() + ":" + acct + ":"
	frequent := prefix + "key/frequent"
	const flood = 20000
	before := srv.TotalCalls()
	for i := range flood {
		_, err := g.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: []byte{1}, KeyARN: fmt.Sprintf("%skey/crafted-%06d", prefix, i)})
		require.ErrorIs(t, err, kmsclient.ErrAccessDenied)
		_, err = g.GetSecretValue(ctx, &kmsclient.GetSecretValueInput{SecretName: fmt.Sprintf("crafted-%06d", i)})
		require.ErrorIs(t, err, kmsclient.ErrAccessDenied)
		if i%10 == 0 {
			_, _ = g.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: []byte{1}, KeyARN: frequent})
			_, _ = g.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: []byte{1}, KeyARN: keyARN})
		}
	}
	_, _ = g.GetSecretValue(ctx, &kmsclient.GetSecretValueInput{SecretName: "db-password"})
	assert.Equal(t, before, srv.TotalCalls(), "the flood was refused locally")

	calls := g.Calls()
	assert.LessOrEqual(t, len(calls), max+2, "at most MaxCalls entries beyond the declared resources")
	byKey := map[guard.Call]int{}
	total := 0
	for _, c := range calls {
		byKey[c.Call] = c.Count
		total += c.Count
	}
	assert.Equal(t, flood/10, byKey[guard.Call{Operation: "Decrypt", Resource: keyARN}], "a declared key is counted exactly")
	assert.Equal(t, 1, byKey[guard.Call{Operation: "GetSecretValue", Resource: prefix + "secret/db-password"}], "a declared secret is counted exactly")
	assert.Equal(t, flood/10, byKey[guard.Call{Operation: "Decrypt", Resource: frequent}], "a frequent resource keeps its entry and its exact count")
	assert.Equal(t, "Decrypt", calls[0].Operation, "most frequent first")

	other := g.OtherCalls()
	for _, n := range other {
		total += n
	}
	assert.Equal(t, 2*flood+2*(flood/10)+1, total, "every call counted once")
	assert.Greater(t, other["Decrypt"], 0)
	assert.Greater(t, other["GetSecretValue"], 0)
}

// TestMaxCallsNegativeKeepsOnlyDeclared: with MaxCalls < 0 only declared
// resources get entries.
func TestMaxCallsNegativeKeepsOnlyDeclared(t *testing.T) {
	srv := testkms.Start(t)
	kc, err := kmsclient.New(kmsclient.Config{Region: srv.Region(), Endpoint: "http://" + srv.Endpoint(),
		Credentials: kmsclient.StaticCredentials("a", "b"), MaxAttempts: 1})
	require.NoError(t, err)
	g, err := guard.New(kc, guard.Config{Mode: guard.Off, Account: srv.DefaultAccount(), MaxCalls: -1, DeclaredSecrets: []string{"known"}})
	require.NoError(t, err)
	require.NoError(t, kc.Close()) // nothing needs to reach KMS: the calls fail after being recorded
	ctx := context.Background()
	for _, name := range []string{"known", "unknown", "unknown"} {
		_, err := g.GetSecretValue(ctx, &kmsclient.GetSecretValueInput{SecretName: name})
		require.ErrorIs(t, err, kmsclient.ErrClosed)
	}
	calls := g.Calls()
	require.Len(t, calls, 1)
	assert.Equal(t, "acs:kms:"+srv.Region()+":"+srv.DefaultAccount()+":secret/known", calls[0].Resource)
	assert.Equal(t, map[string]int{"GetSecretValue": 2}, g.OtherCalls())
}

// TestErrClosedIsTheModuleSentinel: the guard's ErrClosed is kmsclient's.
func TestErrClosedIsTheModuleSentinel(t *testing.T) {
	assert.Same(t, kmsclient.ErrClosed, guard.ErrClosed)
}
