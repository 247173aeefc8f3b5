package secrets_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/secrets"
)

func TestValueRedacts(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "db-password", "first-version")
	e.put(t, "db-password", "hunter7", "v2")
	c := e.client(t, secrets.Config{})
	v, err := c.Get(context.Background(), "db-password")
	require.NoError(t, err)
	require.Equal(t, "hunter7", v.Text())

	const want = "secrets.Value{name=db-password version=v2 [REDACTED 7 bytes]}"
	assert.Equal(t, want, v.String())
	assert.Equal(t, want, v.GoString())

	secretForms := []string{"hunter7", fmt.Sprintf("%x", "hunter7"), fmt.Sprintf("% x", "hunter7"), fmt.Sprint([]byte("hunter7"))[1:10]}
	noLeak := func(t *testing.T, s string) {
		t.Helper()
		for _, f := range secretForms {
			assert.NotContains(t, s, f)
		}
	}

	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "% x", "%d", "%10.3s", "%T-%v"} {
		t.Run(verb, func(t *testing.T) {
			for _, arg := range []any{v, *v, []*secrets.Value{v}, struct{ Secret *secrets.Value }{v}, map[string]secrets.Value{"k": *v}} {
				s := fmt.Sprintf(verb, arg)
				noLeak(t, s)
				if verb != "%T-%v" {
					assert.Contains(t, s, "REDACTED", "%s of %T", verb, arg)
				}
			}
		})
	}

	t.Run("slog", func(t *testing.T) {
		var buf bytes.Buffer
		for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
			l := slog.New(h)
			l.Info("loaded", "secret", v)
			l.Info("loaded", slog.Any("secret", *v))
		}
		noLeak(t, buf.String())
		assert.Contains(t, buf.String(), "db-password")
		assert.Contains(t, buf.String(), "REDACTED 7 bytes")
	})

	t.Run("json", func(t *testing.T) {
		for _, arg := range []any{v, *v, struct{ S *secrets.Value }{v}, map[string]*secrets.Value{"k": v}} {
			b, err := json.Marshal(arg)
			require.NoError(t, err)
			noLeak(t, string(b))
			assert.Contains(t, string(b), `{"name":"db-password","version":"v2","value":"[REDACTED]"}`)
		}
	})

	t.Run("text", func(t *testing.T) {
		b, err := v.MarshalText()
		require.NoError(t, err)
		assert.Equal(t, want, string(b))
		m, err := json.Marshal(map[string]string{"k": string(b)})
		require.NoError(t, err)
		noLeak(t, string(m))
	})
}
