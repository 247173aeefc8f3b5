package aliyunesdk

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

type fuzzVector struct {
	Variant        string `json:"variant"`
	DataKeyHex     string `json:"dataKeyHex"`
	MessageBase64  string `json:"messageBase64"`
	ExternalHeader string `json:"externalHeaderBase64"`
}

func fuzzVectors(f *testing.F) []fuzzVector {
	data, err := os.ReadFile("testdata/alibaba-encryption-sdk-vectors.json")
	if err != nil {
		f.Fatal(err)
	}
	var vs []fuzzVector
	if err := json.Unmarshal(data, &vs); err != nil {
		f.Fatal(err)
	}
	return vs
}

func b64(s string) []byte { b, _ := base64.StdEncoding.DecodeString(s); return b }

// checkTyped fails unless err is a *FormatError.
func checkTyped(t *testing.T, err error) {
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error %T is not a *FormatError: %v", err, err)
	}
}

// openNoPanic opens a parsed message with the vectors' keys: it must never
// panic, and fail only with the package's errors.
func openNoPanic(t *testing.T, m *Message) {
	for _, dk := range [][]byte{bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{1}, 32)} {
		if len(dk) != m.Algorithm.KeySize() {
			continue
		}
		pt, err := openWithKey(m, dk)
		if err != nil {
			if pt != nil {
				t.Fatal("plaintext with an error")
			}
			if !errors.Is(err, ErrAuthentication) && !errors.Is(err, ErrBadPadding) {
				t.Fatalf("open: unexpected error %v", err)
			}
		}
	}
}

// FuzzParseMessage: the ASN.1 parser never panics, fails only with a
// *FormatError, and what it accepts is canonical DER: re-encoding gives
// exactly the input (so two readers cannot see two messages in one).
func FuzzParseMessage(f *testing.F) {
	for _, v := range fuzzVectors(f) {
		if v.Variant == "message" {
			f.Add(b64(v.MessageBase64))
		}
	}
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, msg []byte) {
		m, err := ParseMessage(msg)
		if err != nil {
			checkTyped(t, err)
			return
		}
		re, err := marshalMessage(m)
		if err != nil || !bytes.Equal(re, msg) {
			t.Fatalf("accepted a message that does not re-encode to itself: %v", err)
		}
		openNoPanic(t, m)
	})
}

// marshalJavaStream re-encodes a parsed Java stream message (test only).
func marshalJavaStream(m *Message) []byte {
	u := func(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
	out := u(u(nil, uint32(m.Version)), uint32(m.Algorithm))
	out = append(u(out, uint32(len(m.ctxBytes))), m.ctxBytes...)
	out = u(out, uint32(len(m.WrappedKeys)))
	for _, k := range m.WrappedKeys {
		out = append(u(out, uint32(len(k.KeyARN))), k.KeyARN...)
		b := base64.StdEncoding.EncodeToString(k.Blob)
		out = append(u(out, uint32(len(b))), b...)
	}
	out = append(u(out, uint32(len(m.headerIV))), m.headerIV...)
	out = append(u(out, uint32(len(m.headerTag))), m.headerTag...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(m.iv)))
	out = append(out, m.iv...)
	return append(append(out, m.ciphertext...), m.tag...)
}

// FuzzParseJavaStream: the Java stream parser never panics, fails only
// with a *FormatError, and what it accepts re-encodes to the input.
func FuzzParseJavaStream(f *testing.F) {
	for _, v := range fuzzVectors(f) {
		if v.Variant == "java-stream" {
			f.Add(b64(v.MessageBase64))
		}
	}
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, msg []byte) {
		m, err := ParseJavaStream(msg)
		if err != nil {
			checkTyped(t, err)
			return
		}
		if !bytes.Equal(marshalJavaStream(m), msg) {
			t.Fatal("accepted a stream that does not re-encode to itself")
		}
		openNoPanic(t, m)
	})
}

// FuzzSecretManager: a SecretManager header and body (DER or stream) never
// panic the parsers, fail only with a *FormatError, and a message that
// parses opens without panicking.
func FuzzSecretManager(f *testing.F) {
	for _, v := range fuzzVectors(f) {
		if v.Variant == "secret-manager" {
			f.Add(b64(v.ExternalHeader), b64(v.MessageBase64))
			f.Add(b64(v.ExternalHeader), append([]byte{12, 0, 0, 0}, make([]byte, 40)...))
		}
	}
	f.Fuzz(func(t *testing.T, head, body []byte) {
		m, err := ParseSecretHeader(head)
		if err != nil {
			checkTyped(t, err)
			return
		}
		if len(body) > 0 && body[0] == 0x30 {
			err = parseBody(m, body)
		} else {
			err = parseStreamBody(m, body)
		}
		if err != nil {
			checkTyped(t, err)
			return
		}
		openNoPanic(t, m)
	})
}
