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

// BenchmarkEvaluateUnknownKeys is BenchmarkEvaluate with acs:SourceIp
// unknown: the conditional Deny on it maybe applies, so the decision is
// Conditional (one allocation: Decision.ConditionKeys).
func BenchmarkEvaluateUnknownKeys(b *testing.B) {
	set := benchSet(b)
	ctx := localauthz.Context{
		"acs:CurrentTime":     {"2026-03-31T09:00:00Z"},
		"acs:SecureTransport": {"true"},
		"kms:tag/Project":     {"apollo"},
	}
	ctx.SetUnknown("acs:SourceIp")
	req := localauthz.Request{
		Principal:     "acs:ram::1111111111111111:user/alice",
		Action:        "kms:Decrypt",
		Resource:      "acs:kms:cn-hangzhou:1111111111111111:key/key-0001",
		Context:       ctx,
		InKMSInstance: true,
	}
	if d := set.Evaluate(req); d.Effect != localauthz.Conditional {
		b.Fatalf("decision %s, want Conditional", d.Effect)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if d := set.Evaluate(req); d.Effect != localauthz.Conditional {
			b.Fatal("not conditional")
		}
	}
}
