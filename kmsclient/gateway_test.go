package kmsclient_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// TestInstanceGatewayAloneServesNoManagementCall (issue 13, item 1): with
// only a KMS instance gateway, management calls and ReEncrypt are not sent
// (the gateway serves none of them) and fail with ErrUnsupportedOperation;
// crypto calls go to the gateway.
func TestInstanceGatewayAloneServesNoManagementCall(t *testing.T) {
	e := newEnv(t, func(c *kmsclient.Config) { c.InstanceGateway = true })
	ctx := context.Background()
	assert.Empty(t, e.client.ManagementEndpoint())
	dk, err := e.client.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: e.keyID})
	require.NoError(t, err)
	before := e.srv.TotalCalls()
	for name, call := range map[string]func() error{
		"DescribeKey":    func() error { _, err := e.client.DescribeKey(ctx, e.keyID); return err },
		"DescribeSecret": func() error { _, err := e.client.DescribeSecret(ctx, "s"); return err },
		"GetKeyPolicy":   func() error { _, err := e.client.GetKeyPolicy(ctx, e.keyID, ""); return err },
		"ListAliases":    func() error { _, err := e.client.ListAliasesByKeyID(ctx, e.keyID); return err },
		"ReEncrypt": func() error {
			_, err := e.client.ReEncrypt(ctx, &kmsclient.ReEncryptInput{CiphertextBlob: dk.CiphertextBlob, DestinationKeyID: e.keyID})
			return err
		},
	} {
		err := call()
		require.ErrorIs(t, err, kmsclient.ErrUnsupportedOperation, name)
		var ue *kmsclient.UnsupportedError
		assert.True(t, errors.As(err, &ue), name)
		assert.Contains(t, err.Error(), "ManagementEndpoint", name)
	}
	assert.Equal(t, before, e.srv.TotalCalls(), "nothing was sent")

	gw, err := kmsclient.New(kmsclient.Config{Region: "cn-hangzhou", Endpoint: "kst-hzz6xx.cryptoservice.kms.aliyuncs.com", Credentials: kmsclient.StaticCredentials("a", "b")})
	require.NoError(t, err)
	assert.Empty(t, gw.ManagementEndpoint(), "recognised by its host name")
	_, err = gw.DescribeKey(ctx, "k")
	assert.ErrorIs(t, err, kmsclient.ErrUnsupportedOperation)
}

// TestManagementEndpointRoutesManagementCalls: with both endpoints,
// management calls go only to the management endpoint and crypto calls
// only to the gateway.
func TestManagementEndpointRoutesManagementCalls(t *testing.T) {
	mgmt := testkms.Start(t)
	e := newEnv(t, func(c *kmsclient.Config) {
		c.InstanceGateway = true
		c.ManagementEndpoint = mgmt.URL()
	})
	ctx := context.Background()
	assert.Equal(t, mgmt.Endpoint(), e.client.ManagementEndpoint())
	_, err := e.client.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: e.keyID})
	require.NoError(t, err)
	_, _ = e.client.DescribeKey(ctx, e.keyID) // the other server: its answer does not matter
	assert.Equal(t, 1, e.srv.Calls("GenerateDataKey"))
	assert.Zero(t, e.srv.Calls("DescribeKey"), "no management call reached the gateway")
	assert.Equal(t, 1, mgmt.CallCounts()["DescribeKey"], "it reached the management endpoint")
}
