package conformance_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/localauthz"
)

// TestRealDenialInPreflightWords checks that a Forbidden.NoPermission
// answer, decoded by kmsclient, reads like the preflight's own report of
// the same gap: same action, same resource, same place to grant it.
func TestRealDenialInPreflightWords(t *testing.T) {
	srv := testkms.Start(t)
	_, keyARN, err := srv.CreateKey(acctA, testkms.KeyOptions{KeyID: "key1"})
	require.NoError(t, err)
	cred := srv.AddUser(acctA, "alice")
	user := "acs:ram::" + acctA + ":user/alice"
	ram := `{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:GenerateDataKey","Resource":"` + keyARN + `"}]}`
	require.NoError(t, srv.AttachPolicy(user, "app", ram))
	srv.EnforcePolicies()

	c := client(t, srv, cred)
	ctx := context.Background()
	dk, err := c.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: "key1"})
	require.NoError(t, err)
	_, err = c.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: dk.CiphertextBlob})
	var ae *kmsclient.APIError
	require.True(t, errors.As(err, &ae) && ae.AccessDenied != nil, "got %v", err)

	d := ae.AccessDenied
	live := localauthz.FromAccessDenied(localauthz.AccessDeniedDetail{
		AuthAction: d.Action, AuthPrincipalType: d.PrincipalType, AuthPrincipalOwnerId: d.PrincipalOwnerID,
		AuthPrincipalDisplayName: d.PrincipalDisplayName, NoPermissionType: d.NoPermissionType, PolicyType: d.PolicyType,
	}, keyARN)

	var set localauthz.PolicySet
	require.NoError(t, set.Add(localauthz.MustParsePolicy(ram, localauthz.RAMPolicy), user))
	predicted := set.Check(user, localauthz.Call{Operation: "Decrypt", Resource: keyARN})

	assert.Equal(t, predicted.Decision.Effect, live.Decision.Effect)
	assert.Equal(t, predicted.Decision.Missing, live.Decision.Missing)
	assert.Equal(t, user, live.Principal)
	assert.Contains(t, live.Text(), "kms:Decrypt")
}
