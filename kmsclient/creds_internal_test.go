package kmsclient

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slowProvider blocks fetch until released, counting calls.
type slowProvider struct {
	release chan struct{}
	calls   atomic.Int32
	panics  bool
}

func (p *slowProvider) fetch() (Credentials, error) {
	p.calls.Add(1)
	<-p.release
	if p.panics {
		panic("secret-looking panic")
	}
	return Credentials{AccessKeyID: "AKID", AccessKeySecret: "secret"}, nil
}

// TestSDKProviderHonoursContext: a refresh that blocks (STS, instance
// metadata) neither holds callers past their deadline nor runs twice at
// once.
func TestAsyncProviderHonoursContext(t *testing.T) {
	p := &slowProvider{release: make(chan struct{})}
	s := &asyncProvider{fetch: p.fetch}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_, err := s.Retrieve(ctx)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
		})
	}
	wg.Wait()
	assert.EqualValues(t, 1, p.calls.Load(), "one refresh for every waiter")
	close(p.release)
	c, err := s.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "AKID", c.AccessKeyID)

	pp := &slowProvider{release: make(chan struct{}), panics: true}
	close(pp.release)
	_, err = (&asyncProvider{fetch: pp.fetch}).Retrieve(context.Background())
	var ce *CredentialsError
	require.ErrorAs(t, err, &ce)
	assert.NotContains(t, err.Error(), "secret-looking")
}

func TestCredentialsErrorTextWithholdsQuotedConfig(t *testing.T) {
	leak := errors.New(`parse profile failed: {"access_key_id":"AK","access_key_secret":"SEKRIT"}`)
	assert.NotContains(t, credentialsErrorText(leak), "SEKRIT")
	plain := errors.New("dial tcp 100.100.100.200:80: i/o timeout")
	assert.Equal(t, plain.Error(), credentialsErrorText(plain))
}
