package testkms_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
)

// TestConcurrentClients runs 32 goroutines, each with its own SDK client
// (the SDK client itself is not safe for concurrent use), against one server
// while faults, rotations, policy changes and seeding happen concurrently.
// Run with -race.
func TestConcurrentClients(t *testing.T) {
	f := newFixture(t)
	acct := f.srv.DefaultAccount()
	keyID, _, err := f.srv.CreateKey(acct, testkms.KeyOptions{})
	require.NoError(t, err)
	require.NoError(t, f.srv.CreateAlias(acct, "alias/shared", keyID))
	_, err = f.srv.CreateSecret(acct, "shared", []byte("v0"), testkms.SecretOptions{EncryptionKeyID: keyID})
	require.NoError(t, err)
	f.srv.SetAuthorizer(testkms.AuthorizerFunc(func(testkms.AuthzRequest) *testkms.Denial { return nil }))

	const workers, rounds = 32, 8
	var calls atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*4)
	clients := make([]*kms.Client, workers)
	for w := range clients {
		var cred testkms.Credential
		switch w % 3 {
		case 0:
			cred = f.srv.AddUser(acct, fmt.Sprintf("user-%d", w))
		case 1:
			cred = f.srv.AssumeRole(acct, "role", fmt.Sprintf("s-%d", w))
		default:
			cred = f.srv.AddAccount(acct)
		}
		clients[w] = newClient(t, f.srv, cred)
	}
	for w, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			do := func(err error) {
				calls.Add(1)
				if err != nil {
					errs <- fmt.Errorf("worker %d: %w", w, err)
				}
			}
			for i := range rounds {
				gdk := kms.CreateGenerateDataKeyRequest()
				gdk.KeyId, gdk.EncryptionContext = "alias/shared", fmt.Sprintf(`{"w":"%d"}`, w)
				resp, err := c.GenerateDataKey(gdk)
				do(err)
				if err == nil {
					dec, err := c.Decrypt(decryptReq(resp.CiphertextBlob, gdk.EncryptionContext))
					do(err)
					if err == nil && dec.Plaintext != resp.Plaintext {
						errs <- fmt.Errorf("worker %d: plaintext mismatch", w)
					}
				}
				switch i % 4 {
				case 0:
					r := kms.CreateCreateKeyVersionRequest()
					r.KeyId = keyID
					_, err = c.CreateKeyVersion(r)
				case 1:
					r := kms.CreatePutSecretValueRequest()
					r.SecretName, r.VersionId, r.SecretData = "shared", fmt.Sprintf("w%d-%d", w, i), "data"
					_, err = c.PutSecretValue(r)
				case 2:
					r := kms.CreateGetSecretValueRequest()
					r.SecretName = "shared"
					_, err = c.GetSecretValue(r)
				default:
					_, err = c.ListKeys(kms.CreateListKeysRequest())
				}
				do(err)
			}
		}()
	}
	// Concurrent administrative activity, including new identities.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 50 {
			_ = f.srv.AddUser(acct, fmt.Sprintf("late-%d", i))
			id := f.srv.InjectFault(testkms.Fault{Kind: testkms.FaultThrottle, Action: "NotCalled", Count: 1})
			f.srv.RemoveFault(id)
			_ = f.srv.Calls("GenerateDataKey")
			_ = f.srv.CallCounts()
			_, _, _ = f.srv.CreateKey(acct, testkms.KeyOptions{Description: fmt.Sprint(i)})
			_ = f.srv.SetKeyPolicy(acct, keyID, `{"Version":"1"}`)
			f.srv.SetAuthorizer(testkms.AuthorizerFunc(func(testkms.AuthzRequest) *testkms.Denial { return nil }))
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.Equal(t, int(calls.Load()), f.srv.TotalCalls())
	assert.Equal(t, workers*rounds, f.srv.Calls("GenerateDataKey"))
}
