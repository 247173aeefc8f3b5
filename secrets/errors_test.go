package secrets_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/secrets"
)

// TestClosedIsTheModuleSentinel: secrets.ErrClosed is kmsclient.ErrClosed,
// which kmsenvelope.ErrClosed is too, and every method after Close says so.
func TestClosedIsTheModuleSentinel(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "s", "v")
	c := e.client(t, secrets.Config{})
	ctx := context.Background()
	_, err := c.Get(ctx, "s")
	require.NoError(t, err)
	require.NoError(t, c.Close())
	before := e.calls()
	for name, f := range map[string]func() error{
		"Get":        func() error { _, err := c.Get(ctx, "s"); return err },
		"GetJSON":    func() error { return c.GetJSON(ctx, "s", new(any)) },
		"RefreshNow": func() error { _, err := c.RefreshNow(ctx, "s"); return err },
		"Prefetch":   func() error { return c.Prefetch(ctx, "s", "t") },
	} {
		err := f()
		assert.ErrorIs(t, err, secrets.ErrClosed, name)
		assert.ErrorIs(t, err, kmsclient.ErrClosed, name)
	}
	assert.Equal(t, before, e.calls(), "nothing reaches KMS after Close")
}

// TestConfigErrorsAreTyped: every invalid field is a *ConfigError naming it,
// and errors.Is(err, ErrInvalidConfig) holds (the module's one sentinel).
func TestConfigErrorsAreTyped(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		cfg   secrets.Config
		field string
	}{
		{secrets.Config{TTL: -1}, "TTL"},
		{secrets.Config{Jitter: 0.9}, "Jitter"},
		{secrets.Config{RefreshAhead: time.Hour}, "RefreshAhead"},
		{secrets.Config{MaxEntries: -1}, "MaxEntries"},
		{secrets.Config{Parallelism: -1}, "Parallelism"},
	} {
		t.Run(tc.field, func(t *testing.T) {
			_, err := secrets.New(e.kms, tc.cfg)
			var ce *secrets.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.field, ce.Field)
			assert.ErrorIs(t, err, secrets.ErrInvalidConfig)
			assert.ErrorIs(t, err, kmsclient.ErrInvalidConfig)
		})
	}
}

// TestInvalidNamesAreTyped: empty, control characters and over-long names
// are refused with ErrInvalidName, by Get, RefreshNow and Prefetch, before
// any KMS call.
func TestInvalidNamesAreTyped(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, secrets.Config{})
	ctx := context.Background()
	for _, tc := range []struct{ name, says string }{
		{"", "required"},
		{"a\nb", "control character at byte 1"},
		{"a\x00stage\x00ACSCurrent", "control character at byte 1"},
		{strings.Repeat("n", secrets.MaxNameLen+1), "more than MaxNameLen"},
	} {
		_, err := c.Get(ctx, tc.name)
		require.ErrorIs(t, err, secrets.ErrInvalidName, "%.20q", tc.name)
		assert.Contains(t, err.Error(), tc.says)
		_, err = c.RefreshNow(ctx, tc.name)
		assert.ErrorIs(t, err, secrets.ErrInvalidName)
		err = c.Prefetch(ctx, tc.name)
		assert.ErrorIs(t, err, secrets.ErrInvalidName)
	}
	_, err := c.Get(ctx, strings.Repeat("n", secrets.MaxNameLen))
	assert.NotErrorIs(t, err, secrets.ErrInvalidName, "a name of MaxNameLen bytes is allowed")
	assert.Equal(t, 1, e.calls(), "only the valid name reached KMS")
}

// TestJSONErrorIsTyped: a JSON decoding error is a *JSONError with its kind,
// position and types, unwraps to ErrInvalidJSON and holds nothing of the
// secret.
func TestJSONErrorIsTyped(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "bad", "{\n  \"user\": \"admin\",\n  \"pass\": hunter2\n}")
	e.secret(t, "typed", `{"port": "s3cr3t-port"}`)
	c := e.client(t, secrets.Config{})
	ctx := context.Background()

	err := c.GetJSON(ctx, "bad", new(map[string]any))
	var je *secrets.JSONError
	require.ErrorAs(t, err, &je)
	assert.ErrorIs(t, err, secrets.ErrInvalidJSON)
	assert.Equal(t, secrets.JSONSyntax, je.Kind)
	assert.Equal(t, "bad", je.Name)
	assert.Equal(t, 3, je.Line)
	assert.Equal(t, 11, je.Column)
	assert.NotContains(t, err.Error(), "hunter2")
	assert.Contains(t, err.Error(), "at line 3, column 11")

	var dst struct{ Port int }
	err = c.GetJSON(ctx, "typed", &dst)
	require.ErrorAs(t, err, &je)
	assert.Equal(t, secrets.JSONType, je.Kind)
	assert.Equal(t, "int", je.GoType)
	assert.Equal(t, "Port", je.Field)
	assert.NotContains(t, err.Error(), "s3cr3t")

	err = c.GetJSON(ctx, "typed", &failing{})
	require.ErrorAs(t, err, &je)
	assert.Equal(t, secrets.JSONDecoder, je.Kind)
	assert.Equal(t, int64(-1), je.Offset)
	assert.NotContains(t, err.Error(), "s3cr3t")

	err = c.GetJSON(ctx, "typed", nil)
	assert.False(t, errors.As(err, &je), "a nil destination is a programmer error, not a JSONError")
	assert.Equal(t, "JSONErrorKind(9)", secrets.JSONErrorKind(9).String())
}

type failing struct{}

func (*failing) UnmarshalJSON(b []byte) error { return errors.New("bad input: " + string(b)) }

// TestCheckName: CheckName answers as Get would, without a client.
func TestCheckName(t *testing.T) {
	for name, ok := range map[string]bool{"db-password": true, "acs:kms:cn-hangzhou:123:secret/db": true, "": false, "a\tb": false,
		strings.Repeat("x", secrets.MaxNameLen): true, strings.Repeat("x", secrets.MaxNameLen+1): false} {
		err := secrets.CheckName(name)
		if ok {
			assert.NoError(t, err, "%.30q", name)
		} else {
			assert.ErrorIs(t, err, secrets.ErrInvalidName, "%.30q", name)
		}
	}
}
