package envelope

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestCacheIDsUnambiguous: distinct inputs never share a cache id, whatever
// bytes (0x00 included) the fields hold.
func TestCacheIDsUnambiguous(t *testing.T) {
	type dec struct{ partition, arn, blob, ctx string }
	decs := []dec{
		{"", "arn", "blob", "\x00\x00"},
		{"", "arn", "blob\x00", "\x00"},
		{"", "arn\x00blob", "", "\x00\x00"},
		{"\x00", "arn", "blob", "\x00\x00"},
		{"", "\x00arn", "blob", "\x00\x00"},
		{"p", "arn", "blob", "\x00\x00"},
		{"", "arn", "blob\x00\x00", ""},
		{"", "arn", "b", "lob\x00\x00"},
		{"", "", "", ""},
	}
	seen := map[string]dec{}
	for _, d := range decs {
		id := string(decID(nil, SuiteAES256GCMHKDFCommit, d.partition, "", d.arn, []byte(d.blob), []byte(d.ctx)))
		if prev, dup := seen[id]; dup {
			t.Errorf("decryption ids collide: %q and %q", prev, d)
		}
		seen[id] = d
	}

	type enc struct {
		partition string
		keys      []string
	}
	encs := []enc{
		{"", []string{"r/a"}},
		{"", []string{"r/a", ""}},
		{"", []string{"r/a\x00"}},
		{"r/a", nil},
		{"\x00", []string{"r/a"}},
		{"", []string{"r", "/a"}},
	}
	seenEnc := map[string]enc{}
	for _, e := range encs {
		id := string(encIDPrefix(SuiteAES256GCMHKDFCommit, e.partition, e.keys))
		if prev, dup := seenEnc[id]; dup {
			t.Errorf("encryption id prefixes collide: %q and %q", prev, e)
		}
		seenEnc[id] = e
		assert.NotEqual(t, byte('d'), id[0], "encryption and decryption ids stay apart")
	}
}

func TestSafeARN(t *testing.T) {
	arn := "acs:kms:cn-hangzhou:1234567890123456:key/key-abc"
	assert.Equal(t, arn, safeARN(arn))
	assert.Equal(t, `"acs:kms:x\n\x1b[31m"`, safeARN("acs:kms:x\n\x1b[31m"))
	long := safeARN(string(make([]byte, 2048)))
	assert.Less(t, len(long), 600)
	assert.Equal(t, `"\ufffd"`, safeARN("\xff"))
}
