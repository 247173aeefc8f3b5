package cases_test

import (
	"fmt"

	"github.com/kmsenvelope/kmsenvelope/localauthz/cases"
)

func Example() {
	list, err := cases.Parse([]byte(`[{
	  "name": "alias_needs_its_own_grant",
	  "policies": [{"type": "ram", "document": {"Version": "1", "Statement": [
	    {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "acs:kms:*:1111111111111111:key/*"}]}}],
	  "request": {"principal": "acs:ram::1111111111111111:user/alice", "action": "kms:Encrypt",
	    "resource": "acs:kms:cn-hangzhou:1111111111111111:alias/app", "operation": "Encrypt",
	    "related": {"aliasTargetKey": "acs:kms:cn-hangzhou:1111111111111111:key/key-1"}},
	  "expect": "ImplicitDeny",
	  "missing": [{"action": "kms:Encrypt", "resource": "acs:kms:cn-hangzhou:1111111111111111:alias/app", "where": "ram"}]
	}]`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range list {
		res := c.Run()
		fmt.Println(c.Dialect(), res.Name, res.Decision, res.Pass)
	}
	// Output:
	// alibaba alias_needs_its_own_grant ImplicitDeny true
}
