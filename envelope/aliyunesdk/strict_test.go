package aliyunesdk

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// tlv encodes one DER element with a minimal definite length.
func tlv(tag byte, content ...[]byte) []byte {
	c := bytes.Join(content, nil)
	n := len(c)
	out := []byte{tag}
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	case n < 0x100:
		out = append(out, 0x81, byte(n))
	case n < 0x10000:
		out = append(out, 0x82, byte(n>>8), byte(n))
	default:
		out = append(out, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(out, c...)
}

func octets(b []byte) []byte     { return tlv(0x04, b) }
func str(s string) []byte        { return octets([]byte(s)) }
func integer(v byte) []byte      { return tlv(0x02, []byte{v}) }
func seq(parts ...[]byte) []byte { return tlv(0x30, parts...) }
func set(parts ...[]byte) []byte { return tlv(0x31, parts...) }

const testARN = "acs:kms:cn-hangzhou:1234567890123456:key/0b8bc4a4-1c65-4a47-9d58-8b6a7e1a2c3d"

// msgParts are the elements of a message, to be mutated one at a time.
type msgParts struct {
	version, alg, edks, ctx, hiv, htag []byte
	headExtra                          [][]byte
	iv, ct, tag                        []byte
	bodyExtra, msgExtra                [][]byte
}

func validParts() msgParts {
	return msgParts{
		version: integer(1), alg: integer(2),
		edks: set(seq(str(testARN), octets(bytes.Repeat([]byte{7}, 48)))),
		ctx:  set(seq(str("tenant"), str("acme")), seq(str("purpose"), str("unit-test"))),
		hiv:  octets(make([]byte, 12)), htag: octets(make([]byte, 16)),
		iv: octets(make([]byte, 12)), ct: octets([]byte("ciphertext")), tag: octets(make([]byte, 16)),
	}
}

func (p msgParts) head() []byte {
	return seq(append([][]byte{p.version, p.alg, p.edks, p.ctx, p.hiv, p.htag}, p.headExtra...)...)
}

func (p msgParts) encode() []byte {
	body := seq(append([][]byte{p.iv, p.ct, p.tag}, p.bodyExtra...)...)
	return seq(append([][]byte{p.head(), body}, p.msgExtra...)...)
}

// TestStrictDER: every deviation from the documented DER structure is
// refused with a *FormatError of the right kind.
func TestStrictDER(t *testing.T) {
	_, err := ParseMessage(validParts().encode())
	require.NoError(t, err, "the base case is valid")
	many := func(n int) []byte {
		var e [][]byte
		for i := range n {
			e = append(e, seq(str(testARN[:len(testARN)-2]+string(rune('a'+i/26))+string(rune('a'+i%26))), octets([]byte{1})))
		}
		return set(e...)
	}
	bigCtx := func() []byte {
		var e [][]byte
		for i := range 5 {
			e = append(e, seq(str(strings.Repeat(string(rune('a'+i)), 7000)), str("v")))
		}
		return set(e...)
	}()
	mutate := func(f func(p *msgParts)) []byte { p := validParts(); f(&p); return p.encode() }
	base := validParts().encode()
	cases := []struct {
		name string
		msg  []byte
		want error
	}{
		{"trailing byte", append(bytes.Clone(base), 0), ErrMalformed},
		{"indefinite length", append(append([]byte{0x30, 0x80}, base[3:]...), 0, 0), ErrMalformed},
		{"non-minimal length", append([]byte{0x30, 0x83, 0x00, base[2], base[3]}, base[4:]...), ErrMalformed},
		{"truncated", base[:len(base)-1], ErrMalformed},
		{"message with 3 elements", mutate(func(p *msgParts) { p.msgExtra = [][]byte{integer(0)} }), ErrMalformed},
		{"head with 7 elements", mutate(func(p *msgParts) { p.headExtra = [][]byte{integer(0)} }), ErrMalformed},
		{"head with 5 elements", seq(seq(validParts().version, validParts().alg, validParts().edks, validParts().ctx, validParts().hiv), seq(validParts().iv, validParts().ct, validParts().tag)), ErrMalformed},
		{"body with 4 elements", mutate(func(p *msgParts) { p.bodyExtra = [][]byte{octets(nil)} }), ErrMalformed},
		{"version 2", mutate(func(p *msgParts) { p.version = integer(2) }), ErrUnsupported},
		{"version not minimal", mutate(func(p *msgParts) { p.version = tlv(0x02, []byte{0, 1}) }), ErrMalformed},
		{"algorithm 13", mutate(func(p *msgParts) { p.alg = integer(13) }), ErrUnsupported},
		{"algorithm 0", mutate(func(p *msgParts) { p.alg = integer(0) }), ErrUnsupported},
		{"algorithm negative", mutate(func(p *msgParts) { p.alg = tlv(0x02, []byte{0xfe}) }), ErrUnsupported},
		{"context SET out of DER order", mutate(func(p *msgParts) {
			p.ctx = set(seq(str("purpose"), str("unit-test")), seq(str("tenant"), str("acme")))
		}), ErrMalformed},
		{"duplicate context key", mutate(func(p *msgParts) { p.ctx = set(seq(str("k"), str("a")), seq(str("k"), str("b"))) }), ErrMalformed},
		{"identical context entries", mutate(func(p *msgParts) { p.ctx = set(seq(str("k"), str("a")), seq(str("k"), str("a"))) }), ErrMalformed},
		{"empty context key", mutate(func(p *msgParts) { p.ctx = set(seq(str(""), str("a"))) }), ErrMalformed},
		{"context key not UTF-8", mutate(func(p *msgParts) { p.ctx = set(seq(octets([]byte{0xff}), str("a"))) }), ErrMalformed},
		{"context value not UTF-8", mutate(func(p *msgParts) { p.ctx = set(seq(str("k"), octets([]byte{0xc3}))) }), ErrMalformed},
		{"context entry with 3 elements", mutate(func(p *msgParts) { p.ctx = set(seq(str("k"), str("v"), str("x"))) }), ErrMalformed},
		{"context too large", mutate(func(p *msgParts) { p.ctx = bigCtx }), ErrTooLarge},
		{"context as SEQUENCE", mutate(func(p *msgParts) { p.ctx = seq() }), ErrMalformed},
		{"no wrapped key", mutate(func(p *msgParts) { p.edks = set() }), ErrMalformed},
		{"17 wrapped keys", mutate(func(p *msgParts) { p.edks = many(17) }), ErrTooLarge},
		{"duplicate keyId", mutate(func(p *msgParts) {
			p.edks = set(seq(str(testARN), octets([]byte{1})), seq(str(testARN), octets([]byte{2})))
		}), ErrMalformed},
		{"keyId not UTF-8", mutate(func(p *msgParts) { p.edks = set(seq(octets([]byte{0xff, 0xfe}), octets([]byte{1}))) }), ErrMalformed},
		{"empty blob", mutate(func(p *msgParts) { p.edks = set(seq(str(testARN), octets(nil))) }), ErrMalformed},
		{"wrapped keys out of DER order", mutate(func(p *msgParts) {
			p.edks = set(seq(str(testARN+"b"), octets([]byte{1})), seq(str(testARN+"a"), octets([]byte{1})))
		}), ErrMalformed},
		{"constructed OCTET STRING", mutate(func(p *msgParts) { p.hiv = tlv(0x24, octets(make([]byte, 12))) }), ErrMalformed},
		{"header IV of 11 bytes", mutate(func(p *msgParts) { p.hiv = octets(make([]byte, 11)) }), ErrMalformed},
		{"header IV of 16 bytes", mutate(func(p *msgParts) { p.hiv = octets(make([]byte, 16)) }), ErrMalformed},
		{"header tag of 15 bytes", mutate(func(p *msgParts) { p.htag = octets(make([]byte, 15)) }), ErrMalformed},
		{"GCM body IV of 16 bytes", mutate(func(p *msgParts) { p.iv = octets(make([]byte, 16)) }), ErrMalformed},
		{"GCM body without tag", mutate(func(p *msgParts) { p.tag = octets(nil) }), ErrMalformed},
		{"CBC body with a tag", mutate(func(p *msgParts) {
			p.alg, p.iv, p.ct = integer(6), octets(make([]byte, 16)), octets(make([]byte, 32))
		}), ErrMalformed},
		{"CBC-PKCS5 empty ciphertext", mutate(func(p *msgParts) {
			p.alg, p.iv, p.ct, p.tag = integer(6), octets(make([]byte, 16)), octets(nil), octets(nil)
		}), ErrMalformed},
		{"CBC ciphertext not a multiple of 16", mutate(func(p *msgParts) {
			p.alg, p.iv, p.ct, p.tag = integer(3), octets(make([]byte, 16)), octets(make([]byte, 17)), octets(nil)
		}), ErrMalformed},
		{"high tag number form", append([]byte{0x3f, 0x01}, base[1:]...), ErrMalformed},
		{"empty", nil, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := ParseMessage(c.msg)
			require.Nil(t, m)
			var fe *FormatError
			require.True(t, errors.As(err, &fe), "want a *FormatError, got %T %v", err, err)
			require.ErrorIs(t, err, c.want)
			require.NotContains(t, err.Error(), "acme", "no context values in errors")
		})
	}
}

