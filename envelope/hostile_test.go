package envelope_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"runtime"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/envelope"
)

// hostileHeaderPrefix is a structurally valid header up to the context
// length: magic, version, suite, message id, frame size.
func hostileHeaderPrefix() []byte {
	b := append([]byte("KMEV\x01\x00\x01"), make([]byte, 32)...)
	return binary.BigEndian.AppendUint32(b, envelope.MinFrameSize)
}

// withContext appends a context length and the context section.
func withContext(b []byte, clen int, section []byte) []byte {
	return append(binary.BigEndian.AppendUint16(b, uint16(clen)), section...)
}

// contextPairs encodes n distinct pairs in canonical order with empty
// values: the most pairs per byte a valid section can hold (every 1-byte
// key, then 2-byte keys). claim is the pair count written.
func contextPairs(n, claim int) []byte {
	var keys []string
	for i := range min(n, 0x80) {
		keys = append(keys, string(rune(i)))
	}
	for j := range n - len(keys) {
		keys = append(keys, string([]byte{byte(0x01 + j/0x7f), byte(0x01 + j%0x7f)}))
	}
	slices.Sort(keys)
	b := binary.BigEndian.AppendUint16(nil, uint16(claim))
	for _, k := range keys {
		b = binary.BigEndian.AppendUint16(b, uint16(len(k)))
		b = append(append(b, k...), 0, 0)
	}
	return b
}

// untilWrappedKeys is a header with an empty context, a commitment and a
// tag: everything before the wrapped-key section.
func untilWrappedKeys() []byte {
	b := withContext(hostileHeaderPrefix(), 2, []byte{0, 0})
	return append(b, make([]byte, 32+16)...)
}

// wrappedKey encodes one wrapped key whose ARN is no KMS ARN, so no entry
// point sends it to KMS.
func wrappedKey(arnLen, blobLen int) []byte {
	b := append([]byte{byte(len(envelope.ProviderAliyunKMS))}, envelope.ProviderAliyunKMS...)
	b = binary.BigEndian.AppendUint16(b, uint16(arnLen))
	b = append(b, bytes.Repeat([]byte{'x'}, arnLen)...)
	b = binary.BigEndian.AppendUint16(b, uint16(blobLen))
	return append(b, bytes.Repeat([]byte{0xb1}, blobLen)...)
}

// mapHeader names the one header whose context map is really built: a
// valid one with the most pairs a section can hold (see the test).
const mapHeader = "max valid context, complete header"

// hostileHeaders are the worst headers for memory per byte present that the
// review could build: claims (pair counts, lengths, key counts) the bytes do
// not back, and the largest sections that are really there.
func hostileHeaders() map[string][]byte {
	ctxPairs := (envelope.MaxContextBytes - 2 - 0x80*5) / 6
	maxValid := contextPairs(0x80+ctxPairs, 0x80+ctxPairs)
	maxValidHeader := append(withContext(hostileHeaderPrefix(), len(maxValid), maxValid), make([]byte, 32+16)...)
	maxValidHeader = append(append(maxValidHeader, 1), wrappedKey(1, 1)...)
	sixteenMax := append(untilWrappedKeys(), 16)
	for range 16 {
		sixteenMax = append(sixteenMax, wrappedKey(2048, 4096)...)
	}
	sixteenTiny := append(untilWrappedKeys(), 16)
	for range 16 {
		sixteenTiny = append(sixteenTiny, wrappedKey(1, 1)...)
	}
	arnClaim := append(append(untilWrappedKeys(), 16), 10)
	arnClaim = binary.BigEndian.AppendUint16(append(arnClaim, envelope.ProviderAliyunKMS...), 2048)
	blobClaim := append(append(untilWrappedKeys(), 16), wrappedKey(1, 0)...)
	blobClaim = binary.BigEndian.AppendUint16(blobClaim[:len(blobClaim)-2], 4096)
	return map[string][]byte{
		// The review's 47-byte header: 65535 pairs claimed, none present.
		"max pair count, no pairs": withContext(hostileHeaderPrefix(), 2, []byte{0xff, 0xff}),
		// 65535 claimed, a full section of real pairs that falls short.
		"max pair count, full section": withContext(hostileHeaderPrefix(), len(maxValid), contextPairs(0x80+ctxPairs, 0xffff)),
		// The most pairs a valid section holds, then a header that ends.
		"max valid context, then end": withContext(hostileHeaderPrefix(), len(maxValid), maxValid),
		// A complete header with the most pairs a valid section holds.
		mapHeader: maxValidHeader,
		// 8192 bytes of context claimed; the message ends at the claim.
		"max context length, no context": withContext(hostileHeaderPrefix(), envelope.MaxContextBytes, nil),
		"max context length, half there": withContext(hostileHeaderPrefix(), envelope.MaxContextBytes, make([]byte, 4000)),
		"16 wrapped keys claimed, none":  append(untilWrappedKeys(), 16),
		"max ARN length claimed":         arnClaim,
		"max blob length claimed":        blobClaim,
		"16 maximal wrapped keys":        sixteenMax,
		"16 tiny wrapped keys":           sixteenTiny,
	}
}

