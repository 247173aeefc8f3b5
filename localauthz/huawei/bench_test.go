package huawei_test

import (
	"testing"

	"github.com/kmsenvelope/kmsenvelope/localauthz/huawei"
)

// BenchmarkEvaluate evaluates an allowed Huawei Cloud request
// through identity policies (5.0 with an alias match, and 1.1), a resource
// policy and SCPs on a three-level organization path.
func BenchmarkEvaluate(b *testing.B) {
	const acct = "11111111111111111111111111111111"
	key := "kms:cn-north-4:" + acct + ":KeyId:0d0466b0-e727-4d9c-b35d-f84bb474a37f"
	docs := []struct {
		kind        huawei.PolicyKind
		target, doc string
	}{
		{huawei.IdentityPolicy, "user:alice", `{"Version":"5.0","Statement":[
		  {"Effect":"Allow","Action":["kms:cmk:get*","kms:cmk:list"],"Resource":["kms:*:` + acct + `:KeyId:*"]},
		  {"Effect":"Deny","Action":["kms:cmk:scheduleKeyDeletion"]},
		  {"Effect":"Deny","Action":["kms:*:*"],"Condition":{"NotIpAddress":{"g:SourceIp":["10.0.0.0/8"]}}},
		  {"Effect":"Allow","Action":["kms:cmk:crypto"],"Resource":["kms:cn-north-4:` + acct + `:KeyId:*"],
		   "Condition":{"StringEqualsIfExists":{"kms:EncryptionAlgorithm":["SYMMETRIC_DEFAULT"]},"DateLessThan":{"g:CurrentTime":["2030-01-01T00:00:00Z"]}}}]}`},
		{huawei.IdentityPolicy, "group:legacy", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["kms:dek:crypto"],"Resource":["KMS:*:*:KeyId:*"]}]}`},
		{huawei.ResourcePolicy, key, `{"Version":"5.0","Statement":[{"Effect":"Allow","Principal":{"IAM":["22222222222222222222222222222222"]},"Action":["kms:cmk:decryptData"],"Resource":["*"]}]}`},
		{huawei.SCP, "root", `{"Version":"5.0","Statement":[{"Sid":"FullAccess","Effect":"Allow","Action":["*:*:*"]}]}`},
		{huawei.SCP, "ou:ou-1", `{"Version":"5.0","Statement":[{"Effect":"Allow","Action":["kms:cmk:*"]},{"Effect":"Deny","Action":["kms:cmk:scheduleKeyDeletion"],"Condition":{"NumberLessThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":["30"]}}}]}`},
	}
	var set huawei.PolicySet
	for _, d := range docs {
		p, err := huawei.ParsePolicy([]byte(d.doc), d.kind)
		if err != nil {
			b.Fatal(err)
		}
		if err := set.Add(p, d.target); err != nil {
			b.Fatal(err)
		}
	}
	req := huawei.Request{
		Principal: "iam::" + acct + ":user:alice",
		Action:    "kms:cmk:decryptData",
		Resource:  key,
		Context: huawei.Context{
			"g:SourceIp":              {"10.1.2.3"},
			"g:CurrentTime":           {"2026-03-31T09:00:00Z"},
			"kms:EncryptionAlgorithm": {"SYMMETRIC_DEFAULT"},
		},
		Org: &huawei.Org{Path: []string{"root", "ou:ou-1", "account:" + acct}},
	}
	if d := set.Evaluate(req); d.Effect != huawei.Allow {
		b.Fatalf("decision %s, want Allow: %+v", d.Effect, d)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if d := set.Evaluate(req); d.Effect != huawei.Allow {
			b.Fatal("not allowed")
		}
	}
}
