package kmsclient

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

type recordingRT struct{ hosts []string }

func (r *recordingRT) RoundTrip(req *http.Request) (*http.Response, error) {
	r.hosts = append(r.hosts, req.URL.Host)
	return nil, http.ErrUseLastResponse
}

// TestRootsRouter: with RootCAs set, the public STS and RAM hosts go through
// the system-roots transport and everything else through the custom one.
func TestRootsRouter(t *testing.T) {
	custom, system := &recordingRT{}, &recordingRT{}
	r := &rootsRouter{custom: custom, system: system, systemHosts: map[string]bool{"sts.aliyuncs.com": true, "ram.aliyuncs.com": true}}
	for _, u := range []string{"https://kms.internal:8443/", "https://STS.aliyuncs.com/", "https://ram.aliyuncs.com:443/", "https://kms.cn-hangzhou.aliyuncs.com/"} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		_, _ = r.RoundTrip(req)
	}
	assert.Equal(t, []string{"kms.internal:8443", "kms.cn-hangzhou.aliyuncs.com"}, custom.hosts)
	assert.Equal(t, []string{"STS.aliyuncs.com", "ram.aliyuncs.com:443"}, system.hosts)
}
