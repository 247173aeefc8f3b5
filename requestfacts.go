package kmsenvelope

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/kmsenvelope/kmsenvelope/localauthz"
)

// RequestFacts are the request condition keys KMS sees on this Client's
// calls, for local policy checks. KMS's "Policy condition keys" page
// (https://www.alibabacloud.com/help/en/kms/security-and-compliance/condition-key)
// lists the keys RAM, key and secret policies may test on KMS calls, among
// them acs:SourceIp ("the public IP address of the client": public
// addresses only) and acs:SourceVpc (the VPC of the client, "only valid
// when the request is from a VPC"). The Client always knows
// acs:SecureTransport (the scheme of its endpoint) and acs:CurrentTime (its
// clock). Every other request key is unknown unless given here: a local
// decision that hinges on an unknown key is Conditional, not a denial;
// Preflight reports it as such, and Enforce sends the call to KMS, which
// decides (see Config.StrictConditions).
//
// The zero value knows nothing beyond the two keys above.
type RequestFacts struct {
	// SourceIP is the public address KMS sees the calls come from
	// (acs:SourceIp), when known (for example from your network setup).
	SourceIP string
	// SourceVPC is the VPC id KMS sees (acs:SourceVpc), for calls that
	// reach KMS through a VPC endpoint or a KMS instance gateway.
	SourceVPC string
	// Values gives further request keys, e.g. {"acs:AccessId": {...}}.
	Values map[string][]string
	// Absent lists request keys KMS will not see on these calls, e.g.
	// "acs:SourceIp" for calls through a VPC endpoint, or "acs:SourceVpc"
	// for calls over the Internet: conditions on them are decided as on an
	// absent key rather than being conditional.
	Absent []string
	// DetectECS reads the VPC id from ECS instance metadata
	// (100.100.100.200, IMDSv2) at New, when SourceVPC is empty. With the KMS
	// endpoint a VPC endpoint ("kms-vpc.<region>.aliyuncs.com") or a KMS
	// instance gateway, calls come from that VPC (acs:SourceVpc) and carry
	// no public address (acs:SourceIp absent); with a public endpoint they
	// leave the VPC, so acs:SourceVpc is absent and acs:SourceIp stays
	// unknown (the NAT's address is not visible from the instance). It is
	// off by default (the metadata service exists only on ECS), and skipped
	// when ALIBABA_CLOUD_ECS_METADATA_DISABLED=true. A failure is a note in
	// the preflight report, not an error.
	DetectECS bool
	// ECSMetadataEndpoint overrides the metadata service's address (for
	// tests), e.g. "http://127.0.0.1:8080".
	ECSMetadataEndpoint string
}

// requestConditionKeys are the request keys KMS's condition-key page and
// RAM's universal keys name that a client may not know of itself; a key
// not set in the Client's context is unknown to local checks.
var requestConditionKeys = []string{"acs:SourceIp", "acs:SourceVpc", "acs:SourceVpcIp", "acs:AccessId", "acs:MFAPresent"}

// requestContext builds the condition keys every call presents, from the
// configuration and, where enabled, ECS metadata. It returns notes on what
// could not be learned.
func (c *Client) requestContext(ctx context.Context) (localauthz.Context, []string) {
	rf := c.cfg.RequestFacts
	out := localauthz.Context{}
	var notes []string
	// What RAM sees as acs:SecureTransport is the scheme of the KMS calls.
	if c.kms.Secure() {
		out.Set("acs:SecureTransport", "true")
	} else {
		out.Set("acs:SecureTransport", "false")
	}
	absent := map[string]bool{}
	for _, k := range rf.Absent {
		absent[strings.ToLower(k)] = true
	}
	vpc := rf.SourceVPC
	if vpc == "" && rf.DetectECS && os.Getenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED") != "true" {
		id, err := ecsVPCID(ctx, rf.ECSMetadataEndpoint)
		if err != nil {
			notes = append(notes, "could not read the VPC id from ECS instance metadata: "+err.Error())
		} else if viaVPC(c.kms.Endpoint()) || c.kms.InstanceGateway() {
			// Calls to a VPC endpoint or an instance gateway come from the
			// VPC and carry no public address.
			vpc = id
			absent["acs:sourceip"] = true
		} else {
			// Calls to a public endpoint leave the VPC (through NAT or an
			// EIP, whose address the instance cannot see): KMS sees no VPC.
			absent["acs:sourcevpc"] = true
		}
	}
	if rf.SourceIP != "" {
		out.Set("acs:SourceIp", rf.SourceIP)
	}
	if vpc != "" {
		out.Set("acs:SourceVpc", vpc)
	}
	for k, v := range rf.Values {
		out.Set(k, v...)
	}
	var unknown []string
	for _, k := range requestConditionKeys {
		if _, ok := out.Get(k); !ok && !absent[strings.ToLower(k)] {
			unknown = append(unknown, k)
		}
	}
	markUnknown(out, unknown)
	return out, notes
}

// viaVPC reports whether calls to host come from a VPC: a KMS VPC
// endpoint or a KMS instance gateway.
func viaVPC(host string) bool {
	h := strings.ToLower(host)
	return strings.HasPrefix(h, "kms-vpc.") || strings.Contains(h, ".cryptoservice.kms.")
}

// ecsVPCID reads the VPC id from ECS instance metadata with an IMDSv2
// token, within 2 seconds.
func ecsVPCID(ctx context.Context, endpoint string) (string, error) {
	if endpoint == "" {
		endpoint = "http://100.100.100.200"
	}
	endpoint = strings.TrimRight(endpoint, "/")
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	// Never through a proxy from the environment: it could read the token
	// or answer a false VPC id.
	client := &http.Client{
		Transport:     &http.Transport{Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	get := func(method, path string, hdr map[string]string) (string, error) {
		req, err := http.NewRequestWithContext(ctx, method, endpoint+path, nil)
		if err != nil {
			return "", err
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if err != nil {
			return "", err
		}
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("%s %s: HTTP %d", method, path, resp.StatusCode)
		}
		return strings.TrimSpace(string(body)), nil
	}
	token, err := get(http.MethodPut, "/latest/api/token", map[string]string{"X-aliyun-ecs-metadata-token-ttl-seconds": "60"})
	if err != nil {
		return "", fmt.Errorf("metadata token: %w", err)
	}
	id, err := get(http.MethodGet, "/latest/meta-data/vpc-id", map[string]string{"X-aliyun-ecs-metadata-token": token})
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(id, "vpc-") || strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return "", errors.New("metadata vpc-id is not a VPC id")
	}
	return id, nil
}

// markUnknown marks keys unknown to local checks.
func markUnknown(ctx localauthz.Context, keys []string) { ctx.SetUnknown(keys...) }
