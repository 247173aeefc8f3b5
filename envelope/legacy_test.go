package envelope_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/envelope"
)

// TestLegacyFormatRecognised: Decrypt, NewReader, Rewrap and ParseHeader
// recognise an Alibaba Cloud Encryption SDK message by its leading bytes
// and say which package and function read it, before any KMS call.
func TestLegacyFormatRecognised(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for name, msg := range map[string][]byte{
		"ASN.1 message, long length": append([]byte{0x30, 0x82, 0x01, 0x44, 0x30, 0x81, 0xf9}, make([]byte, 40)...),
		"ASN.1 SecretManager body":   append([]byte{0x30, 0x46, 0x04, 0x0c}, make([]byte, 40)...),
		"Java stream (version 1)":    append([]byte{0, 0, 0, 1, 0, 0, 0, 2}, make([]byte, 40)...),
		"ASN.1, four bytes":          {0x30, 0x02, 0x04, 0x00},
	} {
		t.Run(name, func(t *testing.T) {
			calls := f.srv.Calls("Decrypt")
			_, errs := f.env.Decrypt(ctx, msg)
			_, errr := f.env.NewReader(ctx, bytes.NewReader(msg))
			_, errw := f.env.Rewrap(ctx, msg, f.keyID)
			_, errp := envelope.ParseHeader(msg)
			for _, err := range []error{errs, errr, errw, errp} {
				require.ErrorIs(t, err, envelope.ErrLegacyFormat)
				require.ErrorIs(t, err, envelope.ErrMalformed, "still malformed as a kmsenvelope message")
				var le *envelope.LegacyFormatError
				require.True(t, errors.As(err, &le))
				assert.Equal(t, envelope.AliyunESDKPackage, le.Package)
				assert.Equal(t, "aliyunesdk.Decrypter.Decrypt", le.Function)
				assert.Equal(t, "aliyunesdk.Migrator.Migrate", le.Migrate)
				var fe *envelope.FormatError
				require.True(t, errors.As(err, &fe))
				assert.Equal(t, "magic", fe.Field)
				assert.Contains(t, err.Error(), envelope.AliyunESDKPackage)
			}
			assert.Equal(t, calls, f.srv.Calls("Decrypt"), "no KMS call")
		})
	}
	// Other bad magic stays plain ErrMalformed.
	_, err := f.env.Decrypt(ctx, []byte("XXXXXXXXXXXXXXXXXXXXXXX"))
	require.ErrorIs(t, err, envelope.ErrMalformed)
	require.NotErrorIs(t, err, envelope.ErrLegacyFormat)
}
