package cases_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/kmsenvelope/kmsenvelope/localauthz/cases"
)

// FuzzParse checks that a conformance case file never panics the
// parser or the runner, and that every parsed case runs to a decision.
func FuzzParse(f *testing.F) {
	for _, file := range []string{"../testdata/conformance/ram-kms.json", "../testdata/extra-cases.json", "../testdata/conformance/huawei-kms.json"} {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`[{"name":"x","policies":[],"request":{"principal":"acs:ram::1:user/a","action":"kms:Decrypt","resource":"*","operation":"GetSecretValue","related":{"secretEncryptionKey":3}},"expect":"Allow"}]`))
	f.Add([]byte(`[{"request":{"context":{"a":[1,true,null]}}}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		list, err := cases.Parse(data)
		if err != nil {
			return
		}
		for _, c := range list {
			r := c.Run()
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("result does not marshal: %v", err)
			}
		}
	})
}
