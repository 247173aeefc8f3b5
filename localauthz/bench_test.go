package localauthz_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kmsenvelope/kmsenvelope/localauthz"
)

// benchSet builds a realistic set of 20 statements: 16 in two RAM policies
// (wildcards, conditions, a conditional Deny) and 4 in a key policy.
func benchSet(b *testing.B) *localauthz.PolicySet {
	b.Helper()
	var stmts []string
	for i := 0; i < 12; i++ {
		stmts = append(stmts, fmt.Sprintf(`{"Effect":"Allow","Action":["kms:Describe*","kms:List*"],"Resource":"acs:kms:*:1111111111111111:key/key-%04d"}`, i))
	}
	stmts = append(stmts,
		`{"Effect":"Deny","Action":"kms:*","Resource":"*","Condition":{"NotIpAddress":{"acs:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}}`,
		`{"Effect":"Deny","Action":"kms:ScheduleKeyDeletion","Resource":"*"}`,
		`{"Effect":"Allow","Action":["kms:Encrypt","kms:GenerateDataKey"],"Resource":"acs:kms:cn-hangzhou:1111111111111111:alias/*"}`,
		`{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey"],"Resource":["acs:kms:cn-hangzhou:1111111111111111:key/*"],"Condition":{"StringEqualsIgnoreCase":{"kms:tag/Project":["Apollo"]},"DateLessThan":{"acs:CurrentTime":"2030-01-01T00:00:00+08:00"},"Bool":{"acs:SecureTransport":"true"}}}`,
	)
	ram1 := `{"Version":"1","Statement":[` + strings.Join(stmts[:8], ",") + `]}`
	ram2 := `{"Version":"1","Statement":[` + strings.Join(stmts[8:], ",") + `]}`
	key := `{"Version":"1","Statement":[
	  {"Effect":"Allow","Principal":{"RAM":["acs:ram::1111111111111111:*"]},"Action":"kms:*","Resource":"*"},
	  {"Effect":"Allow","Principal":{"RAM":["acs:ram::1111111111111111:user/ops"]},"Action":["kms:Describe*","kms:List*"],"Resource":"*"},
	  {"Effect":"Allow","Principal":{"RAM":["acs:ram::2222222222222222:role/app"]},"Action":["kms:Decrypt"],"Resource":"*"},
	  {"Effect":"Deny","Principal":{"RAM":["acs:ram::3333333333333333:*"]},"Action":"kms:*","Resource":"*"}]}`
	var set localauthz.PolicySet
	for _, e := range []struct {
		doc    string
		kind   localauthz.PolicyKind
		target string
	}{{ram1, localauthz.RAMPolicy, ""}, {ram2, localauthz.RAMPolicy, ""}, {key, localauthz.KeyPolicy, "acs:kms:cn-hangzhou:1111111111111111:key/key-0001"}} {
		p, err := localauthz.ParsePolicy([]byte(e.doc), e.kind)
		if err != nil {
			b.Fatal(err)
		}
		if err := set.Add(p, e.target); err != nil {
			b.Fatal(err)
		}
	}
	return &set
}

func BenchmarkEvaluate(b *testing.B) {
	set := benchSet(b)
	req := localauthz.Request{
		Principal: "acs:ram::1111111111111111:user/alice",
		Action:    "kms:Decrypt",
		Resource:  "acs:kms:cn-hangzhou:1111111111111111:key/key-0001",
		Context: localauthz.Context{
			"acs:SourceIp":        {"192.168.3.4"},
			"acs:CurrentTime":     {"2026-03-31T09:00:00Z"},
			"acs:SecureTransport": {"true"},
			"kms:tag/Project":     {"apollo"},
		},
		InKMSInstance: true,
	}
	if d := set.Evaluate(req); d.Effect != localauthz.Allow {
		b.Fatalf("decision %s, want Allow", d.Effect)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if d := set.Evaluate(req); d.Effect != localauthz.Allow {
			b.Fatal("not allowed")
		}
	}
}

// BenchmarkEvaluateHuawei evaluates an allowed Huawei Cloud request
// through identity policies (5.0 with an alias match, and 1.1), a resource
// policy and SCPs on a three-level organization path.
func BenchmarkEvaluateHuawei(b *testing.B) {
	const acct = "11111111111111111111111111111111"
	key := "kms:cn-north-4:" + acct + ":KeyId:0d0466b0-e727-4d9c-b35d-f84bb474a37f"
	docs := []struct {
		kind        localauthz.PolicyKind
		target, doc string
	}{
		{localauthz.HuaweiIdentityPolicy, "user:alice", `{"Version":"5.0","Statement":[
		  {"Effect":"Allow","Action":["kms:cmk:get*","kms:cmk:list"],"Resource":["kms:*:` + acct + `:KeyId:*"]},
		  {"Effect":"Deny","Action":["kms:cmk:scheduleKeyDeletion"]},
		  {"Effect":"Deny","Action":["kms:*:*"],"Condition":{"NotIpAddress":{"g:SourceIp":["10.0.0.0/8"]}}},
		  {"Effect":"Allow","Action":["kms:cmk:crypto"],"Resource":["kms:cn-north-4:` + acct + `:KeyId:*"],
		   "Condition":{"StringEqualsIfExists":{"kms:EncryptionAlgorithm":["SYMMETRIC_DEFAULT"]},"DateLessThan":{"g:CurrentTime":["2030-01-01T00:00:00Z"]}}}]}`},
		{localauthz.HuaweiIdentityPolicy, "group:legacy", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["kms:dek:crypto"],"Resource":["KMS:*:*:KeyId:*"]}]}`},
		{localauthz.HuaweiResourcePolicy, key, `{"Version":"5.0","Statement":[{"Effect":"Allow","Principal":{"IAM":["22222222222222222222222222222222"]},"Action":["kms:cmk:decryptData"],"Resource":["*"]}]}`},
		{localauthz.HuaweiSCP, "root", `{"Version":"5.0","Statement":[{"Sid":"FullAccess","Effect":"Allow","Action":["*:*:*"]}]}`},
		{localauthz.HuaweiSCP, "ou:ou-1", `{"Version":"5.0","Statement":[{"Effect":"Allow","Action":["kms:cmk:*"]},{"Effect":"Deny","Action":["kms:cmk:scheduleKeyDeletion"],"Condition":{"NumberLessThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":["30"]}}}]}`},
	}
	var set localauthz.PolicySet
	for _, d := range docs {
		p, err := localauthz.ParseHuaweiPolicy([]byte(d.doc), d.kind)
		if err != nil {
			b.Fatal(err)
		}
		if err := set.Add(p, d.target); err != nil {
			b.Fatal(err)
		}
	}
	req := localauthz.Request{
		Principal: "iam::" + acct + ":user:alice",
		Action:    "kms:cmk:decryptData",
		Resource:  key,
		Context: localauthz.Context{
			"g:SourceIp":              {"10.1.2.3"},
			"g:CurrentTime":           {"2026-03-31T09:00:00Z"},
			"kms:EncryptionAlgorithm": {"SYMMETRIC_DEFAULT"},
		},
		Org: &localauthz.Org{Path: []string{"root", "ou:ou-1", "account:" + acct}},
	}
	if d := set.Evaluate(req); d.Effect != localauthz.Allow {
		b.Fatalf("decision %s, want Allow: %+v", d.Effect, d)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if d := set.Evaluate(req); d.Effect != localauthz.Allow {
			b.Fatal("not allowed")
		}
	}
}
