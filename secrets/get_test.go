package secrets_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/secrets"
)

func TestNewValidatesConfig(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name  string
		cfg   secrets.Config
		field string
	}{
		{"negative TTL", secrets.Config{TTL: -time.Second}, "TTL"},
		{"jitter above 0.5", secrets.Config{Jitter: 0.6}, "Jitter"},
		{"negative jitter", secrets.Config{Jitter: -0.1}, "Jitter"},
		{"NaN jitter", secrets.Config{Jitter: math.NaN()}, "Jitter"},
		{"refresh ahead equal to TTL", secrets.Config{TTL: time.Minute, RefreshAhead: time.Minute}, "RefreshAhead"},
		{"refresh ahead beyond the shortest jittered TTL", secrets.Config{TTL: time.Minute, Jitter: 0.5, RefreshAhead: 30 * time.Second}, "RefreshAhead"},
		{"negative MaxEntries", secrets.Config{MaxEntries: -1}, "MaxEntries"},
		{"negative Parallelism", secrets.Config{Parallelism: -1}, "Parallelism"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := secrets.New(e.kms, tt.cfg)
			require.Error(t, err)
			assert.Nil(t, c)
			var ce *secrets.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.field, ce.Field)
			assert.Contains(t, err.Error(), "secrets: Config."+tt.field)
		})
	}

	t.Run("nil source", func(t *testing.T) {
		_, err := secrets.New(nil, secrets.Config{})
		assert.Error(t, err)
	})
	t.Run("zero config and edge values are valid", func(t *testing.T) {
		for _, cfg := range []secrets.Config{
			{},
			{Jitter: 0.5, StaleIfError: -1, RefreshAhead: -1},
			{TTL: time.Minute, Jitter: 0.1, RefreshAhead: 53 * time.Second},
		} {
			c, err := secrets.New(e.kms, cfg)
			require.NoError(t, err)
			require.NoError(t, c.Close())
		}
	})
}

func TestGet(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "db-password", "hunter2-first")
	e.put(t, "db-password", "hunter2-second", "v2")
	bin := []byte{0x00, 0xff, 0x10, 0x80, 'k'}
	_, err := e.srv.CreateSecret(e.acct, "tls-key", bin, testkms.SecretOptions{Binary: true, VersionID: "b1"})
	require.NoError(t, err)
	_, err = e.srv.CreateSecret(e.acct, "cmk-secret", []byte("under-a-customer-key"), testkms.SecretOptions{EncryptionKeyID: e.keyID, VersionID: "c1"})
	require.NoError(t, err)

	tests := []struct {
		name        string
		secret      string
		opts        []secrets.GetOption
		wantBytes   []byte
		wantVersion string
		wantStage   string
		wantBinary  bool
	}{
		{"current by default", "db-password", nil, []byte("hunter2-second"), "v2", kmsclient.StageCurrent, false},
		{"explicit current stage", "db-password", []secrets.GetOption{secrets.Stage(kmsclient.StageCurrent)}, []byte("hunter2-second"), "v2", kmsclient.StageCurrent, false},
		{"previous stage", "db-password", []secrets.GetOption{secrets.Stage(kmsclient.StagePrevious)}, []byte("hunter2-first"), "v1", kmsclient.StagePrevious, false},
		{"pinned old version", "db-password", []secrets.GetOption{secrets.VersionID("v1")}, []byte("hunter2-first"), "v1", kmsclient.StagePrevious, false},
		{"pinned version and its stage", "db-password", []secrets.GetOption{secrets.VersionID("v2"), secrets.Stage(kmsclient.StageCurrent)}, []byte("hunter2-second"), "v2", kmsclient.StageCurrent, false},
		{"binary", "tls-key", nil, bin, "b1", kmsclient.StageCurrent, true},
		{"customer key", "cmk-secret", nil, []byte("under-a-customer-key"), "c1", kmsclient.StageCurrent, false},
	}
	c := e.client(t, secrets.Config{})
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := c.Get(ctx, tt.secret, tt.opts...)
			require.NoError(t, err)
			assert.Equal(t, tt.secret, v.Name())
			assert.Equal(t, tt.wantBytes, v.Bytes())
			assert.Equal(t, string(tt.wantBytes), v.Text())
			assert.Equal(t, tt.wantVersion, v.VersionID())
			assert.Contains(t, v.Stages(), tt.wantStage)
			assert.Equal(t, tt.wantBinary, v.Binary())
			assert.False(t, v.Stale())
			assert.False(t, v.FetchedAt().IsZero())

			again, err := c.Get(ctx, tt.secret, tt.opts...)
			require.NoError(t, err)
			assert.Same(t, v, again, "the second Get is served from the cache")
		})
	}
	assert.Equal(t, len(tests)-1, e.calls(), "explicit ACSCurrent shares the default entry")
}

func TestValueStagesIsACopy(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "s", "value-one")
	c := e.client(t, secrets.Config{})
	v, err := c.Get(context.Background(), "s")
	require.NoError(t, err)
	st := v.Stages()
	require.NotEmpty(t, st)
	st[0] = "tampered"
	assert.Equal(t, kmsclient.StageCurrent, v.Stages()[0])
}

