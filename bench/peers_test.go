package bench

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"

	"filippo.io/age"
	mpl "github.com/aws/aws-cryptographic-material-providers-library/releases/go/mpl/awscryptographymaterialproviderssmithygenerated"
	mpltypes "github.com/aws/aws-cryptographic-material-providers-library/releases/go/mpl/awscryptographymaterialproviderssmithygeneratedtypes"
	esdk "github.com/aws/aws-encryption-sdk/releases/go/encryption-sdk/awscryptographyencryptionsdksmithygenerated"
	esdktypes "github.com/aws/aws-encryption-sdk/releases/go/encryption-sdk/awscryptographyencryptionsdksmithygeneratedtypes"
	"github.com/kmsenvelope/kmsenvelope/envelope"
	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	tinkaead "github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

// codec is one peer, set up once: enc and dec append their output to dst
// (peers without an append API ignore dst and allocate).
type codec struct {
	enc func(dst, plaintext []byte) ([]byte, error)
	dec func(dst, message []byte) ([]byte, error)
}

// peer is one implementation under comparison.
type peer struct {
	name string
	// note is a one-line caveat printed in the table.
	note string
	// open builds the codec, once per process (see opened).
	open func() (codec, error)
}

// peers, in table order. raw must come first: every ratio is against it.
var peers = []peer{
	{
		name: "raw",
		note: "crypto/cipher AES-256-GCM, one key, fixed nonce, reused buffer: the physical limit, not a message format",
		open: openRaw,
	},
	{
		name: "kmsenvelope",
		note: "AppendEncrypt/AppendDecrypt+RequireContext, warm data-key cache, testkms over loopback HTTP, 64 KiB frames",
		open: openKMSEnvelope,
	},
	{
		name: "tink",
		note: "KMSEnvelopeAEAD(AES256_GCM DEK); remote = in-process AES-GCM AEAD (no network), called on EVERY message",
		open: openTink,
	},
	{
		name: "awsesdk",
		note: "default suite 0x0578 (AES-256-GCM, HKDF-SHA512, key commitment, ECDSA P-384 signature), raw AES-256 keyring, default 4 KiB frames",
		open: openAWSESDK,
	},
	{
		name: "age",
		note: "X25519 recipient: public-key work (X25519 + HKDF) on every message, a different design point",
		open: openAge,
	},
}

// benchContext is the encryption context (or associated data) every peer
// that has one binds messages to.
var benchContext = map[string]string{"tenant": "acme"}

const benchAD = "tenant=acme"

var (
	openedMu sync.Mutex
	opened   = map[string]*openResult{}
	closers  []func()
)

type openResult struct {
	c   codec
	err error
}

// codecFor returns the peer's codec, building it on first use.
func codecFor(p peer) (codec, error) {
	openedMu.Lock()
	defer openedMu.Unlock()
	if r, ok := opened[p.name]; ok {
		return r.c, r.err
	}
	c, err := p.open()
	if err == nil {
		err = selfCheck(c)
	}
	if err != nil {
		err = fmt.Errorf("%s: %w", p.name, err)
	}
	opened[p.name] = &openResult{c, err}
	return c, err
}

// closeAll releases what the peers hold (the KMS emulator).
func closeAll() {
	openedMu.Lock()
	defer openedMu.Unlock()
	for i := len(closers) - 1; i >= 0; i-- {
		closers[i]()
	}
	closers = nil
}

// selfCheck round-trips a small random message and checks that a modified
// message is rejected, so no peer is benchmarked doing the wrong thing.
func selfCheck(c codec) error {
	pt := make([]byte, 1000)
	rand.Read(pt)
	msg, err := c.enc(nil, pt)
	if err != nil {
		return fmt.Errorf("encrypt: %w", err)
	}
	got, err := c.dec(nil, msg)
	if err != nil {
		return fmt.Errorf("decrypt: %w", err)
	}
	if !bytes.Equal(got, pt) {
		return errors.New("round trip returned different plaintext")
	}
	bad := bytes.Clone(msg)
	bad[len(bad)-1] ^= 1
	if _, err := c.dec(nil, bad); err == nil {
		return errors.New("decrypt accepted a modified message")
	}
	return nil
}

