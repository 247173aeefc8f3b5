package testkms_test

import (
	"encoding/base64"
	"encoding/json"
	stderrors "errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
)

func describeRegions(c *kms.Client) error {
	_, err := c.DescribeRegions(kms.CreateDescribeRegionsRequest())
	return err
}

func TestResponseFaults(t *testing.T) {
	tests := []struct {
		kind   testkms.FaultKind
		status int
		code   string
	}{
		{testkms.FaultThrottle, http.StatusTooManyRequests, "Rejected.Throttling"},
		{testkms.FaultInternal, http.StatusInternalServerError, "InternalFailure"},
		{testkms.FaultUnavailable, http.StatusServiceUnavailable, "ServiceUnavailableTemporary"},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			f := newFixture(t)
			f.srv.InjectFault(testkms.Fault{Kind: tt.kind, Action: "DescribeRegions", Count: 2})
			requireAPIError(t, describeRegions(f.client), tt.status, tt.code)
			requireAPIError(t, describeRegions(f.client), tt.status, tt.code)
			require.NoError(t, describeRegions(f.client))
			assert.Equal(t, 3, f.srv.Calls("DescribeRegions"))
		})
	}
}

func TestFaultMatching(t *testing.T) {
	f := newFixture(t)
	user := f.srv.AddUser(f.srv.DefaultAccount(), "bob")
	uc := newClient(t, f.srv, user)

	// Action filter, "kms:" prefix accepted.
	f.srv.InjectFault(testkms.Fault{Kind: testkms.FaultThrottle, Action: "kms:ListKeys"})
	require.NoError(t, describeRegions(f.client))
	_, err := f.client.ListKeys(kms.CreateListKeysRequest())
	requireAPIError(t, err, http.StatusTooManyRequests, "Rejected.Throttling")
	f.srv.ClearFaults()

	// Principal filter.
	id := f.srv.InjectFault(testkms.Fault{Kind: testkms.FaultUnavailable, Principal: user.Principal})
	require.NoError(t, describeRegions(f.client))
	requireAPIError(t, describeRegions(uc), http.StatusServiceUnavailable, "ServiceUnavailableTemporary")
	assert.True(t, f.srv.RemoveFault(id))
	assert.False(t, f.srv.RemoveFault(id))
	require.NoError(t, describeRegions(uc))

	// Injection order decides between overlapping faults.
	f.srv.InjectFault(testkms.Fault{Kind: testkms.FaultInternal, Count: 1})
	f.srv.InjectFault(testkms.Fault{Kind: testkms.FaultThrottle, Count: 1})
	requireAPIError(t, describeRegions(f.client), http.StatusInternalServerError, "InternalFailure")
	requireAPIError(t, describeRegions(f.client), http.StatusTooManyRequests, "Rejected.Throttling")
	require.NoError(t, describeRegions(f.client))

	// Faults apply after authentication: a bad signature is reported as such.
	f.srv.InjectFault(testkms.Fault{Kind: testkms.FaultThrottle})
	bad := newClient(t, f.srv, testkms.Credential{AccessKeyID: f.root.AccessKeyID, AccessKeySecret: "nope"})
	requireAPIError(t, describeRegions(bad), http.StatusBadRequest, "SignatureDoesNotMatch")
	f.srv.ClearFaults()
}

func TestFaultRatio(t *testing.T) {
	f := newFixture(t)
	f.srv.InjectFault(testkms.Fault{Kind: testkms.FaultThrottle, Ratio: 0.5})
	failed := 0
	const n = 100
	for range n {
		if err := describeRegions(f.client); err != nil {
			requireAPIError(t, err, http.StatusTooManyRequests, "Rejected.Throttling")
			failed++
		}
	}
	assert.Greater(t, failed, n/5)
	assert.Less(t, failed, n*4/5)
	assert.Equal(t, n, f.srv.Calls("DescribeRegions"))
}

func TestFaultLatency(t *testing.T) {
	f := newFixture(t)
	f.srv.InjectFault(testkms.Fault{Kind: testkms.FaultLatency, Latency: 200 * time.Millisecond, Count: 1})
	start := time.Now()
	require.NoError(t, describeRegions(f.client))
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
	start = time.Now()
	require.NoError(t, describeRegions(f.client))
	assert.Less(t, time.Since(start), 200*time.Millisecond)
}