// javaStream encodes a Java stream message from parts.
func javaStream(alg uint32, ctxBytes []byte, keys [][2][]byte, hiv, htag, iv, body []byte) []byte {
	u := func(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
	out := u(u(nil, 1), alg)
	out = append(u(out, uint32(len(ctxBytes))), ctxBytes...)
	out = u(out, uint32(len(keys)))
	for _, k := range keys {
		out = append(u(out, uint32(len(k[0]))), k[0]...)
		out = append(u(out, uint32(len(k[1]))), k[1]...)
	}
	out = append(u(out, uint32(len(hiv))), hiv...)
	out = append(u(out, uint32(len(htag))), htag...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(iv)))
	out = append(out, iv...)
	return append(out, body...)
}

func TestStrictJavaStream(t *testing.T) {
	ctx := serialiseContext([][2][]byte{{[]byte("a"), []byte("1")}, {[]byte("b"), []byte("2")}})
	key := [][2][]byte{{[]byte(testARN), []byte(base64.StdEncoding.EncodeToString([]byte{1, 2, 3, 4}))}}
	hiv, htag, iv := make([]byte, 12), make([]byte, 16), make([]byte, 12)
	body := make([]byte, 20)
	_, err := ParseJavaStream(javaStream(2, ctx, key, hiv, htag, iv, body))
	require.NoError(t, err)
	unsorted := serialiseContext([][2][]byte{{[]byte("b"), []byte("2")}, {[]byte("a"), []byte("1")}})
	claim := binary.BigEndian.AppendUint32([]byte{0, 0, 0, 1, 0, 0, 0, 2}, 0x7fff)
	cases := []struct {
		name string
		msg  []byte
		want error
	}{
		{"version 2", append([]byte{0, 0, 0, 2}, javaStream(2, ctx, key, hiv, htag, iv, body)[4:]...), ErrUnsupported},
		{"algorithm 13", javaStream(13, ctx, key, hiv, htag, iv, body), ErrUnsupported},
		{"context claims 32767 bytes, has none", claim, ErrMalformed},
		{"context claims more than 32767", binary.BigEndian.AppendUint32([]byte{0, 0, 0, 1, 0, 0, 0, 2}, 0x8000), ErrMalformed},
		{"context keys unsorted", javaStream(2, unsorted, key, hiv, htag, iv, body), ErrMalformed},
		{"context with zero count", javaStream(2, []byte{0, 0, 0, 0}, key, hiv, htag, iv, body), ErrMalformed},
		{"context with trailing bytes", javaStream(2, append(bytes.Clone(ctx), 0), key, hiv, htag, iv, body), ErrMalformed},
		{"no wrapped key", javaStream(2, ctx, nil, hiv, htag, iv, body), ErrMalformed},
		{"blob not Base64", javaStream(2, ctx, [][2][]byte{{[]byte(testARN), []byte("!!!!")}}, hiv, htag, iv, body), ErrMalformed},
		{"blob Base64 unpadded", javaStream(2, ctx, [][2][]byte{{[]byte(testARN), []byte("AQID")[:3]}}, hiv, htag, iv, body), ErrMalformed},
		{"duplicate keyId", javaStream(2, ctx, append(key, key[0]), hiv, htag, iv, body), ErrMalformed},
		{"header IV 16 bytes", javaStream(2, ctx, key, make([]byte, 16), htag, iv, body), ErrMalformed},
		{"IV 16 bytes for GCM", javaStream(2, ctx, key, hiv, htag, make([]byte, 16), body), ErrMalformed},
		{"body shorter than the tag", javaStream(2, ctx, key, hiv, htag, iv, body[:15]), ErrMalformed},
		{"truncated in the keys", javaStream(2, ctx, key, hiv, htag, iv, body)[:70], ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := ParseJavaStream(c.msg)
			require.Nil(t, m)
			var fe *FormatError
			require.True(t, errors.As(err, &fe), "want a *FormatError, got %T %v", err, err)
			require.ErrorIs(t, err, c.want)
		})
	}
}

