package kmsclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFirstCallsOfAFreshProcessDoNotRace: the SDK fills its package-level
// endpoint maps (kms.EndpointMap, sts.EndpointMap, ram.EndpointMap)
// lazily, without a lock, on every NewClientWithOptions. In a fresh process
// the first concurrent calls raced on them; kmsclient now fills them once
// at package initialisation. The test runs in its own process so that the
// maps are as a fresh process has them; under -race the race detector
// also watches the concurrent first calls.
func TestFirstCallsOfAFreshProcessDoNotRace(t *testing.T) {
	if !inSubprocess(t) {
		runInSubprocess(t)
		return
	}
	// No SDK client has been built in this process yet, so only kmsclient's
	// own initialisation can have filled the maps.
	assert.NotNil(t, kms.EndpointMap, "kms endpoint map initialised before any concurrent use")
	assert.NotNil(t, sts.EndpointMap, "sts endpoint map initialised before any concurrent use")
	assert.NotNil(t, ram.EndpointMap, "ram endpoint map initialised before any concurrent use")

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"RequestId":"r","KeyMetadata":{"KeyId":"key-x","KeyState":"Enabled"},"AccountId":"1","Arn":"acs:ram::1:user/u"}`))
	}))
	defer srv.Close()
	c, err := New(Config{Region: "cn-hangzhou", Endpoint: srv.URL, Credentials: StaticCredentials("AKID", "secret")})
	require.NoError(t, err)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 16 {
		wg.Go(func() {
			<-start
			var err error
			if i%2 == 0 {
				_, err = c.DescribeKey(context.Background(), "key-x")
			} else {
				_, err = c.GetCallerIdentity(context.Background())
			}
			assert.NoError(t, err)
		})
	}
	close(start)
	wg.Wait()
}
