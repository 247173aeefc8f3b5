package localauthz_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kmsenvelope/kmsenvelope/localauthz"
)

// FuzzParsePolicy checks that parsing never panics, that every error is a
// *PolicyError of a known kind, and that parse -> marshal -> parse is
// stable. Seeds: the seed documents' example policies and every policy of
// the conformance cases.
func FuzzParsePolicy(f *testing.F) {
	files, _ := filepath.Glob("testdata/policies/*.json")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data, uint8(0))
			f.Add(data, uint8(1))
		}
	}
	for _, file := range []string{"testdata/conformance/ram-kms.json", "testdata/extra-cases.json", "testdata/unknown-keys.json"} {
		data, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		var cases []struct {
			Policies []struct {
				Type     localauthz.PolicyKind
				Document json.RawMessage
			}
		}
		if json.Unmarshal(data, &cases) != nil {
			continue
		}
		for _, c := range cases {
			for _, p := range c.Policies {
				k := uint8(0)
				if p.Type == localauthz.KeyPolicy {
					k = 1
				}
				f.Add([]byte(p.Document), k)
			}
		}
	}
	f.Add([]byte(`{"Version":"1","Statement":{"Effect":"Deny","NotAction":"kms:*","Resource":"*","Condition":{"NotIpAddress":{"acs:SourceIp":"::1"}}}}`), uint8(0))
	f.Add([]byte(`{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"StringEqualsIfExists":{"a":"b"}}}]}`), uint8(2))

	kinds := localauthz.PolicyKinds()
	f.Fuzz(func(t *testing.T, doc []byte, k uint8) {
		kind := kinds[int(k)%len(kinds)]
		p, err := localauthz.ParsePolicy(doc, kind, localauthz.WithMaxSize(0))
		if err != nil {
			var pe *localauthz.PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *PolicyError: %v", err, err)
			}
			if !errors.Is(err, localauthz.ErrSyntax) && !errors.Is(err, localauthz.ErrInvalidPolicy) &&
				!errors.Is(err, localauthz.ErrUnsupported) && !errors.Is(err, localauthz.ErrTooLarge) {
				t.Fatalf("error of no known kind: %v", err)
			}
			return
		}
		once, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := localauthz.ParsePolicy(once, kind, localauthz.WithMaxSize(0))
		if err != nil {
			t.Fatalf("marshalled policy does not parse: %v\n%s", err, once)
		}
		twice, _ := json.Marshal(p2)
		if string(once) != string(twice) {
			t.Fatalf("round trip not stable:\n%s\n%s", once, twice)
		}
		// evaluation must not panic either
		var set localauthz.PolicySet
		target := ""
		switch kind {
		case localauthz.KeyPolicy:
			target = "acs:kms:cn-hangzhou:1111111111111111:key/key-hzz0001"
		case localauthz.SecretPolicy:
			target = "acs:kms:cn-hangzhou:1111111111111111:secret/db"
		}
		if err := set.Add(p, target); err != nil {
			t.Fatal(err)
		}
		resource := target
		if resource == "" {
			resource = "acs:kms:cn-hangzhou:1111111111111111:key/key-hzz0001"
		}
		set.Evaluate(localauthz.Request{Principal: "acs:sts::1111111111111111:assumed-role/r/s", Action: "kms:Decrypt",
			Resource: resource, InKMSInstance: true, Context: localauthz.Context{"acs:SourceIp": {"10.0.0.1"}, "acs:CurrentTime": {"2020-01-01"}}})
		checkUnknownSoundness(t, &set, resource)
		localauthz.Lint(p)
	})
}

// checkUnknownSoundness: a decision made with acs:SourceIp and
// acs:SourceVpc unknown that is not Conditional must hold whatever KMS
// finds for them: Allow and ExplicitDeny stay, ImplicitDeny never becomes
// Allow, with the keys absent or present.
func checkUnknownSoundness(t *testing.T, set *localauthz.PolicySet, resource string) {
	for _, principal := range []string{"acs:ram::1111111111111111:user/alice", "acs:ram::2222222222222222:user/bob", "acs:ram::1111111111111111:root"} {
		unknown := localauthz.Context{"acs:SecureTransport": {"true"}}
		unknown.SetUnknown("acs:SourceIp", "acs:SourceVpc")
		req := localauthz.Request{Principal: principal, Action: "kms:Decrypt", Resource: resource, InKMSInstance: true, Context: unknown}
		du := set.Evaluate(req)
		if du.Effect == localauthz.Conditional {
			if len(du.ConditionKeys) == 0 {
				t.Fatalf("Conditional without condition keys: %+v", du)
			}
			continue
		}
		if len(du.ConditionKeys) != 0 {
			t.Fatalf("%s names condition keys %v", du.Effect, du.ConditionKeys)
		}
		for _, ctx := range []localauthz.Context{
			{"acs:SecureTransport": {"true"}},
			{"acs:SecureTransport": {"true"}, "acs:SourceIp": {"10.0.0.1"}, "acs:SourceVpc": {"vpc-1"}},
			{"acs:SecureTransport": {"true"}, "acs:SourceIp": {"203.0.113.9"}, "acs:SourceVpc": {""}},
		} {
			req.Context = ctx
			d := set.Evaluate(req)
			switch {
			case du.Effect == localauthz.Allow && d.Effect != localauthz.Allow,
				du.Effect == localauthz.ExplicitDeny && d.Effect != localauthz.ExplicitDeny,
				du.Effect == localauthz.ImplicitDeny && d.Effect == localauthz.Allow:
				t.Fatalf("%s with the keys unknown, %s with %v", du.Effect, d.Effect, ctx)
			}
		}
	}
}

// FuzzContextJSON checks the condition-context decoder (used by case files
// and manifests) on arbitrary JSON.
func FuzzContextJSON(f *testing.F) {
	f.Add([]byte(`{"acs:SourceIp":"10.0.0.1","kms:tag/env":["a","b"],"n":3,"b":true}`))
	f.Add([]byte(`{"x":{"y":1}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"acs:SourceIp":null,"acs:SourceVpc":["<unknown>"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c localauthz.Context
		if err := json.Unmarshal(data, &c); err != nil {
			return
		}
		for k := range c {
			_, _ = c.Get(k)
		}
		// unknown marks survive a round trip, and only they
		once, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var back localauthz.Context
		if err := json.Unmarshal(once, &back); err != nil {
			t.Fatalf("%s: %v", once, err)
		}
		for k := range c {
			if c.Unknown(k) != back.Unknown(k) {
				t.Fatalf("key %q: unknown %v, after a round trip %v", k, c.Unknown(k), back.Unknown(k))
			}
		}
	})
}
