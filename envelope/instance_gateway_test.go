package envelope_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/envelope"
	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// These tests run envelope against the emulator's KMS 3.0 instance gateway
// (issue 13, item 1): its own HTTPS listener and CA, serving the crypto
// calls for the keys of its instance and refusing ReEncrypt and every
// management call with UnsupportedOperation, as the real gateway does.

const gwInstance = "kst-hzz6envelope"

// gatewayEnv is an emulator with an instance gateway, two keys of its
// instance and a root credential.
type gatewayEnv struct {
	srv                *testkms.Server
	gw                 *testkms.Gateway
	cred               testkms.Credential
	acct               string
	keyID, keyARN      string
	newKeyID, newKeyAR string
}

func newGatewayEnv(t *testing.T) *gatewayEnv {
	t.Helper()
	e := &gatewayEnv{srv: testkms.Start(t)}
	e.acct = e.srv.DefaultAccount()
	e.cred = e.srv.AddAccount(e.acct)
	var err error
	e.keyID, e.keyARN, err = e.srv.CreateKey(e.acct, testkms.KeyOptions{InstanceID: gwInstance})
	require.NoError(t, err)
	e.newKeyID, e.newKeyAR, err = e.srv.CreateKey(e.acct, testkms.KeyOptions{InstanceID: gwInstance})
	require.NoError(t, err)
	require.NoError(t, e.srv.CreateAlias(e.acct, "alias/app", e.keyID))
	e.gw = e.srv.StartInstanceGateway(t, gwInstance)
	return e
}

