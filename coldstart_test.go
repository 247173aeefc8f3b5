package kmsenvelope_test

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	kmsenvelope "github.com/kmsenvelope/kmsenvelope"
)

// TestColdStartRoundTrips counts the KMS, STS and RAM round trips from New
// to the first Encrypt, the first Decrypt and the first Secret (issue 18,
// item 3), with and without live policies, and holds them to what each
// step needs.
func TestColdStartRoundTrips(t *testing.T) {
	for _, live := range []bool{false, true} {
		name := "configured"
		if live {
			name = "live policies"
		}
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.attach(t, grantKey, `{"Effect":"Allow","Action":["kms:GetSecretValue"],"Resource":"*"}`)
			ctx := context.Background()
			cfg := w.config(kmsenvelope.PolicyOff)
			cfg.LivePolicies = live
			cfg.KeyID = w.keyARN
			w.srv.ResetCalls()
			steps := map[string]int{}
			counts := func(step string) {
				calls := w.srv.CallCounts()
				var parts []string
				total := 0
				for op, n := range calls {
					parts = append(parts, op+"="+strconv.Itoa(n))
					total += n
				}
				sort.Strings(parts)
				steps[step] = total
				t.Logf("%s: %d round trips (%s)", step, total, strings.Join(parts, " "))
				w.srv.ResetCalls()
			}
			c, err := kmsenvelope.New(ctx, cfg)
			require.NoError(t, err)
			defer c.Close()
			counts("New")
			msg, err := c.Encrypt(ctx, []byte("x"), nil)
			require.NoError(t, err)
			counts("first Encrypt")
			_, err = c.Decrypt(ctx, msg)
			require.NoError(t, err)
			counts("first Decrypt")
			_, err = c.Secret(ctx, "db-password")
			require.NoError(t, err)
			counts("first Secret")
			assert.Equal(t, 1, steps["first Encrypt"], "GenerateDataKey only")
			assert.Equal(t, 1, steps["first Decrypt"], "Decrypt only")
			assert.Equal(t, 1, steps["first Secret"], "GetSecretValue only")
			if !live {
				// DescribeKey (the key's instance) and DescribeSecret (its
				// key, here the same one, described once): facts for checks
				// and reports.
				assert.LessOrEqual(t, steps["New"], 2)
			} else {
				// Plus STS (who am I) and RAM (policies, groups, documents).
				assert.LessOrEqual(t, steps["New"], 6)
			}
		})
	}
}
