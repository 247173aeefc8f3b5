package testkms_test

import (
	"net/http"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
)

// TestRequestFactsValidation: only facts KMS could present are accepted:
// acs:SourceIp holds public addresses only.
func TestRequestFactsValidation(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name  string
		facts testkms.RequestFacts
		ok    bool
	}{
		{"public IPv4", testkms.RequestFacts{SourceIP: "203.0.113.7"}, true},
		{"public IPv6", testkms.RequestFacts{SourceIP: "2001:db8::7"}, true},
		{"VPC", testkms.RequestFacts{SourceVPC: "vpc-bp1abc"}, true},
		{"both", testkms.RequestFacts{SourceIP: "203.0.113.7", SourceVPC: "vpc-bp1abc"}, true},
		{"zero", testkms.RequestFacts{}, true},
		{"loopback", testkms.RequestFacts{SourceIP: "127.0.0.1"}, false},
		{"private", testkms.RequestFacts{SourceIP: "10.1.2.3"}, false},
		{"private 192.168", testkms.RequestFacts{SourceIP: "192.168.1.1"}, false},
		{"shared address space (metadata service)", testkms.RequestFacts{SourceIP: "100.100.100.200"}, false},
		{"link-local", testkms.RequestFacts{SourceIP: "fe80::1"}, false},
		{"IPv6 unique local", testkms.RequestFacts{SourceIP: "fd00::1"}, false},
		{"unspecified", testkms.RequestFacts{SourceIP: "0.0.0.0"}, false},
		{"mapped private", testkms.RequestFacts{SourceIP: "::ffff:10.0.0.1"}, false},
		{"not an address", testkms.RequestFacts{SourceIP: "example.com"}, false},
		{"CIDR", testkms.RequestFacts{SourceIP: "203.0.113.0/24"}, false},
		{"bad VPC", testkms.RequestFacts{SourceVPC: "VPC-ABC"}, false},
		{"bad VPC prefix", testkms.RequestFacts{SourceVPC: "bp1abc"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := []error{
				f.srv.SetRequestFacts(f.root.AccessKeyID, tc.facts),
				f.srv.SetListenerFacts(tc.facts),
			}
			_, gerr := f.srv.NewInstanceGateway("kst-facts", testkms.GatewayOptions{Facts: tc.facts})
			errs = append(errs, gerr)
			for i, err := range errs {
				if tc.ok {
					assert.NoError(t, err, i)
				} else {
					assert.Error(t, err, i)
				}
			}
		})
	}
	assert.Error(t, f.srv.SetRequestFacts("LTAInobody", testkms.RequestFacts{SourceIP: "203.0.113.7"}), "unknown access key")
}

// TestRequestFactsPresented: which acs:SourceIp and acs:SourceVpc the
// Authorizer sees: none on loopback by default; the listener's default;
// the credential's facts over it, field by field; on a gateway its own
// default; and nothing after Reset.
func TestRequestFactsPresented(t *testing.T) {
	f := newFixture(t)
	acct := f.srv.DefaultAccount()
	keyID, _, err := f.srv.CreateKey(acct, testkms.KeyOptions{InstanceID: testInstance})
	require.NoError(t, err)
	user := f.srv.AddUser(acct, "app")
	other := f.srv.AddUser(acct, "other")
	gw := f.srv.StartInstanceGateway(t, testInstance, testkms.GatewayOptions{Facts: testkms.RequestFacts{SourceVPC: "vpc-gateway"}})
	az := &recordingAuthorizer{}
	f.srv.SetAuthorizer(az)

	sourceOf := func(c *kms.Client) map[string]string {
		t.Helper()
		_, err := c.Encrypt(encryptReq(keyID, "eA==", ""))
		require.NoError(t, err)
		reqs := az.take()
		require.Len(t, reqs, 1)
		out := map[string]string{}
		for _, k := range []string{"acs:SourceIp", "acs:SourceVpc"} {
			if v, ok := reqs[0].Context[k]; ok {
				out[k] = v
			}
		}
		return out
	}
	none := map[string]string{}
	userShared, otherShared := newClient(t, f.srv, user), newClient(t, f.srv, other)
	userGW, otherGW := gatewayClient(t, gw, f.srv.Region(), user), gatewayClient(t, gw, f.srv.Region(), other)

	assert.Equal(t, none, sourceOf(userShared), "loopback is not public")
	assert.Equal(t, map[string]string{"acs:SourceVpc": "vpc-gateway"}, sourceOf(userGW))

	require.NoError(t, f.srv.SetListenerFacts(testkms.RequestFacts{SourceVPC: "vpc-shared"}))
	require.NoError(t, f.srv.SetRequestFacts(user.AccessKeyID, testkms.RequestFacts{SourceIP: "203.0.113.7"}))
	assert.Equal(t, map[string]string{"acs:SourceIp": "203.0.113.7", "acs:SourceVpc": "vpc-shared"}, sourceOf(userShared))
	assert.Equal(t, map[string]string{"acs:SourceVpc": "vpc-shared"}, sourceOf(otherShared))
	assert.Equal(t, map[string]string{"acs:SourceIp": "203.0.113.7", "acs:SourceVpc": "vpc-gateway"}, sourceOf(userGW))

	require.NoError(t, f.srv.SetRequestFacts(other.AccessKeyID, testkms.RequestFacts{SourceVPC: "vpc-other"}))
	require.NoError(t, gw.SetRequestFacts(testkms.RequestFacts{SourceVPC: "vpc-moved"}))
	assert.Equal(t, map[string]string{"acs:SourceVpc": "vpc-other"}, sourceOf(otherGW), "the credential's VPC wins")
	assert.Equal(t, map[string]string{"acs:SourceIp": "203.0.113.7", "acs:SourceVpc": "vpc-moved"}, sourceOf(userGW))

	require.NoError(t, f.srv.SetRequestFacts(user.AccessKeyID, testkms.RequestFacts{}), "zero removes")
	assert.Equal(t, map[string]string{"acs:SourceVpc": "vpc-shared"}, sourceOf(userShared))

	f.srv.Reset()
	root := f.srv.AddAccount(acct)
	keyID, _, err = f.srv.CreateKey(acct, testkms.KeyOptions{InstanceID: testInstance})
	require.NoError(t, err)
	f.srv.SetAuthorizer(az)
	assert.Equal(t, none, sourceOf(newClient(t, f.srv, root)), "Reset drops the listener's facts")
	assert.Equal(t, map[string]string{"acs:SourceVpc": "vpc-gateway"}, sourceOf(gatewayClient(t, gw, f.srv.Region(), root)),
		"and returns a gateway to its options")
}

