package huawei_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kmsenvelope/kmsenvelope/localauthz/huawei"
)

var huaweiKinds = []huawei.PolicyKind{huawei.IdentityPolicy, huawei.SCP, huawei.ResourcePolicy}

func huaweiKindIndex(k huawei.PolicyKind) uint8 {
	for i, h := range huaweiKinds {
		if h == k {
			return uint8(i)
		}
	}
	return 0
}

// FuzzParseHuaweiPolicy checks that the Huawei parser never panics, that
// every error is a *PolicyError of a known kind with a JSON path inside the
// document, that parse -> marshal -> parse is stable, and that evaluating
// and linting a parsed policy never panic. Seeds: every policy of the
// Huawei conformance cases and the Huawei test policies.
func FuzzParseHuaweiPolicy(f *testing.F) {
	if data, err := os.ReadFile("../testdata/conformance/huawei-kms.json"); err == nil {
		var cases []struct {
			Policies []struct {
				Type     huawei.PolicyKind
				Document json.RawMessage
			}
		}
		if json.Unmarshal(data, &cases) == nil {
			for _, c := range cases {
				for _, p := range c.Policies {
					f.Add([]byte(p.Document), huaweiKindIndex(p.Type))
				}
			}
		}
	}
	files, _ := filepath.Glob("testdata/policies/*.json")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			for k := range huaweiKinds {
				f.Add(data, uint8(k))
			}
		}
	}
	f.Add([]byte(`{"Version":"5.0","Statement":{"Effect":"Deny","NotAction":"kms:*","NotResource":"kms:*:*:KeyId:*","Condition":{"ForAllValues:StringNotMatchIfExists":{"a":["*?"]}}}}`), uint8(0))
	f.Add([]byte(`{"Version":"1.1","Statement":[{"Effect":"Allow","Action":"kms:cmk:crypto","Resource":"KMS:*:*:KeyId:x:y/z"}]}`), uint8(0))
	f.Add([]byte(`{"Version":"5.0","Statement":[{"Effect":"Allow","Principal":{"IAM":"iam::1:agency:a"},"Action":"*","Resource":"*","Condition":{"Null":{"k":1.5e3}}}]}`), uint8(2))

	f.Fuzz(func(t *testing.T, doc []byte, k uint8) {
		kind := huaweiKinds[int(k)%len(huaweiKinds)]
		p, err := huawei.ParsePolicy(doc, kind, huawei.WithMaxSize(0))
		if err != nil {
			var pe *huawei.PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *PolicyError: %v", err, err)
			}
			if !errors.Is(err, huawei.ErrSyntax) && !errors.Is(err, huawei.ErrInvalidPolicy) &&
				!errors.Is(err, huawei.ErrUnsupported) && !errors.Is(err, huawei.ErrTooLarge) {
				t.Fatalf("error of no known kind: %v", err)
			}
			if pe.Offset > len(doc) {
				t.Fatalf("offset %d beyond the document (%d bytes)", pe.Offset, len(doc))
			}
			return
		}
		once, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := huawei.ParsePolicy(once, kind, huawei.WithMaxSize(0))
		if err != nil {
			t.Fatalf("marshalled policy does not parse: %v\n%s", err, once)
		}
		twice, _ := json.Marshal(p2)
		if string(once) != string(twice) {
			t.Fatalf("round trip not stable:\n%s\n%s", once, twice)
		}
		var set huawei.PolicySet
		target := ""
		switch kind {
		case huawei.SCP:
			target = "root"
		case huawei.ResourcePolicy:
			target = hwKey
		}
		if err := set.Add(p, target); err != nil {
			t.Fatal(err)
		}
		ctx := huawei.Context{"g:CurrentTime": {"2025-01-01T00:00:00Z"}, "kms:GrantOperations": {"a", ""}, "g:SourceIp": {"10.0.0.1"}}
		for _, r := range []huawei.Request{
			{Principal: hwAlice, Action: "kms:cmk:decryptData", Resource: hwKey, Context: ctx, Org: &huawei.Org{Path: []string{"root", "account:" + hwAcct}}},
			{Principal: "sts::" + hwOther + ":assumed-agency:a/s", Action: "kms::getQuota", Resource: "*", Context: ctx},
			{Principal: hwAlice, Action: "kms:alias:create", Resource: hwAlias},
		} {
			d := set.Evaluate(r)
			if d.Err != nil {
				t.Fatalf("evaluation error: %v", d.Err)
			}
		}
		// a decision made with g:SourceIp and kms:GrantOperations unknown
		// that is not Conditional holds whatever the service finds for them
		unknown := huawei.Context{"g:CurrentTime": {"2025-01-01T00:00:00Z"}}
		unknown.SetUnknown("g:SourceIp", "kms:GrantOperations")
		req := huawei.Request{Principal: hwAlice, Action: "kms:cmk:decryptData", Resource: hwKey, Context: unknown}
		du := set.Evaluate(req)
		if du.Effect == huawei.Conditional && len(du.ConditionKeys) == 0 {
			t.Fatalf("Conditional without condition keys")
		}
		if du.Effect != huawei.Conditional {
			for _, c := range []huawei.Context{{"g:CurrentTime": {"2025-01-01T00:00:00Z"}}, ctx} {
				req.Context = c
				d := set.Evaluate(req)
				switch {
				case du.Effect == huawei.Allow && d.Effect != huawei.Allow,
					du.Effect == huawei.ExplicitDeny && d.Effect != huawei.ExplicitDeny,
					du.Effect == huawei.ImplicitDeny && d.Effect == huawei.Allow:
					t.Fatalf("%s with the keys unknown, %s with %v", du.Effect, d.Effect, c)
				}
			}
		}
		huawei.Lint(p)
	})
}
