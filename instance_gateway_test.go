package kmsenvelope_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope"
	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// TestInstanceGatewayClient (issue 13, item 1): the root Client with
// Endpoint the emulator's KMS 3.0 instance gateway (its own HTTPS listener
// and CA), no management endpoint, PolicyOff and no live policies: New,
// Encrypt, Decrypt, a stream and Secret make no management call on any
// listener, and the data calls all reach the gateway.
//
// With the key named by id, New learns the account from STS
// (GetCallerIdentity), which the real gateway does not serve either: the
// test points STS at the shared endpoint (as sts.aliyuncs.com is in real
// use) and counts that one call there.
func TestInstanceGatewayClient(t *testing.T) {
	const instance = "kst-hzz6root"
	for _, tc := range []struct {
		name      string
		keyByARN  bool
		wantCalls map[string]int // on the shared endpoint
	}{
		{name: "key ARN", keyByARN: true, wantCalls: map[string]int{}},
		{name: "key id", wantCalls: map[string]int{"GetCallerIdentity": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testkms.Start(t)
			acct := srv.DefaultAccount()
			cred := srv.AddUser(acct, "svc")
			keyID, keyARN, err := srv.CreateKey(acct, testkms.KeyOptions{InstanceID: instance})
			require.NoError(t, err)
			_, err = srv.CreateSecret(acct, "db-password", []byte("hunter2"), testkms.SecretOptions{EncryptionKeyID: keyID})
			require.NoError(t, err)
			gw := srv.StartInstanceGateway(t, instance)
			key := keyID
			if tc.keyByARN {
				key = keyARN
			}

			c, err := kmsenvelope.New(context.Background(), kmsenvelope.Config{
				Region:      srv.Region(),
				Endpoint:    gw.URL(),
				Credentials: kmsclient.StaticCredentials(cred.AccessKeyID, cred.AccessKeySecret),
				KeyID:       key,
				PolicyMode:  kmsenvelope.PolicyOff,
				KMS: func(c *kmsclient.Config) {
					c.InstanceGateway = true
					c.RootCAs = gw.CertPool()
					c.STSEndpoint = srv.URL()
					c.MaxAttempts = 1
				},
			})
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
			ctx := context.Background()
			afterNew := gw.CallCounts()

			msg, err := c.Encrypt(ctx, []byte("record"), map[string]string{"t": "1"})
			require.NoError(t, err)
			got, err := c.Decrypt(ctx, msg)
			require.NoError(t, err)
			assert.Equal(t, "record", string(got))
			var buf bytes.Buffer
			w, err := c.NewWriter(ctx, &buf, map[string]string{"t": "2"})
			require.NoError(t, err)
			stream := bytes.Repeat([]byte("s"), 5000)
			_, err = w.Write(stream)
			require.NoError(t, err)
			require.NoError(t, w.Close())
			r, err := c.NewReader(ctx, &buf)
			require.NoError(t, err)
			out, err := io.ReadAll(r)
			require.NoError(t, err)
			assert.Equal(t, stream, out)
			v, err := c.Secret(ctx, "db-password")
			require.NoError(t, err)
			assert.Equal(t, "hunter2", v.Text())

			assert.Empty(t, afterNew, "New sent nothing to the gateway")
			// Two data keys (two contexts), two unwraps (encryption entries
			// do not serve decryption), one secret.
			assert.Equal(t, map[string]int{"GenerateDataKey": 2, "Decrypt": 2, "GetSecretValue": 1}, gw.CallCounts())
			assert.Equal(t, tc.wantCalls, srv.CallCounts())
			assert.Zero(t, srv.ManagementCalls(), "no management call: %v", srv.ManagementCallCounts())
		})
	}
}