// TestSourceConditionsEnforced: the reference evaluator decides policies
// on acs:SourceIp and acs:SourceVpc as KMS would present them: an
// IpAddress grant does not cover a loopback or VPC caller (the key is
// absent), a NotIpAddress Deny does deny them, and acs:SourceVpc grants
// only requests from that VPC.
func TestSourceConditionsEnforced(t *testing.T) {
	f := newFixture(t)
	acct := f.srv.DefaultAccount()
	keyID, keyARN, err := f.srv.CreateKey(acct, testkms.KeyOptions{InstanceID: testInstance})
	require.NoError(t, err)
	gw := f.srv.StartInstanceGateway(t, testInstance, testkms.GatewayOptions{Facts: testkms.RequestFacts{SourceVPC: "vpc-app"}})
	office := f.srv.AddUser(acct, "office")
	vpcUser := f.srv.AddUser(acct, "vpcuser")
	guarded := f.srv.AddUser(acct, "guarded")
	for user, doc := range map[string]string{
		"office":  `{"Effect":"Allow","Action":"kms:Encrypt","Resource":"` + keyARN + `","Condition":{"IpAddress":{"acs:SourceIp":"203.0.113.0/24"}}}`,
		"vpcuser": `{"Effect":"Allow","Action":"kms:Encrypt","Resource":"` + keyARN + `","Condition":{"StringEquals":{"acs:SourceVpc":"vpc-app"}}}`,
		"guarded": `{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"},
			{"Effect":"Deny","Action":"kms:*","Resource":"*","Condition":{"NotIpAddress":{"acs:SourceIp":"203.0.113.0/24"}}}`,
	} {
		require.NoError(t, f.srv.AttachPolicy("acs:ram::"+acct+":user/"+user, "p", `{"Version":"1","Statement":[`+doc+`]}`))
	}
	f.srv.EnforcePolicies()

	encrypt := func(c *kms.Client) error {
		_, err := c.Encrypt(encryptReq(keyID, "eA==", ""))
		return err
	}
	denied := func(err error, msg string) {
		t.Helper()
		require.Error(t, err, msg)
		requireAPIError(t, err, http.StatusForbidden, "Forbidden.NoPermission")
	}

	// From loopback: acs:SourceIp and acs:SourceVpc are absent.
	denied(encrypt(newClient(t, f.srv, office)), "IpAddress on an absent key does not hold")
	denied(encrypt(newClient(t, f.srv, vpcUser)), "not from the VPC")
	denied(encrypt(newClient(t, f.srv, guarded)), "NotIpAddress on an absent key holds: the Deny applies")
	// Through the gateway, in vpc-app: only the VPC grant holds.
	require.NoError(t, encrypt(gatewayClient(t, gw, f.srv.Region(), vpcUser)))
	denied(encrypt(gatewayClient(t, gw, f.srv.Region(), office)), "no public address from a VPC")
	// The office's public address.
	for _, cred := range []testkms.Credential{office, guarded} {
		require.NoError(t, f.srv.SetRequestFacts(cred.AccessKeyID, testkms.RequestFacts{SourceIP: "203.0.113.7"}))
		require.NoError(t, encrypt(newClient(t, f.srv, cred)))
	}
	require.NoError(t, f.srv.SetRequestFacts(office.AccessKeyID, testkms.RequestFacts{SourceIP: "198.51.100.1"}))
	denied(encrypt(newClient(t, f.srv, office)), "outside the granted range")
}
