package kmsenvelope_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope"
	"github.com/kmsenvelope/kmsenvelope/envelope"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestMemoryBoundedUnderCraftedInput: 100,000 messages that each name a
// different key ARN in their wrapped-key section, and 100,000 distinct
// secret names, all refused locally (no KMS call), leave the Client's
// retained heap bounded: the per-call statistics keep at most a fixed
// number of entries for resources that come from input. The guard used to
// keep one entry per (operation, resource) forever: +47 MiB for 20,000
// messages and 5,000 names.
func TestMemoryBoundedUnderCraftedInput(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 20_000
	}
	w := newWorld(t)
	allowAll(t, w)
	ctx := context.Background()
	cfg := w.config(kmsenvelope.PolicyEnforce)
	// Trust any account's keys, so that the crafted ARNs get past key trust
	// to the policy check, as a Client configured for discovery would.
	cfg.Envelope = func(e *envelope.Config) { e.Discovery = &envelope.DiscoveryFilter{Accounts: []string{"*"}} }
	c, err := kmsenvelope.New(ctx, cfg)
	require.NoError(t, err)
	defer c.Close()

	msg, err := c.Encrypt(ctx, []byte("record"), nil)
	require.NoError(t, err)
	_, err = c.Decrypt(ctx, msg)
	require.NoError(t, err)
	_, err = c.Secret(ctx, "db-password")
	require.NoError(t, err)
	arn := []byte(w.keyARN)
	require.Equal(t, 1, bytes.Count(msg, arn), "the message names its key's ARN once")
	at := bytes.Index(msg, arn) + len(arn) - 8 // the ARN's last 8 characters vary

	crafted := bytes.Clone(msg)
	craft := func(i int) []byte {
		copy(crafted[at:], fmt.Sprintf("%08x", i))
		return crafted
	}
	// One crafted message of each kind first, so that lazily built state
	// (error paths, pools) is in the baseline.
	_, err = c.Decrypt(ctx, craft(0))
	require.ErrorIs(t, err, kmsclient.ErrAccessDenied)
	_, err = c.Secret(ctx, "crafted-0")
	require.ErrorIs(t, err, kmsclient.ErrAccessDenied)

	countCalls := func() (total, other int) {
		for _, cc := range c.Stats().Calls {
			total += cc.Count
			if cc.Resource == "" {
				other += cc.Count
			}
		}
		return total, other
	}
	total0, _ := countCalls()
	calls := w.srv.TotalCalls()
	before := heapInUse()
	for i := 1; i <= n; i++ {
		_, err := c.Decrypt(ctx, craft(i))
		if !assert.ErrorIs(t, err, kmsclient.ErrAccessDenied, "message %d", i) {
			break
		}
		_, err = c.Secret(ctx, fmt.Sprintf("crafted-%d", i))
		if !assert.ErrorIs(t, err, kmsclient.ErrAccessDenied, "secret %d", i) {
			break
		}
	}
	after := heapInUse()
	growth := int64(after) - int64(before)
	t.Logf("%d crafted messages and %d secret names: retained heap %+.2f MiB (%d -> %d bytes)", n, n, float64(growth)/(1<<20), before, after)
	assert.Equal(t, calls, w.srv.TotalCalls(), "all refused locally")
	assert.Less(t, growth, int64(2<<20), "retained heap grew with the number of distinct resources")

	assert.LessOrEqual(t, len(c.Stats().Calls), 300, "Stats.Calls is bounded")
	total, other := countCalls()
	assert.Equal(t, total0+2*n, total, "every call is counted once, in its entry or in other")
	assert.Positive(t, other)
}