// client returns a kmsclient for the gateway (InstanceGateway set, its CA
// as RootCAs), adjusted by mutate.
func (e *gatewayEnv) client(t *testing.T, mutate ...func(*kmsclient.Config)) *kmsclient.Client {
	t.Helper()
	cfg := kmsclient.Config{
		Region:          e.srv.Region(),
		Endpoint:        e.gw.URL(),
		InstanceGateway: true,
		RootCAs:         e.gw.CertPool(),
		Credentials:     kmsclient.StaticCredentials(e.cred.AccessKeyID, e.cred.AccessKeySecret),
		MaxAttempts:     1,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := kmsclient.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestInstanceGatewayDataPath: Encrypt, Decrypt, NewWriter and NewReader
// through the gateway, with the account configured or the key named by
// ARN (or an alias with its ARN): every call reaches the gateway, none the
// shared endpoint, and no management call is made anywhere.
func TestInstanceGatewayDataPath(t *testing.T) {
	e := newGatewayEnv(t)
	kc := e.client(t)
	ctx := context.Background()
	for name, cfg := range map[string]envelope.Config{
		"key id and Account": {Keys: []envelope.WrappingKey{{KeyID: e.keyID, KMS: kc}}, Account: e.acct},
		"key ARN":            {Keys: []envelope.WrappingKey{{KeyID: e.keyARN, KMS: kc}}},
		"alias with its ARN": {Keys: []envelope.WrappingKey{{KeyID: "alias/app", KMS: kc, ARN: e.keyARN}}, Account: e.acct},
	} {
		t.Run(name, func(t *testing.T) {
			e.srv.ResetCalls()
			writer, err := envelope.New(cfg)
			require.NoError(t, err)
			msg, err := writer.Encrypt(ctx, []byte("record"), map[string]string{"t": "1"})
			require.NoError(t, err)
			h, err := envelope.ParseHeader(msg)
			require.NoError(t, err)
			assert.Equal(t, e.keyARN, h.WrappedKeys[0].KeyARN)
			var buf bytes.Buffer
			w, err := writer.NewWriter(ctx, &buf, map[string]string{"t": "2"})
			require.NoError(t, err)
			stream := bytes.Repeat([]byte("x"), 5000)
			_, err = w.Write(stream)
			require.NoError(t, err)
			require.NoError(t, w.Close())

			cfg := cfg
			cfg.DisableCache = true // every decryption asks KMS
			reader, err := envelope.New(cfg)
			require.NoError(t, err)
			got, err := reader.Decrypt(ctx, msg, envelope.RequireContext(map[string]string{"t": "1"}))
			require.NoError(t, err)
			assert.Equal(t, "record", string(got))
			r, err := reader.NewReader(ctx, &buf)
			require.NoError(t, err)
			out, err := io.ReadAll(r)
			require.NoError(t, err)
			assert.Equal(t, stream, out)

			assert.Equal(t, map[string]int{"GenerateDataKey": 2, "Decrypt": 2}, e.gw.CallCounts(),
				"two data keys (two contexts), two unwraps, nothing else")
			assert.Zero(t, e.srv.TotalCalls(), "nothing reached the shared endpoint")
			assert.Zero(t, e.srv.ManagementCalls(), "no management call on the data path")
		})
	}
}

// TestInstanceGatewayRewrap: Rewrap and RewrapStream through the gateway.
// Without a management endpoint ReEncrypt is not served, so Rewrap falls
// back to Decrypt + Encrypt of the data key: whether kmsclient knows it
// talks to a gateway (ReEncrypt refused before sending) or not (the gateway
// answers UnsupportedOperation). With a management endpoint, ReEncrypt goes
// to the shared gateway and the crypto calls to the instance gateway.
func TestInstanceGatewayRewrap(t *testing.T) {
	type counts struct {
		gw, shared map[string]int
	}
	for _, tc := range []struct {
		name   string
		mutate func(e *gatewayEnv) func(*kmsclient.Config)
		want   counts
	}{
		{
			name:   "gateway alone",
			mutate: func(*gatewayEnv) func(*kmsclient.Config) { return func(*kmsclient.Config) {} },
			// Per Rewrap: one Decrypt to authenticate the header, one
			// Decrypt + Encrypt for the fallback; ReEncrypt is never sent.
			want: counts{gw: map[string]int{"GenerateDataKey": 1, "Decrypt": 4, "Encrypt": 2}, shared: map[string]int{}},
		},
		{
			name: "gateway not flagged: it refuses ReEncrypt itself",
			mutate: func(*gatewayEnv) func(*kmsclient.Config) {
				return func(c *kmsclient.Config) { c.InstanceGateway = false }
			},
			want: counts{gw: map[string]int{"GenerateDataKey": 1, "Decrypt": 4, "Encrypt": 2, "ReEncrypt": 2}, shared: map[string]int{}},
		},
		{
			name: "with the shared gateway as management endpoint",
			mutate: func(e *gatewayEnv) func(*kmsclient.Config) {
				return func(c *kmsclient.Config) { c.ManagementEndpoint = e.srv.URL() }
			},
			want: counts{gw: map[string]int{"GenerateDataKey": 1, "Decrypt": 2}, shared: map[string]int{"ReEncrypt": 2}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newGatewayEnv(t)
			kc := e.client(t, tc.mutate(e))
			ctx := context.Background()
			ec := map[string]string{"tenant": "acme"}
			env, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: e.keyID, KMS: kc}}, Account: e.acct, DisableCache: true})
			require.NoError(t, err)
			pt := bytes.Repeat([]byte("p"), 3000)
			msg, err := env.Encrypt(ctx, pt, ec)
			require.NoError(t, err)

			moved, err := env.Rewrap(ctx, msg, e.newKeyID, envelope.RequireContext(ec))
			require.NoError(t, err)
			h, err := envelope.ParseHeader(moved)
			require.NoError(t, err)
			assert.Equal(t, e.newKeyAR, h.WrappedKeys[0].KeyARN)
			var streamed bytes.Buffer
			_, err = env.RewrapStream(ctx, &streamed, bytes.NewReader(msg), e.newKeyAR, envelope.RequireContext(ec))
			require.NoError(t, err)

			assert.Equal(t, tc.want.gw, e.gw.CallCounts())
			assert.Equal(t, tc.want.shared, e.srv.CallCounts())
			assert.Zero(t, e.srv.ManagementCalls(), "ReEncrypt is not a management call, and nothing else was asked")

			// The moved messages decrypt under the new key, through the
			// gateway, and only with their context.
			fresh, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: e.newKeyID, KMS: kc}}, Account: e.acct, DisableCache: true})
			require.NoError(t, err)
			for _, m := range [][]byte{moved, streamed.Bytes()} {
				got, err := fresh.Decrypt(ctx, m, envelope.RequireContext(ec))
				require.NoError(t, err)
				assert.Equal(t, pt, got)
			}
			_, err = env.Rewrap(ctx, msg, e.newKeyID, envelope.RequireContext(map[string]string{"tenant": "globex"}))
			assert.ErrorIs(t, err, envelope.ErrContextMismatch, "the fallback runs only after the same checks")
			assert.Zero(t, e.srv.ManagementCalls())
		})
	}
}
