package core_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/localauthz/core"
)

// MarshalReport must write what embedding the report in a struct with
// grants and error fields writes (the form both dialects used before).
func TestMarshalReport(t *testing.T) {
	type report struct {
		Principal string        `json:"principal"`
		Decision  core.Decision `json:"decision"`
	}
	grants := []core.Grant{{Where: "ram", Policy: json.RawMessage(`{"Version":"1"}`)}}
	tests := []struct {
		name   string
		grants []core.Grant
		err    error
	}{
		{"neither", nil, nil},
		{"grants", grants, nil},
		{"error", nil, errors.New("no <such> call")},
		{"both", grants, errors.New("x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := report{Principal: "acs:ram::1:user/a", Decision: core.Decision{Effect: core.ImplicitDeny}}
			var errText string
			if tt.err != nil {
				errText = tt.err.Error()
			}
			want, err := json.Marshal(struct {
				report
				Grants []core.Grant `json:"grants,omitempty"`
				Error  string       `json:"error,omitempty"`
			}{r, tt.grants, errText})
			require.NoError(t, err)
			got, err := core.MarshalReport(r, tt.grants, tt.err)
			require.NoError(t, err)
			assert.JSONEq(t, string(want), string(got))
			assert.Equal(t, string(want), string(got))
		})
	}
}

func TestReportText(t *testing.T) {
	d := core.Decision{Effect: core.ImplicitDeny, Missing: []core.Missing{{Action: "a:b", Resource: "r", Where: "w"}}}
	checks := []core.Check{{Requirement: core.Requirement{Action: "a:b", Resource: "r"}, Decision: d}}
	grants := []core.Grant{
		{Where: "id", Policy: json.RawMessage(`{"p":1}`)},
		{Where: "key", Resource: "r", Policy: json.RawMessage(`{"p":2}`)},
	}
	got := core.ReportText("Op r", errors.New("boom"), checks, d, grants, func(g core.Grant) string {
		if g.Where == "id" {
			return "grant in an identity policy of me"
		}
		return ""
	})
	assert.Equal(t, "Op r: ImplicitDeny\n"+
		"  error: boom\n"+
		"  a:b on r: ImplicitDeny\n"+
		"  missing: a:b on r (grant in w)\n"+
		"  grant in an identity policy of me:\n    {\"p\":1}\n"+
		"  add to the key policy of r:\n    {\"p\":2}\n", got)
}

func TestAllowStatement(t *testing.T) {
	assert.JSONEq(t, `{"Effect":"Allow","Action":["kms:x"],"Resource":["*"]}`,
		string(core.AllowStatement("", nil, []string{"kms:x"}, nil)))
	assert.Equal(t, `{"Effect":"Allow","Principal":{"RAM":["acs:ram::1:root"]},"Action":["kms:x","kms:y"],"Resource":["*"],"Condition":{"Bool":{"k":["true"]}}}`,
		string(core.AllowStatement("RAM", []string{"acs:ram::1:root"}, []string{"kms:x", "kms:y"}, json.RawMessage(`{"Bool":{"k":["true"]}}`))))
}
