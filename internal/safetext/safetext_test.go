package safetext_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/kmsenvelope/kmsenvelope/internal/safetext"
)

func TestField(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"acs:kms:cn-hangzhou:1234567890123456:key/key-abc", "acs:kms:cn-hangzhou:1234567890123456:key/key-abc"},
		{"a\nb", `"a\nb"`},
		{"\x1b[31mred", `"\x1b[31mred"`},
		{`say "hi"`, `"say \"hi\""`},
		{"caf\xc3\xa9", `"caf\u00e9"`},
		{"\xff", `"\ufffd"`},
	} {
		assert.Equal(t, tc.want, safetext.Field(tc.in), "%q", tc.in)
	}
	long := safetext.Field(strings.Repeat("x", 2048))
	assert.Equal(t, strings.Repeat("x", 2048)[:0]+long, long)
	assert.LessOrEqual(t, len(safetext.Field(strings.Repeat("\n", 2048))), 128*4+2)
	assert.Len(t, safetext.Field(strings.Repeat("x", 300)), 130)
}

func FuzzField(f *testing.F) {
	f.Add("acs:kms:r:1:key/k")
	f.Add("a\nb\x1b")
	f.Fuzz(func(t *testing.T, s string) {
		out := safetext.Field(s)
		if len(out) > 128*6+2 {
			t.Fatalf("output of %d bytes", len(out))
		}
		if strings.ContainsFunc(out, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
			t.Fatalf("unsafe byte in %q", out)
		}
	})
}
