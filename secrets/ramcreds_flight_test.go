package secrets_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/secrets"
)

// hangingSrc answers with a RAM key, or, once block is set, hangs until
// gate closes, ignoring ctx (a hung read before the client's own timeout).
type hangingSrc struct {
	block atomic.Bool
	gate  chan struct{}
}

func (s *hangingSrc) GetSecretValue(_ context.Context, in *kmsclient.GetSecretValueInput) (*kmsclient.SecretValue, error) {
	if s.block.Load() {
		<-s.gate
	}
	return &kmsclient.SecretValue{SecretName: in.SecretName, VersionID: "v1", Value: []byte(`{"AccessKeyId":"AK1","AccessKeySecret":"S1"}`)}, nil
}

// TestRejectedHonoursEachCallersContext: a Rejected waiting for another
// caller's re-read of the secret returns when its own ctx is done (it used
// to wait on a mutex for the re-read, whatever its deadline).
func TestRejectedHonoursEachCallersContext(t *testing.T) {
	src := &hangingSrc{gate: make(chan struct{})}
	c, err := secrets.New(src, secrets.Config{})
	require.NoError(t, err)
	p := secrets.NewRAMCredentials(c, "ram/app")
	cr, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	src.block.Store(true)
	first := make(chan bool, 1)
	go func() { first <- p.Rejected(context.Background(), cr) }()
	time.Sleep(20 * time.Millisecond) // let the first start the re-read

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	second := make(chan bool, 1)
	go func() { second <- p.Rejected(ctx, cr) }()
	select {
	case ok := <-second:
		assert.False(t, ok, "no new key was read")
	case <-time.After(2 * time.Second):
		t.Error("Rejected with a 50ms context still waiting after 2s")
	}
	close(src.gate)
	assert.False(t, <-first, "the secret still holds the refused key")
	require.NoError(t, c.Close())
}