// allocPerCall is the bytes allocated per call of f, from the runtime's
// cumulative allocation counter (testing.AllocsPerRun counts objects, not
// bytes).
func allocPerCall(runs int, f func()) float64 {
	f() // warm up: one-time allocations (sync.Once, pools) are not the input's
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return float64(after.TotalAlloc-before.TotalAlloc) / float64(runs)
}

// TestHostileHeadersAllocateInProportion: no entry point allocates more
// than a small multiple of the bytes a hostile header really has, whatever
// its counts and lengths claim. (Before the fix the 47-byte header cost
// about 5 MB on every entry point: the context map was sized from the
// claimed pair count.)
func TestHostileHeadersAllocateInProportion(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation measurement")
	}
	f := newFixture(t)
	ctx := context.Background()
	entry := map[string]func(msg []byte) error{
		"ParseHeader": func(msg []byte) error { _, err := envelope.ParseHeader(msg); return err },
		"ReadHeader":  func(msg []byte) error { _, err := envelope.ReadHeader(bytes.NewReader(msg)); return err },
		"NewReader":   func(msg []byte) error { _, err := f.env.NewReader(ctx, bytes.NewReader(msg)); return err },
		"Rewrap":      func(msg []byte) error { _, err := f.env.Rewrap(ctx, msg, f.keyID); return err },
		"RewrapStream": func(msg []byte) error {
			_, err := f.env.RewrapStream(ctx, io.Discard, bytes.NewReader(msg), f.keyID)
			return err
		},
		"Decrypt": func(msg []byte) error { _, err := f.env.Decrypt(ctx, msg); return err },
	}
	const (
		perByte = 8    // allocation per byte present, at most
		slack   = 4096 // plus a constant: the Header, errors, the stream's first buffer
		// A valid context is returned as Header.Context, a Go map, which
		// costs about 60 bytes per pair (82 KB for 1386 pairs with an exact
		// size hint, go1.26) where a pair can be as short as 5 or 6 bytes:
		// 10x by itself, plus 1x for the keys' string and, from a stream,
		// about 2.3x of read buffers. So the one header that really builds
		// its map, the valid maximal context, is bounded by that, and capped
		// in absolute terms with the section at MaxContextBytes (about
		// 110 KB at most). Every claim the bytes do not back stays under
		// perByte.
		mapPerByte = 14
	)
	hostile := hostileHeaders()
	require.Contains(t, hostile, mapHeader)
	_, err := envelope.ParseHeader(hostile[mapHeader])
	require.NoError(t, err, "the maximal context must be valid")
	for name, msg := range hostile {
		for ep, call := range entry {
			t.Run(name+"/"+ep, func(t *testing.T) {
				perByte := perByte
				if name == mapHeader { // a valid context: its map may be built
					perByte = mapPerByte
				}
				if ep != "ParseHeader" && ep != "ReadHeader" { // a bare header parses
					require.Error(t, call(msg), "a hostile header must be rejected")
				}
				got := allocPerCall(20, func() { _ = call(msg) })
				limit := float64(perByte*len(msg) + slack)
				t.Logf("%s: %d bytes present, %.0f bytes allocated per call (%.1fx)", ep, len(msg), got, got/float64(len(msg)))
				assert.LessOrEqual(t, got, limit, "%s allocates %.0f bytes for a %d-byte header", ep, got, len(msg))
			})
		}
	}
}

// TestHostileContextHeaderIsRejected pins what the 47-byte header is: a
// malformed context, reported with its offset.
func TestHostileContextHeaderIsRejected(t *testing.T) {
	msg := hostileHeaders()["max pair count, no pairs"]
	require.Len(t, msg, 47)
	_, err := envelope.ParseHeader(msg)
	var fe *envelope.FormatError
	require.ErrorAs(t, err, &fe)
	assert.ErrorIs(t, err, envelope.ErrMalformed)
	assert.Equal(t, 47, fe.Offset, fmt.Sprint(err))
}