func openRaw() (codec, error) {
	key := make([]byte, 32)
	rand.Read(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return codec{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return codec{}, err
	}
	nonce := make([]byte, aead.NonceSize()) // fixed: a benchmark of the cipher only
	return codec{
		enc: func(dst, pt []byte) ([]byte, error) { return aead.Seal(dst, nonce, pt, nil), nil },
		dec: func(dst, msg []byte) ([]byte, error) { return aead.Open(dst, nonce, msg, nil) },
	}, nil
}

func openKMSEnvelope() (codec, error) {
	srv, err := testkms.New(testkms.Options{})
	if err != nil {
		return codec{}, err
	}
	closers = append(closers, func() { srv.Close() })
	cred := srv.AddAccount(srv.DefaultAccount())
	keyID, _, err := srv.CreateKey(srv.DefaultAccount(), testkms.KeyOptions{})
	if err != nil {
		return codec{}, err
	}
	kc, err := kmsclient.New(kmsclient.Config{
		Region:      srv.Region(),
		Endpoint:    "http://" + srv.Endpoint(),
		Credentials: kmsclient.StaticCredentials(cred.AccessKeyID, cred.AccessKeySecret),
	})
	if err != nil {
		return codec{}, err
	}
	env, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: keyID, KMS: kc}}})
	if err != nil {
		return codec{}, err
	}
	ctx := context.Background()
	require := envelope.RequireContext(benchContext)
	return codec{
		enc: func(dst, pt []byte) ([]byte, error) { return env.AppendEncrypt(ctx, dst, pt, benchContext) },
		dec: func(dst, msg []byte) ([]byte, error) { return env.AppendDecrypt(ctx, dst, msg, require) },
	}, nil
}

func openTink() (codec, error) {
	// The key-encryption AEAD stands in for a remote KMS key: an ordinary
	// in-process AES-256-GCM keyset, so wrapping the DEK costs microseconds
	// instead of a network round trip. That flatters Tink, which calls it on
	// every Encrypt and Decrypt.
	kh, err := keyset.NewHandle(tinkaead.AES256GCMKeyTemplate())
	if err != nil {
		return codec{}, err
	}
	remote, err := tinkaead.New(kh)
	if err != nil {
		return codec{}, err
	}
	a := tinkaead.NewKMSEnvelopeAEAD2(tinkaead.AES256GCMKeyTemplate(), remote)
	ad := []byte(benchAD)
	return codec{
		enc: func(_, pt []byte) ([]byte, error) { return a.Encrypt(pt, ad) },
		dec: func(_, msg []byte) ([]byte, error) { return a.Decrypt(msg, ad) },
	}, nil
}

func openAWSESDK() (codec, error) {
	ctx := context.Background()
	mp, err := mpl.NewClient(mpltypes.MaterialProvidersConfig{})
	if err != nil {
		return codec{}, err
	}
	key := make([]byte, 32)
	rand.Read(key)
	keyring, err := mp.CreateRawAesKeyring(ctx, mpltypes.CreateRawAesKeyringInput{
		KeyNamespace: "bench",
		KeyName:      "aes-256",
		WrappingKey:  key,
		WrappingAlg:  mpltypes.AesWrappingAlgAlgAes256GcmIv12Tag16,
	})
	if err != nil {
		return codec{}, err
	}
	// A zero config is the SDK's default: commitment policy
	// REQUIRE_ENCRYPT_REQUIRE_DECRYPT, so the default suite is 0x0578.
	client, err := esdk.NewClient(esdktypes.AwsEncryptionSdkConfig{})
	if err != nil {
		return codec{}, err
	}
	// Check the claim above (and in the table) rather than assume it.
	probe, err := client.Encrypt(ctx, esdktypes.EncryptInput{Plaintext: []byte("x"), Keyring: keyring})
	if err != nil {
		return codec{}, err
	}
	if want := mpltypes.ESDKAlgorithmSuiteIdAlgAes256GcmHkdfSha512CommitKeyEcdsaP384; probe.AlgorithmSuiteId != want {
		return codec{}, fmt.Errorf("default algorithm suite is %s, want %s", probe.AlgorithmSuiteId, want)
	}
	return codec{
		enc: func(_, pt []byte) ([]byte, error) {
			out, err := client.Encrypt(ctx, esdktypes.EncryptInput{
				Plaintext:         pt,
				EncryptionContext: benchContext,
				Keyring:           keyring,
			})
			if err != nil {
				return nil, err
			}
			return out.Ciphertext, nil
		},
		dec: func(_, msg []byte) ([]byte, error) {
			out, err := client.Decrypt(ctx, esdktypes.DecryptInput{
				Ciphertext:        msg,
				EncryptionContext: benchContext, // required pairs, checked
				Keyring:           keyring,
			})
			if err != nil {
				return nil, err
			}
			return out.Plaintext, nil
		},
	}, nil
}

func openAge() (codec, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return codec{}, err
	}
	rcpt := id.Recipient()
	return codec{
		enc: func(dst, pt []byte) ([]byte, error) {
			buf := bytes.NewBuffer(dst)
			w, err := age.Encrypt(buf, rcpt)
			if err != nil {
				return nil, err
			}
			if _, err := w.Write(pt); err != nil {
				return nil, err
			}
			if err := w.Close(); err != nil {
				return nil, err
			}
			return buf.Bytes(), nil
		},
		dec: func(dst, msg []byte) ([]byte, error) {
			r, err := age.Decrypt(bytes.NewReader(msg), id)
			if err != nil {
				return nil, err
			}
			buf := bytes.NewBuffer(dst)
			if _, err := buf.ReadFrom(r); err != nil {
				return nil, err
			}
			return buf.Bytes(), nil
		},
	}, nil
}