func TestFaultLatencyThenError(t *testing.T) {
	f := newFixture(t)
	f.srv.InjectFault(testkms.Fault{Kind: testkms.FaultLatency, Latency: 50 * time.Millisecond, Count: 1})
	f.srv.InjectFault(testkms.Fault{Kind: testkms.FaultUnavailable, Count: 1})
	start := time.Now()
	requireAPIError(t, describeRegions(f.client), http.StatusServiceUnavailable, "ServiceUnavailableTemporary")
	assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)
}

func TestFaultReset(t *testing.T) {
	for _, tlsMode := range []bool{false, true} {
		name := "HTTP"
		if tlsMode {
			name = "HTTPS"
		}
		t.Run(name, func(t *testing.T) {
			srv := testkms.Start(t, testkms.Options{TLS: tlsMode})
			root := srv.AddAccount(srv.DefaultAccount())
			c := newTLSClient(t, srv, root)
			srv.InjectFault(testkms.Fault{Kind: testkms.FaultReset, Action: "DescribeRegions", Count: 1})
			err := describeRegions(c)
			require.Error(t, err)
			var se *sdkerrors.ServerError
			assert.False(t, stderrors.As(err, &se), "a reset is a transport error, got %v", err)
			var ue *url.Error
			require.True(t, stderrors.As(err, &ue), "want *url.Error, got %T", err)
			msg := err.Error()
			assert.True(t, strings.Contains(msg, "reset") || strings.Contains(msg, "EOF"), msg)
			require.NoError(t, describeRegions(c))
			assert.Equal(t, 2, srv.Calls("DescribeRegions"))
		})
	}
}

func TestMalformedFaults(t *testing.T) {
	f := newFixture(t)

	f.srv.InjectFault(testkms.Fault{Kind: testkms.FaultMalformedHTML, Count: 1})
	se := serverError(t, describeRegions(f.client))
	assert.Equal(t, http.StatusInternalServerError, se.HttpStatus())
	assert.Empty(t, se.ErrorCode())
	assert.Contains(t, se.Message(), "<html>")

	f.srv.InjectFault(testkms.Fault{Kind: testkms.FaultMalformedJSON200, Count: 1})
	err := describeRegions(f.client)
	var ce *sdkerrors.ClientError
	require.True(t, stderrors.As(err, &ce), "want ClientError, got %T %v", err, err)
	assert.Equal(t, "SDK.JsonUnmarshalError", ce.ErrorCode())

	// A numeric Code makes the raw SDK panic; wrappers must recover.
	f.srv.InjectFault(testkms.Fault{Kind: testkms.FaultBadCodeType, Count: 1})
	assert.Panics(t, func() { _ = describeRegions(f.client) })

	f.srv.InjectFault(testkms.Fault{Kind: testkms.FaultBadCodeType, Count: 1})
	resp := sendRaw(t, f.srv, "POST", f.root.AccessKeySecret, baseParams(f.root, "DescribeRegions", time.Now()), true)
	assert.Equal(t, http.StatusBadRequest, resp.Status)
	_, isNumber := resp.Body["Code"].(float64)
	assert.True(t, isNumber, "%s", resp.Raw)

	require.NoError(t, describeRegions(f.client))
	assert.Equal(t, 5, f.srv.Calls("DescribeRegions"))
}

func TestDeny(t *testing.T) {
	f := newFixture(t)
	acct := f.srv.DefaultAccount()
	keyID := f.createKey(t)
	user := f.srv.AddUser(acct, "alice")
	role := f.srv.AssumeRole(acct, "worker", "job-7")

	tests := []struct {
		name        string
		cred        testkms.Credential
		deny        string
		ptype       string
		displayName string
	}{
		{"sub user, RAM action", user, "kms:GenerateDataKey", "SubUser", "alice"},
		{"assumed role, API name", role, "GenerateDataKey", "AssumedRoleUser", "worker:job-7"},
		{"account root", f.root, "kms:GenerateDataKey", "Account", acct},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.srv.Deny(tt.cred.Principal, tt.deny)
			t.Cleanup(f.srv.ClearFaults)
			c := newClient(t, f.srv, tt.cred)

			gdk := kms.CreateGenerateDataKeyRequest()
			gdk.KeyId = keyID
			_, err := c.GenerateDataKey(gdk)
			se := requireAPIError(t, err, http.StatusForbidden, "Forbidden.NoPermission")
			assert.Equal(t, "This operation is forbidden by permission system.", se.Message())
			d := se.AccessDeniedDetail()
			require.NotNil(t, d)
			assert.Equal(t, "kms:GenerateDataKey", d["AuthAction"])
			assert.Equal(t, tt.ptype, d["AuthPrincipalType"])
			assert.Equal(t, acct, d["AuthPrincipalOwnerId"])
			assert.Equal(t, tt.displayName, d["AuthPrincipalDisplayName"])
			assert.Equal(t, "AccountLevelIdentityBasedPolicy", d["PolicyType"])
			assert.Equal(t, "ImplicitDeny", d["NoPermissionType"])
			diag, err := base64.StdEncoding.DecodeString(d["EncodedDiagnosticMessage"].(string))
			require.NoError(t, err)
			assert.True(t, json.Valid(diag))

			// Other actions and other principals are unaffected.
			_, err = c.Encrypt(encryptReq(keyID, "eA==", ""))
			require.NoError(t, err)
			other := user
			if tt.cred.Principal == user.Principal {
				other = role
			}
			// A fresh request: the SDK leaves SecurityToken in a reused one.
			gdk = kms.CreateGenerateDataKeyRequest()
			gdk.KeyId = keyID
			_, err = newClient(t, f.srv, other).GenerateDataKey(gdk)
			require.NoError(t, err)
		})
	}
}

