package huawei_test

import (
	"fmt"

	"github.com/kmsenvelope/kmsenvelope/localauthz/huawei"
)

func Example() {
	const acct = "11111111111111111111111111111111"
	p, err := huawei.ParsePolicy([]byte(`{
	  "Version": "5.0",
	  "Statement": [
	    {"Effect": "Allow", "Action": ["kms:cmk:decryptData", "kms:cmk:create"], "Resource": ["kms:*:*:KeyId:*"]}
	  ]
	}`), huawei.IdentityPolicy, huawei.WithName("app"))
	if err != nil {
		fmt.Println(err)
		return
	}
	var set huawei.PolicySet
	if err := set.Add(p, "user:alice"); err != nil {
		fmt.Println(err)
		return
	}
	alice := "iam::" + acct + ":user:alice"
	rep := set.Check(alice, huawei.Call{Method: "POST", Path: "/v1.0/0123456789abcdef0123456789abcdef/kms/create-key"})
	fmt.Println(rep.Action, rep.Decision.Effect)

	d := set.Evaluate(huawei.Request{Principal: alice, Action: "kms:cmk:scheduleKeyDeletion",
		Resource: "kms:cn-north-4:" + acct + ":KeyId:0d0466b0-e727-4d9c-b35d-f84bb474a37f"})
	fmt.Println(d.Effect, d.Missing[0].Where)
	// Output:
	// kms:cmk:create Allow
	// ImplicitDeny identity
}