// TestParseAllocatesByPresence: a message claiming huge lengths it does not
// carry costs only what is there.
func TestParseAllocatesByPresence(t *testing.T) {
	claims := [][]byte{
		{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff},
		binary.BigEndian.AppendUint32([]byte{0, 0, 0, 1, 0, 0, 0, 2}, 0x7fff),
		javaStream(2, nil, [][2][]byte{{[]byte(testARN), []byte("AQ==")}}, make([]byte, 12), make([]byte, 16), nil, nil)[:60],
	}
	for _, c := range claims {
		allocs := testing.AllocsPerRun(20, func() {
			if c[0] == 0x30 {
				_, _ = ParseMessage(c)
			} else {
				_, _ = ParseJavaStream(c)
			}
		})
		require.Less(t, allocs, 20.0)
	}
}

// TestUnpad: PKCS#7 to 16 bytes.
func TestUnpad(t *testing.T) {
	block := func(tail ...byte) []byte { return append(make([]byte, 16-len(tail)), tail...) }
	for _, c := range []struct {
		b    []byte
		n    int
		good bool
	}{
		{block(1), 15, true},
		{bytes.Repeat([]byte{16}, 16), 0, true},
		{block(2, 2), 14, true},
		{block(1, 2), 0, false},
		{block(0), 0, false},
		{block(17), 0, false},
		{nil, 0, false},
		{make([]byte, 15), 0, false},
	} {
		n, ok := unpad(c.b)
		require.Equal(t, c.good, ok, "%x", c.b)
		if ok {
			require.Equal(t, c.n, n)
		}
	}
}

func TestParseAlgorithm(t *testing.T) {
	for a, in := range algorithms {
		got, err := ParseAlgorithm(in.name)
		require.NoError(t, err)
		require.Equal(t, a, got)
		txt, _ := a.MarshalText()
		require.Equal(t, in.name, string(txt))
	}
	_, err := ParseAlgorithm("AES_GCM")
	require.Error(t, err)
}