type dbConfig struct {
	User     string `json:"user"`
	Password string `json:"password"`
	Port     int8   `json:"port"`
}

// failingDecoder's UnmarshalJSON quotes its input in its error, as careless
// decoders do.
type failingDecoder struct{}

func (*failingDecoder) UnmarshalJSON(b []byte) error {
	return errors.New("cannot decode " + string(b))
}

func TestGetJSON(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "db", `{"user":"app","password":"pa55-w0rd-xyz","port":5}`)
	e.secret(t, "broken", "{\n  \"password\": pa55-w0rd-xyz\n}")
	e.secret(t, "wrong-type", `{"user":"app","port":123456789012345678901}`)
	e.secret(t, "string-port", `{"port":"pa55-w0rd-xyz"}`)
	e.secret(t, "custom", `"pa55-w0rd-xyz"`)
	c := e.client(t, secrets.Config{})
	ctx := context.Background()

	var cfg dbConfig
	require.NoError(t, c.GetJSON(ctx, "db", &cfg))
	assert.Equal(t, dbConfig{User: "app", Password: "pa55-w0rd-xyz", Port: 5}, cfg)

	tests := []struct {
		secret string
		dst    any
		want   []string
	}{
		{"broken", &dbConfig{}, []string{"secrets: broken:", "not valid JSON", "at line 2, column 15 (byte offset 16)"}},
		{"wrong-type", &dbConfig{}, []string{"secrets: wrong-type:", "int8", `field "port"`, "byte offset"}},
		{"string-port", &dbConfig{}, []string{"secrets: string-port:", "int8", `field "port"`}},
		{"custom", &failingDecoder{}, []string{"secrets: custom:", "failingDecoder"}},
	}
	for _, tt := range tests {
		t.Run(tt.secret, func(t *testing.T) {
			err := c.GetJSON(ctx, tt.secret, tt.dst)
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			for _, leak := range []string{"pa55", "w0rd", "123456789012345678901"} {
				assert.NotContains(t, err.Error(), leak, "the error must not quote the secret")
			}
		})
	}

	t.Run("non-pointer destination", func(t *testing.T) {
		err := c.GetJSON(ctx, "db", dbConfig{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "secrets: db:")
		assert.NotContains(t, err.Error(), "pa55")
	})
}

func TestGetErrors(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "denied", "never-seen-value")
	_, err := e.srv.CreateSecret(e.acct, "cmk-denied", []byte("never-seen-value"), testkms.SecretOptions{EncryptionKeyID: e.keyID})
	require.NoError(t, err)
	c := e.client(t, secrets.Config{})
	ctx := context.Background()

	tests := []struct {
		name   string
		secret string
		setup  func()
		is     error
	}{
		{"not found", "missing", func() {}, kmsclient.ErrNotFound},
		{"GetSecretValue denied", "denied", func() { e.srv.Deny(e.cred.Principal, "kms:GetSecretValue") }, kmsclient.ErrAccessDenied},
		{"Decrypt on the secret's key denied", "cmk-denied", func() { e.srv.Deny(e.cred.Principal, "kms:Decrypt") }, kmsclient.ErrAccessDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.srv.ClearFaults()
			tt.setup()
			v, err := c.Get(ctx, tt.secret)
			require.Error(t, err)
			assert.Nil(t, v)
			assert.ErrorIs(t, err, tt.is)
			assert.Contains(t, err.Error(), "secrets: "+tt.secret+": ")
			assert.NotContains(t, err.Error(), "never-seen-value")
		})
	}
	e.srv.ClearFaults()

	_, err = c.Get(ctx, "")
	assert.Error(t, err)
	assert.Equal(t, 0, c.Stats().Entries, "failures are not cached")
}

func TestExplainRewritesErrors(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "db-password", "explain-secret-value")
	var seen []string
	c := e.client(t, secrets.Config{Explain: func(name string, err error) error {
		seen = append(seen, name)
		if errors.Is(err, kmsclient.ErrAccessDenied) {
			return explained{err}
		}
		return nil // keep the error
	}})
	ctx := context.Background()

	e.srv.Deny(e.cred.Principal, "kms:GetSecretValue")
	_, err := c.Get(ctx, "db-password")
	require.Error(t, err)
	assert.Equal(t, "secrets: db-password: grant kms:GetSecretValue on db-password to this service", err.Error())
	assert.ErrorIs(t, err, kmsclient.ErrAccessDenied)

	e.srv.ClearFaults()
	_, err = c.Get(ctx, "missing")
	assert.ErrorIs(t, err, kmsclient.ErrNotFound)
	assert.Contains(t, err.Error(), "secrets: missing: kmsclient: GetSecretValue")
	assert.Equal(t, []string{"db-password", "missing"}, seen)
}

type explained struct{ err error }

func (x explained) Error() string { return "grant kms:GetSecretValue on db-password to this service" }
func (x explained) Unwrap() error { return x.err }
