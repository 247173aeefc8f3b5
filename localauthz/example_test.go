package localauthz_test

import (
	"fmt"

	"github.com/kmsenvelope/kmsenvelope/localauthz"
)

func Example() {
	ramDoc := []byte(`{
	  "Version": "1",
	  "Statement": [
	    {"Effect": "Allow", "Action": "kms:GetSecretValue",
	     "Resource": "acs:kms:cn-hangzhou:1111111111111111:secret/example-secret"},
	    {"Sid": "NoDeletion", "Effect": "Deny", "Action": "kms:ScheduleKeyDeletion", "Resource": "*"}
	  ]
	}`)
	p, err := localauthz.ParsePolicy(ramDoc, localauthz.RAMPolicy, localauthz.WithName("app-policy"))
	if err != nil {
		fmt.Println(err)
		return
	}
	var set localauthz.PolicySet
	if err := set.Add(p, "acs:ram::1111111111111111:role/app"); err != nil {
		fmt.Println(err)
		return
	}
	const caller = "acs:sts::1111111111111111:assumed-role/app/web-1"
	const key = "acs:kms:cn-hangzhou:1111111111111111:key/key-hzz0001"

	d := set.Evaluate(localauthz.Request{Principal: caller, Action: "kms:ScheduleKeyDeletion", Resource: key})
	fmt.Println(d.Effect, "by", d.Decider)

	rep := set.Check(caller, localauthz.Call{
		Operation: "GetSecretValue",
		Resource:  "acs:kms:cn-hangzhou:1111111111111111:secret/example-secret",
		Facts:     localauthz.Facts{EncryptionKey: key, EncryptionKeyType: localauthz.KeyTypeSelfManaged},
	})
	fmt.Println(rep.Decision.Effect)
	for _, m := range rep.Decision.Missing {
		fmt.Println("missing", m.Action, "on", m.Resource, "in", m.Where)
	}
	for _, g := range rep.Grants() {
		fmt.Println(string(g.Policy))
	}
	// Output:
	// ExplicitDeny by app-policy Statement[1] (Sid "NoDeletion")
	// ImplicitDeny
	// missing kms:Decrypt on acs:kms:cn-hangzhou:1111111111111111:key/key-hzz0001 in ram
	// {"Version":"1","Statement":[{"Effect":"Allow","Action":["kms:Decrypt"],"Resource":["acs:kms:cn-hangzhou:1111111111111111:key/key-hzz0001"]}]}
}

func ExampleLintDocument() {
	doc := []byte(`{"Version": "1", "Statement": [
	  {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenrateDataKey"],
	   "Resource": "acs:kms:cn-hangzhou:1111111111111111:key/*"}]}`)
	for _, f := range localauthz.LintDocument(doc, localauthz.RAMPolicy) {
		fmt.Println(f)
	}
	// Output:
	// error unknown-action Statement[0].Action[1]: "kms:GenrateDataKey" is not a KMS action; did you mean kms:GenerateDataKey?
}

func ExampleParsePolicy_error() {
	_, err := localauthz.ParsePolicy([]byte(`{"Version": "1", "Statement": [
	  {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
	   "Condition": {"StringEqualsIfExists": {"kms:tag/env": "prod"}}}]}`), localauthz.RAMPolicy)
	fmt.Println(err)
	// Output:
	// localauthz: Statement[0].Condition.StringEqualsIfExists (line 3, column 19): RAM does not support ...IfExists operators; expected StringEquals
}

// A client behind a NAT cannot know the public address KMS sees. Marked
// unknown, acs:SourceIp makes a decision that hinges on it Conditional:
// KMS decides, and no grant that would drop the condition is suggested.
func ExampleContext_SetUnknown() {
	p := localauthz.MustParsePolicy(`{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:GenerateDataKey",
	  "Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"116.62.0.0/24"}}}]}`, localauthz.RAMPolicy)
	var set localauthz.PolicySet
	if err := set.Add(p, ""); err != nil {
		fmt.Println(err)
		return
	}
	ctx := localauthz.Context{"acs:SecureTransport": {"true"}}
	ctx.SetUnknown("acs:SourceIp")
	rep := set.Check("acs:ram::1111111111111111:user/alice", localauthz.Call{
		Operation: "GenerateDataKey", Resource: "acs:kms:cn-hangzhou:1111111111111111:key/key-1", Context: ctx})
	fmt.Println(rep.Decision.Effect, rep.Decision.ConditionKeys, len(rep.Grants()))
	// Output:
	// Conditional [acs:SourceIp] 0
}
