package testkms_test

import (
	"net/http"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
)

func TestReset(t *testing.T) {
	srv := testkms.Start(t)
	acct := srv.DefaultAccount()
	keyID, _, err := srv.CreateKey(acct, testkms.KeyOptions{KeyID: "key1"})
	require.NoError(t, err)
	alice := srv.AddUser(acct, "alice")
	c := newClient(t, srv, alice)
	describe := func(c *kms.Client, id string) error {
		r := kms.CreateDescribeKeyRequest()
		r.KeyId = id
		_, err := c.DescribeKey(r)
		return err
	}
	require.NoError(t, describe(c, keyID))
	srv.EnforcePolicies()
	requireAPIError(t, describe(c, keyID), http.StatusForbidden, "Forbidden.NoPermission")
	srv.Deny("", "kms:DescribeKey")
	before := srv.Endpoint()

	srv.Reset()
	assert.Equal(t, before, srv.Endpoint(), "the listener stays")
	assert.Zero(t, srv.TotalCalls(), "call counts are dropped")
	requireAPIError(t, describe(c, keyID), http.StatusNotFound, "InvalidAccessKeyId.NotFound")

	// The same ids can be created again; policies are no longer enforced
	// and the forced denial is gone.
	_, _, err = srv.CreateKey(acct, testkms.KeyOptions{KeyID: "key1"})
	require.NoError(t, err)
	alice = srv.AddUser(acct, "alice")
	require.NoError(t, describe(newClient(t, srv, alice), "key1"))
}