func TestDenyFaultCount(t *testing.T) {
	f := newFixture(t)
	f.srv.InjectFault(testkms.Fault{Kind: testkms.FaultDeny, Action: "ListKeys", Count: 1})
	listKeys := func() error { _, err := f.client.ListKeys(kms.CreateListKeysRequest()); return err }
	se := requireAPIError(t, listKeys(), http.StatusForbidden, "Forbidden.NoPermission")
	assert.Equal(t, "kms:ListKeys", se.AccessDeniedDetail()["AuthAction"])
	require.NoError(t, listKeys())
}

func TestInjectFaultValidation(t *testing.T) {
	srv := testkms.Start(t)
	assert.Panics(t, func() { srv.InjectFault(testkms.Fault{}) })
	assert.Panics(t, func() { srv.InjectFault(testkms.Fault{Kind: testkms.FaultLatency}) })
	assert.Panics(t, func() { srv.InjectFault(testkms.Fault{Kind: testkms.FaultThrottle, Count: -1}) })
	assert.Panics(t, func() { srv.InjectFault(testkms.Fault{Kind: testkms.FaultThrottle, Ratio: 2}) })
	assert.Equal(t, "Throttle", testkms.FaultThrottle.String())
	assert.Equal(t, "FaultKind(99)", testkms.FaultKind(99).String())
}

func TestCallCounters(t *testing.T) {
	f := newFixture(t)
	keyID := f.createKey(t)
	_, err := f.client.Encrypt(encryptReq(keyID, "eA==", ""))
	require.NoError(t, err)
	_, err = f.client.Encrypt(encryptReq("key-missing", "eA==", ""))
	require.Error(t, err)
	f.srv.InjectFault(testkms.Fault{Kind: testkms.FaultThrottle, Action: "Encrypt", Count: 1})
	_, err = f.client.Encrypt(encryptReq(keyID, "eA==", ""))
	require.Error(t, err)
	bad := newClient(t, f.srv, testkms.Credential{AccessKeyID: f.root.AccessKeyID, AccessKeySecret: "nope"})
	_, err = bad.Encrypt(encryptReq(keyID, "eA==", ""))
	require.Error(t, err)
	resp := sendRaw(t, f.srv, "POST", f.root.AccessKeySecret, baseParams(f.root, "NoSuchAction", time.Now()), true)
	assert.Equal(t, "InvalidAction.NotFound", resp.code())

	assert.Equal(t, 1, f.srv.Calls("CreateKey"))
	assert.Equal(t, 4, f.srv.Calls("Encrypt"))
	assert.Equal(t, 4, f.srv.Calls("kms:Encrypt"))
	assert.Equal(t, 1, f.srv.Calls("NoSuchAction"))
	assert.Equal(t, 0, f.srv.Calls("Decrypt"))
	assert.Equal(t, 6, f.srv.TotalCalls())
	assert.Equal(t, map[string]int{"CreateKey": 1, "Encrypt": 4, "NoSuchAction": 1}, f.srv.CallCounts())

	f.srv.ResetCalls()
	assert.Equal(t, 0, f.srv.TotalCalls())
	assert.Equal(t, 0, f.srv.Calls("Encrypt"))
	assert.Empty(t, f.srv.CallCounts())
}
