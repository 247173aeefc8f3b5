package localauthz

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/localauthz/core"
)

func TestPrincipalParsing(t *testing.T) {
	tests := []struct {
		arn     string
		request bool
		kind    core.PrincipalKind
		name    string
	}{
		{"acs:ram::1111:root", true, core.PrincipalRoot, ""},
		{"acs:ram::1111:user/alice", true, core.PrincipalUser, "alice"},
		{"acs:ram::1111:role/app-role", true, core.PrincipalRole, "app-role"},
		{"acs:sts::1111:assumed-role/app-role/sess-1", true, core.PrincipalSession, "app-role"},
		{"acs:ram::1111:assumed-role/app-role/sess-1", true, core.PrincipalSession, "app-role"},
		{"acs:ram::1111:role/app-role/sess-1", true, core.PrincipalSession, "app-role"},
		{"acs:ram::1111:*", false, core.PrincipalAccount, ""},
	}
	for _, tt := range tests {
		var p core.Principal
		var ok bool
		if tt.request {
			p, ok = parseRequestPrincipal(tt.arn)
		} else {
			p, ok = parsePolicyPrincipal(tt.arn)
		}
		require.True(t, ok, tt.arn)
		assert.Equal(t, tt.kind, p.Kind, tt.arn)
		assert.Equal(t, tt.name, p.Name, tt.arn)
		assert.Equal(t, "1111", p.Account, tt.arn)
	}
	for _, bad := range []string{"", "1111", "acs:ram::1111:*", "acs:ram:::root", "acs:ram::1111:user/", "acs:ram::11*:root",
		"acs:sts::1111:root", "acs:sts::1111:assumed-role/r", "acs:ram::1111:group/g", "arn:aws:iam::1111:root"} {
		_, ok := parseRequestPrincipal(bad)
		assert.False(t, ok, bad)
	}
	_, ok := parsePolicyPrincipal("acs:sts::1111:assumed-role/r/s")
	assert.False(t, ok, "sessions are not policy principals")
}
