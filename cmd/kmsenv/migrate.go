package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/kmsenvelope/kmsenvelope"
	"github.com/kmsenvelope/kmsenvelope/envelope/aliyunesdk"
)

// migrateCommand turns Alibaba Encryption SDK messages into kmsenvelope
// messages (issue 16, item 3), file by file, atomically.
func (a *app) migrateCommand() *cobra.Command {
	var cf cloudFlags
	var of outputFlags
	var keyID string
	var cx contextFlags
	var tf trustFlags
	var unsafeAlgs []string
	c := &cobra.Command{
		Use:   "migrate --key-id NEW (--context KEY=VALUE... | --no-context-check) (--allowed-key PATTERN | --discovery-account ACCOUNT) [flags] FILE|DIR|-...",
		Short: "Turn Alibaba Cloud Encryption SDK messages into kmsenvelope messages (new data key, same context)",
		Long: `Reads each input as an Alibaba Cloud Encryption SDK message (the ASN.1
message or the Java stream format, Java 1.0.7-1.1.x, Python 0.1.x),
authenticates and decrypts it (package envelope/aliyunesdk), and writes a
format v1 kmsenvelope message under --key-id NEW with a new data key and
the same encryption context, as FILE.kmsenv (or under --output DIR).

The legacy message must carry every --context pair (or --no-context-check),
and its keys must be trusted as decrypt trusts them (--allowed-key patterns,
--discovery-account, or NEW itself). AES-GCM and SM4-GCM messages are read;
the unauthenticated CBC and CTR algorithms only when named one by one with
--allow-unauthenticated (UNSAFE: their plaintext is only as trustworthy as
the storage it came from; the report marks such files). Nothing is written
unless the legacy message authenticated; --metadata-output adds one JSON
report per file (format, algorithm, legacy key ARNs, context, sizes).`,
		Example: `  kmsenv migrate --key-id alias/app --allowed-key 'acs:kms:*:1234567890123456:*' --context app=billing -r legacy/
  kmsenv migrate --key-id alias/app --no-context-check --allowed-key '*' --allow-unauthenticated AES_CBC_PKCS5_256 old.bin`,
		Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, inputs []string) error {
			opts, _, err := cx.options("migrate")
			if err != nil {
				return err
			}
			if keyID == "" {
				return usagef("migrate: missing --key-id (the key the new messages are under)")
			}
			var allow []aliyunesdk.Algorithm
			for _, name := range unsafeAlgs {
				alg, err := aliyunesdk.ParseAlgorithm(name)
				if err != nil {
					return usagef("--allow-unauthenticated %s: %v", name, err)
				}
				allow = append(allow, alg)
			}
			return a.runOnClient(c, inputs, &of, &cf, "migrate", planEncrypt, keyID, tf.apply, func(client *kmsenvelope.Client) (stepFunc, error) {
				from, err := aliyunesdk.NewDecrypter(aliyunesdk.Config{Client: client.Envelope(), AllowUnauthenticated: allow})
				if err != nil {
					return nil, err
				}
				mg := &aliyunesdk.Migrator{From: from, To: client.Envelope()}
				return func(ctx context.Context, j job, dst io.Writer, src io.Reader, m *fileMeta) error {
					rep, err := mg.Migrate(ctx, dst, src, opts...)
					if err != nil {
						return err
					}
					m.Legacy = rep
					m.Context = rep.Context
					m.PlaintextBytes = &rep.PlaintextBytes
					m.CiphertextBytes = rep.WrittenBytes
					return nil
				}, nil
			})
		},
	}
	fs := c.Flags()
	a.registerCloudFlags(fs, &cf)
	of.register(fs, true)
	cx.register(fs)
	tf.register(fs)
	fs.StringVar(&keyID, "key-id", "", "KMS `KEY` the new messages are under: key id, ARN or alias/<name> (required)")
	fs.StringArrayVar(&unsafeAlgs, "allow-unauthenticated", nil, "also read this unauthenticated legacy `ALGORITHM` (AES_CBC_PKCS5_256, AES_CTR_NOPADDING_256, ...; UNSAFE, repeatable)")
	return c
}
