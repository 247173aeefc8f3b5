package main

import (
	"bufio"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/kmstest"
)

// TestLargeFileManual round-trips a large file through a built kmsenv
// binary under /usr/bin/time -v and logs the peak RSS of encrypt and
// decrypt. It is a manual measurement (CI keeps the few-MiB tests):
//
//	go build -o /tmp/kmsenv ./cmd/kmsenv
//	KMSENV_BIN=/tmp/kmsenv KMSENV_LARGE_BYTES=$((1<<30)) go test -run TestLargeFileManual -v -timeout 20m ./cmd/kmsenv
func TestLargeFileManual(t *testing.T) {
	bin, sizeStr := os.Getenv("KMSENV_BIN"), os.Getenv("KMSENV_LARGE_BYTES")
	if bin == "" || sizeStr == "" {
		t.Skip("set KMSENV_BIN and KMSENV_LARGE_BYTES to measure")
	}
	size, err := strconv.ParseInt(sizeStr, 10, 64)
	require.NoError(t, err)
	srv := kmstest.Start(t)
	cred := srv.AddUser(srv.DefaultAccount(), "app")
	key, _, err := srv.CreateKey(srv.DefaultAccount(), kmstest.KeyOptions{})
	require.NoError(t, err)
	setKMSEnv(t.Setenv, srv, cred)

	dir := t.TempDir()
	in := filepath.Join(dir, "big.bin")
	f, err := os.Create(in)
	require.NoError(t, err)
	w := bufio.NewWriterSize(f, 1<<20)
	h := sha256.New()
	block := make([]byte, 1<<20)
	for written := int64(0); written < size; {
		for i := range block {
			block[i] = byte(written>>20) ^ byte(i*7)
		}
		n := min(int64(len(block)), size-written)
		_, _ = w.Write(block[:n])
		h.Write(block[:n])
		written += n
	}
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())
	want := h.Sum(nil)

	rss := regexp.MustCompile(`Maximum resident set size \(kbytes\): (\d+)`)
	elapsed := regexp.MustCompile(`Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)`)
	runTimed := func(args ...string) {
		cmd := exec.Command("/usr/bin/time", append([]string{"-v", bin}, args...)...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		t.Logf("kmsenv %s: peak RSS %s KiB, wall %s", args[0], rss.FindSubmatch(out)[1], elapsed.FindSubmatch(out)[1])
	}
	runTimed("encrypt", "-q", "--key-id", key, "--context", "k=v", in)
	require.NoError(t, os.Remove(in))
	runTimed("decrypt", "-q", "--key-id", key, "--context", "k=v", in+".kmsenv")
	g, err := os.Open(in)
	require.NoError(t, err)
	defer g.Close()
	h2 := sha256.New()
	n, err := io.Copy(h2, g)
	require.NoError(t, err)
	require.Equal(t, size, n)
	require.Equal(t, want, h2.Sum(nil), "round trip")
	st, _ := os.Stat(in + ".kmsenv")
	t.Logf("%d bytes round-tripped; ciphertext %d bytes", size, st.Size())
}
