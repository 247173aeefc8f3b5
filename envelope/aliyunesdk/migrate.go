package aliyunesdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/kmsenvelope/kmsenvelope/envelope"
)

// Migrator turns Alibaba Cloud Encryption SDK messages into kmsenvelope
// (format version 1) messages: each is authenticated and decrypted by From,
// then encrypted by To under a new data key with the same encryption
// context (To's suite, keys and frame size). It is safe for concurrent use.
type Migrator struct {
	From *Decrypter
	To   *envelope.Client
}

// Report describes one migrated message. Nothing in it is secret: the
// context is cleartext in both formats.
type Report struct {
	Format    Format    `json:"format"`
	Algorithm Algorithm `json:"algorithm"`
	// Unauthenticated is set when the legacy body had no integrity
	// protection (CBC, CTR, allowed by Config.AllowUnauthenticated): the
	// migrated plaintext is only as trustworthy as the storage it came from.
	Unauthenticated bool `json:"unauthenticated"`
	// LegacyKeyARNs are the key ARNs of the legacy message's wrapped keys.
	LegacyKeyARNs []string          `json:"legacyKeyArns"`
	Context       map[string]string `json:"encryptionContext,omitempty"`
	// LegacyBytes, PlaintextBytes and WrittenBytes count the legacy
	// message, its plaintext and the new message written to dst.
	LegacyBytes    int64 `json:"legacyBytes"`
	PlaintextBytes int64 `json:"plaintextBytes"`
	WrittenBytes   int64 `json:"writtenBytes"`
}

// Migrate reads one legacy message (a full ASN.1 message or a Java stream)
// from src, at most From's Config.MaxMessageSize bytes, authenticates and
// decrypts it, and writes it to dst as a kmsenvelope message (To.NewWriter,
// so the new message is streamed to dst frame by frame). The legacy format
// is one cipher operation over the whole message whose tag comes last, so
// the legacy message is held in memory (bounded by MaxMessageSize) and
// nothing is written to dst unless it authenticated. opts apply to the
// legacy message as to Decrypt (RequireContext, RequireKeys). The
// plaintext is wiped after use. The Report is returned with an error too,
// filled as far as the migration got (nil if src could not be read).
func (mg *Migrator) Migrate(ctx context.Context, dst io.Writer, src io.Reader, opts ...envelope.DecryptOption) (*Report, error) {
	msg, err := mg.readLimited(src)
	if err != nil {
		return nil, err
	}
	pt, m, err := mg.From.Decrypt(ctx, msg, opts...)
	r := &Report{LegacyBytes: int64(len(msg))}
	if err != nil {
		return r, err
	}
	return mg.write(ctx, dst, r, m, pt)
}

// MigrateSecretManager is Migrate for a SecretManagerDataKeyProvider
// message: secretValue is the secret holding the header (see
// Decrypter.DecryptSecretManager), src the body.
func (mg *Migrator) MigrateSecretManager(ctx context.Context, dst io.Writer, secretValue []byte, src io.Reader, opts ...envelope.DecryptOption) (*Report, error) {
	body, err := mg.readLimited(src)
	if err != nil {
		return nil, err
	}
	pt, m, err := mg.From.DecryptSecretManager(ctx, secretValue, body, opts...)
	r := &Report{LegacyBytes: int64(len(body))}
	if err != nil {
		return r, err
	}
	return mg.write(ctx, dst, r, m, pt)
}

// MigrateSecretBody is MigrateSecretManager with a header opened once by
// Decrypter.OpenSecretHeader: no KMS call per legacy message (To still
// makes its own, through its cache).
func (mg *Migrator) MigrateSecretBody(ctx context.Context, dst io.Writer, sh *SecretHeader, src io.Reader) (*Report, error) {
	body, err := mg.readLimited(src)
	if err != nil {
		return nil, err
	}
	r := &Report{LegacyBytes: int64(len(body))}
	pt, err := sh.Decrypt(body)
	if err != nil {
		return r, err
	}
	return mg.write(ctx, dst, r, sh.Message(), pt)
}

func (mg *Migrator) readLimited(src io.Reader) ([]byte, error) {
	if mg.From == nil || mg.To == nil {
		return nil, errors.New("aliyunesdk: Migrator needs From and To")
	}
	limit := mg.From.cfg.MaxMessageSize
	// Read in chunks as the bytes arrive (io.ReadAll grows with the data),
	// never allocating for a size nobody has sent.
	msg, err := io.ReadAll(io.LimitReader(src, limit+1))
	if err != nil {
		return nil, fmt.Errorf("aliyunesdk: reading the legacy message: %w", err)
	}
	if int64(len(msg)) > limit {
		return nil, fmt.Errorf("%w: the legacy message exceeds Config.MaxMessageSize %d", ErrTooLarge, limit)
	}
	return msg, nil
}

func (mg *Migrator) write(ctx context.Context, dst io.Writer, r *Report, m *Message, pt []byte) (*Report, error) {
	defer clear(pt)
	r.Format, r.Algorithm, r.Unauthenticated, r.Context = m.Format, m.Algorithm, !m.Algorithm.Authenticated(), m.Context
	for _, wk := range m.WrappedKeys {
		r.LegacyKeyARNs = append(r.LegacyKeyARNs, wk.KeyARN)
	}
	slices.Sort(r.LegacyKeyARNs)
	r.PlaintextBytes = int64(len(pt))
	cw := &countingWriter{w: dst}
	w, err := mg.To.NewWriter(ctx, cw, m.Context)
	if err != nil {
		return r, fmt.Errorf("aliyunesdk: starting the kmsenvelope message: %w", err)
	}
	if _, err := w.Write(pt); err != nil {
		r.WrittenBytes = cw.n
		return r, fmt.Errorf("aliyunesdk: writing the kmsenvelope message: %w", err)
	}
	err = w.Close()
	r.WrittenBytes = cw.n
	if err != nil {
		return r, fmt.Errorf("aliyunesdk: writing the kmsenvelope message: %w", err)
	}
	return r, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
