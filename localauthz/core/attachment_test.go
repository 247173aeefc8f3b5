package core_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/localauthz/core"
)

func TestOutcome(t *testing.T) {
	tests := []struct {
		allowed   core.Tri
		maybeDeny bool
		want      core.Effect
	}{
		{core.Yes, false, core.Allow},
		{core.Yes, true, core.Conditional},
		{core.Maybe, false, core.Conditional},
		{core.Maybe, true, core.Conditional},
		{core.No, false, core.ImplicitDeny},
		{core.No, true, core.ImplicitDeny}, // a Deny that maybe applies only denies more
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, core.Outcome(tt.allowed, tt.maybeDeny), "allowed %d, maybe deny %v", tt.allowed, tt.maybeDeny)
	}
}

func TestRequestError(t *testing.T) {
	tests := []struct {
		name             string
		parsed           bool
		action, resource string
		want             string
	}{
		{"well formed", true, "kms:Decrypt", "*", ""},
		{"bad principal", false, "kms:Decrypt", "*", `localauthz: invalid principal "bob"; expected user:<name>`},
		{"bad principal and no action", false, "", "*", `localauthz: invalid principal "bob"; expected user:<name>`},
		{"no action", true, "", "*", "localauthz: request needs an action and a resource"},
		{"no resource", true, "kms:Decrypt", "", "localauthz: request needs an action and a resource"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := core.RequestError("bob", tt.parsed, "user:<name>", tt.action, tt.resource)
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
		})
	}
	assert.ErrorIs(t, core.RequestError("", true, "", "", "x"), core.ErrIncompleteRequest)
}

// Side keeps the first statement of each kind and stops at a Deny.
func TestSide(t *testing.T) {
	p := core.Attachment{Refs: make([]core.StatementRef, 4), Stmts: make([]core.Statement, 4)}
	for i := range p.Refs {
		p.Refs[i].Statement = i
	}
	var sd core.Side
	assert.Equal(t, core.No, sd.Allows())
	assert.False(t, sd.Record(&p, core.Match{Allow: -1, Deny: -1, MaybeAllow: 1, MaybeDeny: 2}))
	assert.Equal(t, core.Maybe, sd.Allows())
	assert.True(t, sd.NewAllow(core.Match{Allow: 0, Deny: -1, MaybeAllow: -1, MaybeDeny: -1}))
	assert.False(t, sd.NewAllow(core.Match{Allow: -1, Deny: -1, MaybeAllow: 3, MaybeDeny: -1}))
	assert.False(t, sd.Record(&p, core.Match{Allow: 0, Deny: -1, MaybeAllow: 3, MaybeDeny: 3}))
	assert.Equal(t, core.Yes, sd.Allows())
	assert.Equal(t, 0, sd.Allow.Statement)
	assert.Same(t, &p.Stmts[0], sd.AllowSt)
	assert.Equal(t, 1, sd.MaybeAllow.Statement, "the first maybe-Allow is kept")
	assert.Equal(t, 2, sd.MaybeDeny.Statement, "the first maybe-Deny is kept")
	assert.True(t, sd.Record(&p, core.Match{Allow: -1, Deny: 3, MaybeAllow: -1, MaybeDeny: -1}))
	assert.Equal(t, 3, sd.Deny.Statement)
	assert.Same(t, &p.Stmts[3], sd.DenySt)
}
