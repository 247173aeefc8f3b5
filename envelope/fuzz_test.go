package envelope

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"testing"
)

func vectorSeeds(f *testing.F) [][]byte {
	var out [][]byte
	for _, file := range []string{"testdata/vectors.json", "testdata/vectors-sm4.json"} {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var vs []vector
		if err := json.Unmarshal(data, &vs); err != nil {
			f.Fatal(err)
		}
		for _, v := range vs {
			m, _ := hex.DecodeString(v.Message)
			out = append(out, m)
		}
	}
	return out
}

// FuzzParseHeader: never panics; every error is a *FormatError; a parsed
// header re-encodes to exactly the bytes it was parsed from.
func FuzzParseHeader(f *testing.F) {
	for _, m := range vectorSeeds(f) {
		f.Add(m)
	}
	f.Add([]byte("KMEV\x01\x00\x01"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		h, err := ParseHeader(msg)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not a *FormatError: %v", err, err)
			}
			return
		}
		ctxBytes, err := encodeContext(h.Context)
		if err != nil {
			t.Fatalf("parsed context does not re-encode: %v", err)
		}
		wrapped, err := encodeWrappedKeys(h.WrappedKeys)
		if err != nil {
			t.Fatalf("parsed wrapped keys do not re-encode: %v", err)
		}
		re := appendHeaderPrefix(nil, h.Suite, &h.MessageID, h.FrameSize, ctxBytes)
		re = append(append(append(re, h.commitment...), h.tag...), wrapped...)
		if !bytes.Equal(re, msg[:h.Len()]) {
			t.Fatalf("header does not round-trip")
		}
		// The streaming parser agrees.
		h2, err := ReadHeader(bytes.NewReader(msg))
		if err != nil || h2.Len() != h.Len() {
			t.Fatalf("ReadHeader disagrees: %v", err)
		}
	})
}

// FuzzDecrypt: decrypting arbitrary bytes with the vectors' data key never
// panics, fails with a typed error, and the streaming reader agrees with
// the one-shot path byte for byte.
func FuzzDecrypt(f *testing.F) {
	for _, m := range vectorSeeds(f) {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		dk := seq(32, 0)
		if len(msg) > 6 && msg[5] == 0 && msg[6] == byte(SuiteSM4GCMHKDFSM3Commit) {
			dk = seq(SM4DataKeySize, 0) // the SM4 vectors' data key
		}
		one, err1 := decryptVector(msg, dk)
		if err1 != nil {
			var fe *FormatError
			var fr *FrameError
			if !errors.As(err1, &fe) && !errors.As(err1, &fr) && !errors.Is(err1, ErrCommitmentMismatch) && !errors.Is(err1, ErrAuthentication) {
				t.Fatalf("untyped error %T: %v", err1, err1)
			}
		}
		h, err := ReadHeader(bytes.NewReader(msg))
		if err != nil {
			if err1 == nil {
				t.Fatal("one-shot decrypted what the stream parser rejects")
			}
			return
		}
		schedule, _ := scheduleFor(h.Suite, dk)
		mk := &messageKeys{}
		err = keysForHeader(mk, h, schedule, nil)
		if err != nil || !mk.verifyHeader(h.authed, h.tag) {
			if err1 == nil {
				t.Fatal("one-shot decrypted a header the stream path rejects")
			}
			return
		}
		r := &reader{keys: mk, src: bytes.NewReader(msg[h.Len():]), fs: h.FrameSize, buf: make([]byte, h.FrameSize+tagSize)}
		streamed, err2 := io.ReadAll(r)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("one-shot err %v, stream err %v", err1, err2)
		}
		if err1 == nil && !bytes.Equal(one, streamed) {
			t.Fatal("one-shot and stream plaintexts differ")
		}
		// The zero-copy WriteTo path (a source that pushes its bytes) agrees too.
		src := bytes.NewReader(msg[h.Len():])
		r2 := &reader{keys: mk, src: src, fs: h.FrameSize, buf: make([]byte, h.FrameSize+tagSize)}
		var pushed bytes.Buffer
		_, err3 := r2.WriteTo(&pushed)
		if (err1 == nil) != (err3 == nil) {
			t.Fatalf("one-shot err %v, WriteTo err %v", err1, err3)
		}
		if err1 == nil && !bytes.Equal(one, pushed.Bytes()) {
			t.Fatal("one-shot and WriteTo plaintexts differ")
		}
	})
}
