package secrets

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzFileCacheLoad: whatever a cache file holds, load never panics, and it
// opens only the exact bytes that were sealed for that key.
func FuzzFileCacheLoad(f *testing.F) {
	dir := filepath.Join(f.TempDir(), "cache")
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	fc, err := NewFileCache(FileCacheOptions{Dir: dir, Key: bytes.Repeat([]byte{7}, 32), Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	v := &Value{name: "db", versionID: "v1", stages: []string{"ACSCurrent"}, data: newSecretBytes([]byte("pw")), fetchedAt: now,
		meta: &valueMeta{secretType: "Generic", nextRotation: now.Add(time.Hour)}}
	if err := fc.store("db", v, now); err != nil {
		f.Fatal(err)
	}
	sealed, err := os.ReadFile(fc.path("db")) // a seed: a valid sealing
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Add([]byte(fileMagic))
	f.Add([]byte{})
	f.Add(append([]byte(fileMagic), make([]byte, 64)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(fc.path("db"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		rec, err := fc.load("db")
		if err != nil {
			if rec != nil {
				t.Fatal("a record with an error")
			}
			return
		}
		if rec.Name != "db" || rec.VersionID != "v1" || string(rec.Data) != "pw" {
			t.Fatalf("wrong record %+v", rec.Name)
		}
		// It opened, so it is a sealing under this key (the seed, made in
		// another process with another nonce, is one): any one flipped byte
		// must make it fail.
		for _, i := range []int{0, len(fileMagic), len(data) / 2, len(data) - 1} {
			bad := bytes.Clone(data)
			bad[i] ^= 0x40
			if err := os.WriteFile(fc.path("db"), bad, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := fc.load("db"); err == nil {
				t.Fatalf("a file with byte %d flipped opened", i)
			}
		}
	})
}

// FuzzParseRAMKey: any secret value either parses into a complete access
// key or fails with ErrInvalidRAMCredentials, never panicking, and the
// error never quotes the value.
func FuzzParseRAMKey(f *testing.F) {
	f.Add([]byte(`{"AccessKeyId":"LTAI5tAbc","AccessKeySecret":"s3cr3tvalue","GenerateTimestamp":"2025-01-02 03:04:05"}`))
	f.Add([]byte(`{"AccessKeyId":"LTAI5tAbc"}`))
	f.Add([]byte(`not json`))
	f.Add([]byte(`{"AccessKeyId":1}`))
	f.Add([]byte(`{"AccessKeySecret":"s3cr3tvalue-unterminated`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v := &Value{name: "ram", versionID: "v1", data: newSecretBytes(data)}
		k, err := parseRAMKey(v)
		if err != nil {
			if k != nil {
				t.Fatal("a key with an error")
			}
			if len(data) >= 12 && bytes.Contains([]byte(err.Error()), data) {
				t.Fatalf("the error quotes the value: %v", err)
			}
			return
		}
		if k.creds.AccessKeyID == "" || k.creds.AccessKeySecret == "" || k.version != "v1" {
			t.Fatal("an incomplete key")
		}
	})
}
