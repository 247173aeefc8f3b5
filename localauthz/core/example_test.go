package core_test

import (
	"fmt"

	"github.com/kmsenvelope/kmsenvelope/localauthz/core"
)

// A dialect compiles its statements into core statements; the evaluator
// then decides a request without allocating.
func Example() {
	cond, bad, _ := core.CompileCondition(core.OpIPAddress, false, "acs:SourceIp", []string{"10.0.0.0/8"})
	if bad >= 0 {
		fmt.Println("invalid value")
		return
	}
	cond.Name = "IpAddress" // the operator as the dialect spells it
	stmts := []core.Statement{
		{
			Actions:   []core.Glob{core.CompileGlob("kms:decrypt", true)},
			Resources: []core.Glob{core.CompileGlob("acs:kms:*:1111111111111111:key/*", false)},
			Conds:     []core.Condition{cond},
		},
		{
			Deny:      true,
			Actions:   []core.Glob{core.CompileGlob("kms:scheduleKeyDeletion", true)},
			Resources: []core.Glob{core.CompileGlob("*", false)},
		},
	}

	var caller core.Principal // the holder of an identity policy
	key := "acs:kms:cn-hangzhou:1111111111111111:key/key-1"
	for _, ip := range []string{"10.1.2.3", "192.0.2.1"} {
		var tr core.Trace
		ctx := core.Context{"acs:SourceIp": {ip}}
		allow, deny := core.EvalStatements(stmts, core.Action{Name: "kms:Decrypt", Keys: core.AllKeys}, key, &caller, ctx, &tr)
		fmt.Println(ip, "allow:", allow, "deny:", deny, "unmet:", tr.UnmetConditions())
	}
	// Output:
	// 10.1.2.3 allow: 0 deny: -1 unmet: []
	// 192.0.2.1 allow: -1 deny: -1 unmet: [IpAddress acs:SourceIp]
}
