package secrets_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/secrets"
)

// TestFileCacheFreshProcess: a service reads its secret once, then KMS
// goes down (every call answers 503) and the service restarts: a new OS
// process, with nothing in memory, starts from the file cache. The child
// is this test binary run again; it prints a digest of the value, never
// the value.
func TestFileCacheFreshProcess(t *testing.T) {
	if os.Getenv("SECRETS_FRESH_CHILD") == "1" {
		freshProcessChild()
		return
	}
	e := newEnv(t)
	const value = "fresh-process-secret-value"
	e.secret(t, "db", value)
	dir := filepath.Join(t.TempDir(), "cache")
	key := fileKey(t)
	fc, err := secrets.NewFileCache(secrets.FileCacheOptions{Dir: dir, Key: key})
	require.NoError(t, err)
	first := e.client(t, secrets.Config{FileCache: fc})
	_, err = first.Get(context.Background(), "db")
	require.NoError(t, err)
	require.NoError(t, first.Close())

	e.srv.InjectFault(testkms.Fault{Kind: testkms.FaultUnavailable})
	before := e.calls()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestFileCacheFreshProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SECRETS_FRESH_CHILD=1",
		"SECRETS_FRESH_ENDPOINT="+strings.ToLower(e.srv.Scheme())+"://"+e.srv.Endpoint(),
		"SECRETS_FRESH_REGION="+e.srv.Region(),
		"SECRETS_FRESH_AK="+e.cred.AccessKeyID, "SECRETS_FRESH_SK="+e.cred.AccessKeySecret,
		"SECRETS_FRESH_DIR="+dir, "SECRETS_FRESH_KEY="+hex.EncodeToString(key))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child: %s", out)
	sum := sha256.Sum256([]byte(value))
	assert.Contains(t, string(out), "CHILD ok stale=true file=true version=v1 sha256="+hex.EncodeToString(sum[:]))
	assert.NotContains(t, string(out), value)
	assert.Greater(t, e.calls(), before, "the child asked KMS first, and was refused")
}

func freshProcessChild() {
	fail := func(err error) {
		fmt.Println("CHILD error:", err)
		os.Exit(3)
	}
	key, err := hex.DecodeString(os.Getenv("SECRETS_FRESH_KEY"))
	if err != nil {
		fail(err)
	}
	kc, err := kmsclient.New(kmsclient.Config{
		Region: os.Getenv("SECRETS_FRESH_REGION"), Endpoint: os.Getenv("SECRETS_FRESH_ENDPOINT"),
		Credentials: kmsclient.StaticCredentials(os.Getenv("SECRETS_FRESH_AK"), os.Getenv("SECRETS_FRESH_SK")),
		MaxAttempts: 2, InitialBackoff: time.Millisecond,
	})
	if err != nil {
		fail(err)
	}
	fc, err := secrets.NewFileCache(secrets.FileCacheOptions{Dir: os.Getenv("SECRETS_FRESH_DIR"), Key: key})
	if err != nil {
		fail(err)
	}
	sc, err := secrets.New(kc, secrets.Config{FileCache: fc})
	if err != nil {
		fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sc.Prefetch(ctx, "db"); err != nil { // start-up: fail fast
		fail(err)
	}
	v, err := sc.Get(ctx, "db")
	if err != nil {
		fail(err)
	}
	sum := sha256.Sum256(v.Bytes())
	fmt.Printf("CHILD ok stale=%v file=%v version=%s sha256=%s\n", v.Stale(), v.FromFileCache(), v.VersionID(), hex.EncodeToString(sum[:]))
	_ = sc.Close()
	_ = kc.Close()
}
