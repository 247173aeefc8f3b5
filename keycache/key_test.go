package keycache_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/keycache"
)

// secret is printable, so a leak shows up under %s and %q as well as %x.
var secret = []byte("TOPSECRET-0123456789-abcdefghijk")

// leaks reports whether s contains the secret in any common encoding.
func leaks(s string) bool {
	for _, enc := range []string{
		string(secret),
		"TOPSECRET",
		hex.EncodeToString(secret),
		strings.ToUpper(hex.EncodeToString(secret)),
		fmt.Sprint([]byte(secret)), // [84 79 80 ...]
		fmt.Sprintf("%#v", []byte(secret)),
		"VE9QU0VDUkVU", // base64 of "TOPSECRET"
	} {
		if strings.Contains(s, enc[:min(len(enc), 24)]) {
			return true
		}
	}
	return false
}

func TestKeyRedaction(t *testing.T) {
	k := keycache.NewKey(secret)
	const want = "keycache.Key[REDACTED 32 bytes]"
	type holder struct {
		Exported *keycache.Key
		Value    keycache.Key
		hidden   keycache.Key
	}
	h := holder{Exported: k, Value: *k, hidden: *k}

	verbs := []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d", "%10.3s"}
	for _, verb := range verbs {
		t.Run("fmt "+verb, func(t *testing.T) {
			for _, v := range []any{k, *k, h, &h, []*keycache.Key{k}, map[string]keycache.Key{"k": *k}} {
				out := fmt.Sprintf(verb, v)
				assert.False(t, leaks(out), "%s of %T leaked: %s", verb, v, out)
			}
			assert.Equal(t, want, fmt.Sprintf(verb, k))
			assert.Equal(t, want, fmt.Sprintf(verb, *k))
		})
	}

	t.Run("String and GoString", func(t *testing.T) {
		assert.Equal(t, want, k.String())
		assert.Equal(t, want, k.GoString())
	})

	t.Run("slog JSON and text", func(t *testing.T) {
		for _, newHandler := range []func(*bytes.Buffer) slog.Handler{
			func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
			func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		} {
			var buf bytes.Buffer
			logger := slog.New(newHandler(&buf))
			logger.Info("data key", "key", k, "value", *k, "holder", h, slog.Any("any", k))
			out := buf.String()
			assert.False(t, leaks(out), "slog leaked: %s", out)
			assert.Contains(t, out, "REDACTED 32 bytes")
		}
	})

	t.Run("json", func(t *testing.T) {
		for _, v := range []any{k, *k, h, map[string]*keycache.Key{"k": k}} {
			b, err := json.Marshal(v)
			require.NoError(t, err)
			assert.False(t, leaks(string(b)), "json leaked: %s", b)
			assert.Contains(t, string(b), `"`+want+`"`)
		}
	})

	t.Run("text", func(t *testing.T) {
		b, err := k.MarshalText()
		require.NoError(t, err)
		assert.Equal(t, want, string(b))
		b, err = json.Marshal(map[keycache.Key]int{*k: 1}) // map keys use MarshalText
		require.NoError(t, err)
		assert.False(t, leaks(string(b)))
	})

	t.Run("wiped and zero", func(t *testing.T) {
		w := keycache.NewKey(secret)
		w.Wipe()
		assert.Equal(t, "keycache.Key[WIPED]", fmt.Sprintf("%x", w))
		assert.Equal(t, "keycache.Key[REDACTED 0 bytes]", keycache.Key{}.String())
		var nilKey *keycache.Key
		assert.Equal(t, "<nil>", fmt.Sprint(nilKey))
	})
}

func TestKey(t *testing.T) {
	in := bytes.Clone(secret)
	k := keycache.NewKey(in)
	clear(in)
	assert.Equal(t, secret, k.Bytes(), "NewKey copies its input")
	assert.Equal(t, 32, k.Len())

	tests := []struct {
		name string
		b    []byte
		want bool
	}{
		{"equal", secret, true},
		{"last byte differs", append(bytes.Clone(secret[:31]), 'X'), false},
		{"first byte differs", append([]byte{'X'}, secret[1:]...), false},
		{"shorter", secret[:31], false},
		{"longer", append(bytes.Clone(secret), 0), false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, k.Equal(tt.b))
		})
	}

	live := k.Bytes()
	k.Wipe()
	assert.Equal(t, make([]byte, 32), live, "Wipe zeroes the memory")
	assert.Zero(t, k.Len())
	assert.Nil(t, k.Bytes())
	assert.False(t, k.Equal(secret))
	assert.False(t, k.Equal(nil), "a wiped key equals nothing")
	k.Wipe() // idempotent
	assert.Zero(t, k.Len())

	var zero keycache.Key
	zero.Wipe()
	assert.Zero(t, zero.Len())
	assert.Nil(t, zero.Bytes())
	assert.False(t, zero.Equal(nil))
}
