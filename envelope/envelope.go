package envelope

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/kmsenvelope/kmsenvelope/keycache"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// KMS is what envelope needs from KMS. *kmsclient.Client satisfies it, and
// so does any wrapper that checks permissions first.
type KMS interface {
	GenerateDataKey(ctx context.Context, in *kmsclient.GenerateDataKeyInput) (*kmsclient.GenerateDataKeyOutput, error)
	Encrypt(ctx context.Context, in *kmsclient.EncryptInput) (*kmsclient.EncryptOutput, error)
	Decrypt(ctx context.Context, in *kmsclient.DecryptInput) (*kmsclient.DecryptOutput, error)
	ReEncrypt(ctx context.Context, in *kmsclient.ReEncryptInput) (*kmsclient.EncryptOutput, error)
	DescribeKey(ctx context.Context, keyID string) (*kmsclient.KeyMetadata, error)
	Region() string
}

// WrappingKey is a KMS key that wraps data keys, and the client of its
// region.
type WrappingKey struct {
	// KeyID names the key: key id, key ARN, or "alias/<name>".
	KeyID string
	KMS   KMS
	// ARN is the key's ARN when KeyID is an alias or a key id and the ARN
	// is known (the root kmsenvelope.Client sets it from what it learned at
	// New). Optional: it saves the one DescribeKey a Decrypt under an alias
	// would otherwise need before any Encrypt, so the data path makes no
	// management call (a KMS instance gateway serves none).
	ARN string
}

// Config configures a [Client]. Zero values are safe defaults; a Config
// must not be modified after New (New copies it).
type Config struct {
	// Keys wrap each data key; at least one. The first generates the data
	// key (KMS GenerateDataKey); each further key wraps the same data key
	// with KMS Encrypt, for redundancy in another region or account:
	// decryption succeeds if any one of them can be unwrapped.
	Keys []WrappingKey

	// Decrypters are extra KMS clients for unwrapping keys in regions the
	// clients of Keys do not cover. A wrapped key is sent to the first
	// client of its region.
	Decrypters []KMS

	// FrameSize is the plaintext bytes per frame, MinFrameSize to
	// MaxFrameSize. Zero means DefaultFrameSize (64 KiB). A serial stream
	// holds one frame in memory, a parallel one 4×Parallelism frames.
	FrameSize int

	// Account is the id of the Alibaba Cloud account that owns the wrapping
	// keys named by key id or alias (not needed for keys named by ARN). The
	// key ARN written into each message comes from DescribeKey; where
	// DescribeKey is not permitted, Account completes it. Without either, the
	// ARN has no account part, and account-scoped policies and AllowedKeys
	// patterns cannot match it. The root kmsenvelope.Client sets it from
	// sts:GetCallerIdentity.
	Account string

	// Key trust. Decrypt, NewReader and Rewrap use a wrapped key only if its
	// KMS key ARN is trusted ("strict" by default, as the AWS Encryption SDK's
	// strict mode): it is one of Keys (named by ARN; by key id, in that key's
	// region and, when Account is set, that account; by alias, as the key the
	// alias named when this Client wrapped with it or first resolved it with
	// DescribeKey), or it matches an AllowedKeys pattern, or Discovery admits
	// it. A message under any other key fails with ErrNoUsableKey before the
	// key is sent to KMS. The key KMS reports after unwrapping must be the one
	// the message names, and trust is checked again on the ARN KMS confirms.
	//
	// AllowedKeys are further trusted key ARN patterns with RAM's wildcards:
	// '*' matches any run of characters, '/' and ':' included, '?' one
	// character; matching is case-sensitive. For example
	// "acs:kms:*:1234567890123456:*" trusts every key of that account in any
	// region. A pattern must be "*" or start with "acs:kms:"; New rejects
	// any other with a *KeyPatternError naming it.
	AllowedKeys []string

	// DistrustKeys makes Keys serve only to reach KMS: key trust then rests
	// on AllowedKeys and Discovery alone. It is for tools that decrypt
	// messages under keys they learn from the message itself (a key ARN
	// read from an unauthenticated header must never become trusted by
	// being configured); with Discovery, the account KMS confirms for the
	// key is then always checked.
	DistrustKeys bool

	// Discovery, when set, trusts any key KMS will unwrap for the caller
	// whose ARN's account passes the filter ("discovery" mode). Nil (the
	// default) is strict key trust.
	Discovery *DiscoveryFilter

	// RequiredContext is encryption context every Decrypt, NewReader, Rewrap
	// and RewrapStream of this Client requires of a message, whatever
	// options the call passes (options add to it; a conflicting value fails
	// with ErrContextConflict). The root kmsenvelope.Client sets it to its
	// configured context, so a Client bound to a tenant accepts no other
	// tenant's messages.
	RequiredContext map[string]string

	// Suite is the suite of the messages this Client writes: zero means
	// SuiteAES256GCMHKDFCommit (AES-256-GCM, 32-byte data keys);
	// SuiteSM4GCMHKDFSM3Commit writes SM4-GCM with HKDF-SM3 and asks KMS for
	// 16-byte data keys. Decrypt, NewReader and Rewrap read messages of
	// either suite whatever this says: the suite is in the authenticated
	// header, and the data key must reproduce the suite's commitment.
	Suite Suite

	// Parallelism is how many frames a call or stream seals or opens at
	// once, on as many goroutines, in order and never releasing a frame
	// before it and every frame ahead of it authenticated; at most 64.
	// Zero and 1 are the serial path, the default: on the 2-vCPU shared
	// machines this was measured on, parallel frames did not beat it (see
	// bench/README.md). Set runtime.GOMAXPROCS(0) where the cores are
	// real. One-shot calls under 256 KiB stay serial. A parallel stream
	// holds 4×Parallelism frames in memory (the frames in flight).
	Parallelism int

	// MaxWrappedKeys is the most wrapped keys a message may carry for
	// Decrypt to consider it; more fails with ErrTooManyWrappedKeys before
	// any KMS call. Zero means 3.
	MaxWrappedKeys int

	// Cache caches data keys (encryption and decryption materials). Nil
	// means a private cache with keycache's defaults; set DisableCache to
	// call KMS for every message instead.
	Cache        *keycache.Cache
	DisableCache bool

	// Partition separates cache entries of clients sharing one Cache (for
	// example per tenant), on top of keys, identities and encryption context.
	Partition string

	// ShareDecryptedKeys lets clients that share a Cache also share the data
	// keys they unwrap. By default a cached decryption entry is served only to
	// the identity that obtained it from KMS (the KMS client's CacheIdentity,
	// see [CacheIdentifier]), so a client whose credentials KMS would refuse is
	// never served a data key another identity unwrapped. With this set,
	// entries are keyed by the message's wrapped key and context alone: any
	// client sharing the Cache and this setting is served them, and KMS does
	// not decide for it. Encryption entries are always per identity.
	ShareDecryptedKeys bool
}

// Client encrypts and decrypts envelope messages. It is safe for
// concurrent use.
type Client struct {
	cfg      Config
	cache    *keycache.Cache
	encID    string   // prefix of encryption cache ids: partition and Keys
	clients  []KMS    // Keys' clients then Decrypters, for region lookup
	ids      []string // cache identity of each of clients
	arnCache sync.Map // region + "\x00" + key id -> ARN
	// learned maps the keys Keys wrapped data keys under to their ARNs. It
	// is read on every decryption without a lock: the map is never written
	// after it is published; learn (only on a KMS call) copies it, under
	// learnMu, when it adds to it.
	learnMu sync.Mutex
	learned atomic.Pointer[learnedKeys]
	aliases sync.Map // region + "\x00" + alias of Keys -> ARN, "" if unresolvable
}

// DiscoveryFilter says which accounts' keys [Config.Discovery] trusts.
type DiscoveryFilter struct {
	// Accounts are Alibaba Cloud account ids (digits); "*" trusts keys of
	// every account. At least one is required.
	Accounts []string
}

// CacheIdentifier is implemented by KMS clients that can name the identity
// (credentials, region and endpoint) their data keys belong to; cache
// entries are keyed by it, so clients of different identities sharing a
// Cache never share a data key. *kmsclient.Client implements it. A KMS
// without it gets an identity unique to the Client and its position in
// Config, so it shares cache entries with nobody else.
type CacheIdentifier interface {
	CacheIdentity() string
}

// clientSeq numbers Clients, for the identities of KMS values that are not
// CacheIdentifiers.
var clientSeq atomic.Uint64

// New validates cfg and returns a Client. It makes no KMS call.
func New(cfg Config) (*Client, error) {
	if len(cfg.Keys) == 0 {
		return nil, errors.New("envelope: Config.Keys: at least one wrapping key is required")
	}
	if len(cfg.Keys) > MaxWrappedKeysFormat {
		return nil, fmt.Errorf("envelope: Config.Keys: at most %d wrapping keys", MaxWrappedKeysFormat)
	}
	for i, k := range cfg.Keys {
		if k.KeyID == "" || k.KMS == nil {
			return nil, fmt.Errorf("envelope: Config.Keys[%d]: KeyID and KMS are required", i)
		}
	}
	for i, d := range cfg.Decrypters {
		if d == nil {
			return nil, fmt.Errorf("envelope: Config.Decrypters[%d] is nil", i)
		}
	}
	switch {
	case cfg.FrameSize == 0:
		cfg.FrameSize = DefaultFrameSize
	case cfg.FrameSize < MinFrameSize || cfg.FrameSize > MaxFrameSize:
		return nil, fmt.Errorf("envelope: Config.FrameSize %d is outside [%d, %d]", cfg.FrameSize, MinFrameSize, MaxFrameSize)
	}
	if cfg.Parallelism < 0 || cfg.Parallelism > maxParallelism {
		return nil, fmt.Errorf("envelope: Config.Parallelism %d is outside [0, %d]", cfg.Parallelism, maxParallelism)
	}
	switch {
	case cfg.MaxWrappedKeys == 0:
		cfg.MaxWrappedKeys = 3
	case cfg.MaxWrappedKeys < 0 || cfg.MaxWrappedKeys > MaxWrappedKeysFormat:
		return nil, fmt.Errorf("envelope: Config.MaxWrappedKeys %d is outside [1, %d]", cfg.MaxWrappedKeys, MaxWrappedKeysFormat)
	}
	switch {
	case cfg.Suite == 0:
		cfg.Suite = SuiteAES256GCMHKDFCommit
	case !cfg.Suite.known():
		return nil, fmt.Errorf("envelope: Config.Suite %d is not a suite of format version 1", uint16(cfg.Suite))
	}
	if err := validTrust(&cfg); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg}
	c.cfg.Keys = slices.Clone(cfg.Keys)
	c.cfg.Decrypters = slices.Clone(cfg.Decrypters)
	c.cfg.AllowedKeys = slices.Clone(cfg.AllowedKeys)
	c.cfg.RequiredContext = maps.Clone(cfg.RequiredContext)
	if d := cfg.Discovery; d != nil {
		c.cfg.Discovery = &DiscoveryFilter{Accounts: slices.Clone(d.Accounts)}
	}
	if !cfg.DisableCache {
		c.cache = cfg.Cache
		if c.cache == nil {
			var err error
			if c.cache, err = keycache.New(keycache.Config{}); err != nil {
				return nil, err
			}
		}
	}
	for _, k := range cfg.Keys {
		c.clients = append(c.clients, k.KMS)
	}
	c.clients = append(c.clients, cfg.Decrypters...)
	seq := clientSeq.Add(1)
	for i, k := range c.clients {
		c.ids = append(c.ids, cacheIdentity(k, seq, i))
	}
	keys := make([]string, len(cfg.Keys))
	for i, k := range cfg.Keys {
		keys[i] = string(appendIDField(appendIDField(nil, c.ids[i]), k.KeyID))
	}
	c.encID = string(encIDPrefix(cfg.Suite, cfg.Partition, keys))
	return c, nil
}

// cacheIdentity names the identity of the KMS client k for cache ids.
func cacheIdentity(k KMS, seq uint64, i int) string {
	if ci, ok := k.(CacheIdentifier); ok {
		if id := ci.CacheIdentity(); id != "" {
			return "id:" + id
		}
	}
	return "client:" + strconv.FormatUint(seq, 10) + "/" + strconv.Itoa(i) + "/" + k.Region()
}

// validTrust checks the key trust configuration.
func validTrust(cfg *Config) error {
	for i, p := range cfg.AllowedKeys {
		if err := validKeyPattern(p); err != nil {
			return &KeyPatternError{Where: "Config.AllowedKeys[" + strconv.Itoa(i) + "]", Pattern: p, Reason: err.Error()}
		}
	}
	if d := cfg.Discovery; d != nil {
		if len(d.Accounts) == 0 {
			return errors.New(`envelope: Config.Discovery.Accounts: name the accounts whose keys to trust, or "*" for any account`)
		}
		for i, a := range d.Accounts {
			if a != "*" && (a == "" || strings.ContainsFunc(a, func(r rune) bool { return r < '0' || r > '9' })) {
				return fmt.Errorf("envelope: Config.Discovery.Accounts[%d] %s: want an account id (digits) or \"*\"", i, strconv.QuoteToASCII(safeKey(a)))
			}
		}
	}
	for k, v := range cfg.RequiredContext {
		if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return &ContextError{Key: safeKey(k), Reason: "Config.RequiredContext: keys must be non-empty and keys and values valid UTF-8"}
		}
	}
	return nil
}

// Cache returns the data-key cache, or nil when caching is disabled.
func (c *Client) Cache() *keycache.Cache { return c.cache }

// FrameSize returns the frame size of messages this client writes.
func (c *Client) FrameSize() int { return c.cfg.FrameSize }

// Encrypt encrypts plaintext into a new message bound to the encryption
// context ec (which may be nil). ec is authenticated in the message and sent
// to KMS with the data key; it is not secret.
func (c *Client) Encrypt(ctx context.Context, plaintext []byte, ec map[string]string) ([]byte, error) {
	return c.AppendEncrypt(ctx, nil, plaintext, ec)
}

// AppendEncrypt is Encrypt appending the message to dst, like
// cipher.AEAD.Seal; reusing dst avoids an allocation per message.
//
// To reuse plaintext's storage for the encrypted output, use plaintext[:0]
// as dst. Otherwise, the remaining capacity of dst must not overlap
// plaintext. (As crypto/cipher states it for Seal. An overlap other than
// exactly that one fails with ErrInvalidBufferOverlap, before anything is
// written.) In place, the message is written over plaintext when dst has
// the capacity for it; otherwise it goes to a new buffer and plaintext is
// left as it was.
func (c *Client) AppendEncrypt(ctx context.Context, dst, plaintext []byte, ec map[string]string) ([]byte, error) {
	exact, err := spareAlias(dst, plaintext)
	if err != nil {
		return nil, err
	}
	fs := c.cfg.FrameSize
	frames := uint64(len(plaintext)/fs) + 1
	var m message
	if err := c.startMessage(ctx, &m, ec, uint64(len(plaintext))); err != nil {
		return nil, err
	}
	hl := m.headerLen()
	if frames > maxFrames { // frame maxFrames-1 would be full, so not final
		return nil, errFrameLimit(maxFrames-1, int64(hl)+int64(maxFrames-1)*int64(fs+tagSize))
	}
	start, n := len(dst), hl+len(plaintext)+int(frames)*tagSize
	if !exact || cap(dst)-start < n {
		// Distinct buffers (grow allocates one if dst is too small, and
		// then plaintext, even if dst aliased it, is only read).
		dst = grow(dst, n)
		dst = m.appendHeader(dst)
		if p := c.oneShotParallelism(len(plaintext), fs); p > 1 {
			return sealBodyParallel(dst, m.keys, fs, plaintext, p), nil
		}
		return sealBody(dst, m.keys, fs, plaintext), nil
	}
	// In place: out[:len(plaintext)] is plaintext. Every frame's output
	// lies at or after its input (the header comes first and each frame
	// grows by a tag), so working from the last frame down, each frame's
	// plaintext is moved to its place and sealed there before anything
	// overwrites an earlier frame's input; the header goes in last.
	out := dst[start : start+n]
	full, last := fs+tagSize, len(plaintext)/fs
	for i := last; i >= 0; i-- {
		in, k := i*fs, fs
		if i == last {
			k = len(plaintext) - in
		}
		o := hl + i*full
		copy(out[o:o+k], out[in:in+k])
		m.keys.sealFrame(out[o:o], uint64(i), i == last, out[o:o+k])
	}
	m.appendHeader(dst[:start])
	return dst[:start+n], nil
}

// sealBody appends the frames of plaintext.
func sealBody(dst []byte, mk *messageKeys, fs int, plaintext []byte) []byte {
	var i uint64
	for ; len(plaintext) >= fs; i++ {
		dst = mk.sealFrame(dst, i, false, plaintext[:fs])
		plaintext = plaintext[fs:]
	}
	return mk.sealFrame(dst, i, true, plaintext)
}

// sealBodyParallel is sealBody on p goroutines; dst has room for the
// whole body and does not overlap plaintext. Frame i goes to its place
// i*(fs+tagSize) after dst's end.
func sealBodyParallel(dst []byte, mk *messageKeys, fs int, plaintext []byte, p int) []byte {
	start, frames, full := len(dst), len(plaintext)/fs+1, fs+tagSize
	out := dst[:start+len(plaintext)+frames*tagSize]
	forFrames(frames, p, func(i int, nonce *[12]byte) bool {
		in, o := plaintext[i*fs:], out[start+i*full:start+i*full]
		final := i == frames-1
		if !final {
			in = in[:fs]
		}
		mk.sealFrameWith(nonce, o, uint64(i), final, in)
		return true
	})
	return out
}

// openFramesParallel opens the frames of body into out (len(out) is their
// plaintext length) on p goroutines and returns the lowest failing frame,
// or -1. A function of its own, so that the serial path's variables do not
// escape with the closure.
func openFramesParallel(out, body []byte, mk *messageKeys, fs, frames, p int) int {
	full := fs + tagSize
	return forFrames(frames, p, func(i int, nonce *[12]byte) bool {
		in := body[i*full:]
		final := i == frames-1
		if !final {
			in = in[:full]
		}
		_, err := mk.openFrameWith(nonce, out[i*fs:i*fs], uint64(i), final, in)
		return err == nil
	})
}

// grow returns dst with capacity for n more bytes.
func grow(dst []byte, n int) []byte {
	if dst != nil && cap(dst)-len(dst) >= n {
		return dst
	}
	out := make([]byte, len(dst), len(dst)+n)
	copy(out, dst)
	return out
}

// message is the state of one message being written.
type message struct {
	// id is the message's cache id, Client.encID ‖ encoded context. It is
	// built in buf, so a one-shot message on the stack allocates nothing for
	// it, or in big when it does not fit. (A slice into buf is never stored
	// in the message itself: that would move every message to the heap.)
	buf      [256]byte
	big      []byte
	idLen    int
	ctxStart int          // the encoded context is id[ctxStart:]
	keys     *messageKeys // on the heap of its own: the AEAD's interface calls leak it
	msgID    [messageIDSize]byte
	state    *keyState // the data key's, while deriving
	wrapped  []byte    // encoded wrapped-key section
	fs       int
	suite    Suite
	handle   keycache.Handle // the cache entry, to charge late-known bytes
	cached   bool
	err      error
}

// charge adds n plaintext bytes to the cache entry's usage.
func (m *message) charge(n uint64) {
	if m.cached {
		m.handle.AddBytes(n)
	}
}

// cacheID is the message's cache id.
func (m *message) cacheID() []byte {
	if m.big != nil {
		return m.big
	}
	return m.buf[:m.idLen]
}

// ctxBytes is the message's encoded context.
func (m *message) ctxBytes() []byte { return m.cacheID()[m.ctxStart:] }

func (m *message) headerLen() int {
	return fixedHeaderSize + len(m.ctxBytes()) + commitmentSize + tagSize + len(m.wrapped)
}

func (m *message) appendHeader(dst []byte) []byte {
	start := len(dst)
	dst = appendHeaderPrefix(dst, m.suite, &m.msgID, m.fs, m.ctxBytes())
	dst = append(dst, m.keys.commitment[:]...)
	dst = m.keys.headerTag(dst, dst[start:])
	return append(dst, m.wrapped...)
}

// derive is the cache callback that derives the message keys.
func (m *message) derive(schedule []byte) {
	m.err = deriveFor(m.suite, m.keys, schedule, m.state, &m.msgID)
}

// idBatch is how many message ids one crypto/rand read fills: a getrandom
// call costs about a tenth of a 1 KiB message.
const idBatch = 32

// randomIDs is crypto/rand output not yet used as a message id.
type randomIDs struct {
	b   [idBatch * messageIDSize]byte
	off int // b[off:] is unused
}

// idPool holds buffers of random ids. A buffer taken from the pool belongs
// to one goroutine until it is put back, and each id's bytes are wiped as
// they are taken, so no id is ever handed out twice; a buffer the pool
// drops loses only unused randomness.
var idPool = sync.Pool{New: func() any { return &randomIDs{off: idBatch * messageIDSize} }}

// newMessageID fills id with fresh crypto/rand bytes.
func newMessageID(id *[messageIDSize]byte) error {
	r := idPool.Get().(*randomIDs)
	defer idPool.Put(r)
	if r.off == len(r.b) {
		if _, err := rand.Read(r.b[:]); err != nil {
			return err
		}
		r.off = 0
	}
	copy(id[:], r.b[r.off:])
	clear(r.b[r.off : r.off+messageIDSize])
	r.off += messageIDSize
	return nil
}

// maxRetiredRetries bounds how often a message retries a cache entry that
// was retired under it; each retry fetches or finds a fresh entry.
const maxRetiredRetries = 3

// startMessage obtains encryption materials for a message bound to ec and
// derives the message keys into m.
func (c *Client) startMessage(ctx context.Context, m *message, ec map[string]string, n uint64) error {
	// The cache id, with the encoded context at its end, goes into m's own
	// buffer when it fits: no allocation.
	id, err := appendContext(append(m.buf[:0], c.encID...), ec)
	if err != nil {
		return err
	}
	if len(id) > len(m.buf) {
		m.big = append([]byte(nil), id...)
	}
	m.idLen, m.ctxStart, m.fs, m.suite = len(id), len(c.encID), c.cfg.FrameSize, c.cfg.Suite
	m.keys = new(messageKeys)
	if err := newMessageID(&m.msgID); err != nil {
		return err
	}
	// uncached gives the message a data key of its own, from KMS.
	uncached := func() error {
		mat, err := c.generate(ctx, ec)
		if err != nil {
			return err
		}
		m.state = mat.Aux.(*keyState)
		m.derive(mat.Key.Bytes())
		mat.Key.Wipe()
		m.wrapped, m.state = m.state.wrapped, nil
		return m.err
	}
	if c.cache == nil {
		return uncached()
	}
	for attempt := 0; ; attempt++ {
		h, ok := c.cache.LookupEncryption(m.cacheID(), n)
		if !ok {
			// Only a miss builds the fetch closure (it escapes into the
			// cache's shared fetch) and the id string, so a hit allocates
			// nothing here.
			fetch := func(fctx context.Context) (*keycache.Materials, error) { return c.generate(fctx, ec) }
			if h, err = c.cache.GetEncryption(ctx, string(m.cacheID()), n, fetch); err != nil {
				if errors.Is(err, keycache.ErrMessageTooLarge) {
					// No cache entry may protect n bytes (n > the cache's
					// MaxBytes): the message gets an uncached data key, as a
					// stream of the same bytes ends up with its own key
					// after crossing MaxBytes. Nothing was fetched or
					// charged for it.
					return uncached()
				}
				return err
			}
		}
		// The entry may be retired (and its key wiped) between Get and use
		// by another message crossing a limit; then get a fresh one. Its
		// keyed HMAC is used only inside WithKey, so a retired entry serves
		// no further message.
		m.state = h.Aux().(*keyState)
		werr := h.WithKey(m.derive)
		m.wrapped, m.state = m.state.wrapped, nil
		if werr != nil {
			if errors.Is(werr, keycache.ErrRetired) && attempt < maxRetiredRetries {
				continue
			}
			return werr
		}
		m.handle, m.cached = h, true
		return m.err
	}
}

// generate makes a data key with the first wrapping key and wraps it with
// the others.
func (c *Client) generate(ctx context.Context, ec map[string]string) (*keycache.Materials, error) {
	dk, wrapped, err := c.generateDataKey(ctx, ec, c.cfg.Suite.DataKeySize())
	if err != nil {
		return nil, err
	}
	defer dk.Wipe()
	section, err := encodeWrappedKeys(wrapped)
	if err != nil {
		return nil, err
	}
	return materials(c.cfg.Suite, dk, section)
}

// generateDataKey makes a data key of size bytes with the first wrapping
// key (KMS GenerateDataKey) and wraps it with the others (KMS Encrypt),
// all under ec. The caller wipes the data key.
func (c *Client) generateDataKey(ctx context.Context, ec map[string]string, size int) (kmsclient.Sensitive, []WrappedKey, error) {
	first := c.cfg.Keys[0]
	out, err := first.KMS.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: first.KeyID, NumberOfBytes: size, EncryptionContext: ec})
	if err != nil {
		return nil, nil, fmt.Errorf("envelope: generating a data key with %s: %w", first.KeyID, err)
	}
	fail := func(err error) (kmsclient.Sensitive, []WrappedKey, error) {
		out.Plaintext.Wipe()
		return nil, nil, err
	}
	if len(out.Plaintext) != size {
		return fail(fmt.Errorf("envelope: KMS returned a %d-byte data key, want %d", len(out.Plaintext), size))
	}
	arn, err := c.wrappingKeyARN(ctx, first, out.KeyID)
	if err != nil {
		return fail(err)
	}
	c.learn(arn)
	wrapped := []WrappedKey{{Provider: ProviderAliyunKMS, KeyARN: arn, Blob: out.CiphertextBlob}}
	for _, k := range c.cfg.Keys[1:] {
		enc, err := k.KMS.Encrypt(ctx, &kmsclient.EncryptInput{KeyID: k.KeyID, Plaintext: out.Plaintext, EncryptionContext: ec})
		if err != nil {
			return fail(fmt.Errorf("envelope: wrapping the data key with %s: %w", k.KeyID, err))
		}
		arn, err := c.wrappingKeyARN(ctx, k, enc.KeyID)
		if err != nil {
			return fail(err)
		}
		c.learn(arn)
		wrapped = append(wrapped, WrappedKey{Provider: ProviderAliyunKMS, KeyARN: arn, Blob: enc.CiphertextBlob})
	}
	return out.Plaintext, wrapped, nil
}

// materials caches the schedule of a data key (PRK ‖ commitment) of suite
// s in its place, with its keyState: messages need only those, so the data
// key itself is wiped at once. wrapped is the encoded wrapped-key section
// for encryption materials, nil for decryption.
func materials(s Suite, dataKey, wrapped []byte) (*keycache.Materials, error) {
	schedule, err := scheduleFor(s, dataKey)
	if err != nil {
		return nil, err
	}
	defer clear(schedule)
	var st *keyState
	if s == SuiteAES256GCMHKDFCommit {
		st = newKeyState(schedule, wrapped)
	} else {
		st = &keyState{wrapped: wrapped} // no cloneable HMAC-SM3: see deriveSM4Keys
	}
	return &keycache.Materials{Key: keycache.NewKey(schedule), Aux: st}, nil
}

// Decrypt authenticates and decrypts a message.
func (c *Client) Decrypt(ctx context.Context, msg []byte, opts ...DecryptOption) ([]byte, error) {
	return c.AppendDecrypt(ctx, nil, msg, opts...)
}

// AppendDecrypt is Decrypt appending the plaintext to dst, like
// cipher.AEAD.Open. On error it returns nil, and any plaintext already
// written to dst's spare capacity is zeroed: nothing unauthenticated is
// released.
//
// To reuse msg's storage for the decrypted output, use msg[:0] as dst.
// Otherwise, the remaining capacity of dst must not overlap msg. (As
// crypto/cipher states it for Open. An overlap other than exactly that one
// fails with ErrInvalidBufferOverlap, before anything is written.) In
// place, the plaintext is written over msg; if a frame then fails, msg's
// storage (dst's spare capacity) is zeroed, as it would be for any dst.
func (c *Client) AppendDecrypt(ctx context.Context, dst, msg []byte, opts ...DecryptOption) ([]byte, error) {
	if _, err := spareAlias(dst, msg); err != nil {
		return nil, err
	}
	// The context map is built only if KMS must be called (a cache miss).
	// The header, its wrapped key and the message keys share one
	// allocation.
	op := new(opening)
	h := &op.h
	if err := parseHeaderInto(h, op.wk[:], &source{b: msg}, false, c.internARN); err != nil {
		return nil, err
	}
	mk, err := c.openHeaderInto(ctx, h, opts, &op.mk)
	if err != nil {
		return nil, err
	}
	return openBodyP(dst, msg[h.length:], mk, h.FrameSize, int64(h.length), c.oneShotParallelism(len(msg)-h.length, h.FrameSize))
}

// opening is what one decryption needs, allocated together: the parsed
// header, room for its wrapped key (messages usually carry one), and the
// message keys.
type opening struct {
	h  Header
	wk [1]WrappedKey
	mk messageKeys
}

// openBody appends the plaintext of the frames in body, which starts at
// message offset off. Nothing is appended unless every frame authenticates.
//
// dst's spare capacity may start at or before body and overlap it (in-place
// decryption: AppendDecrypt allows only the start of the message): each
// frame's output then lies at or before its input, so each frame is opened
// where it is and its plaintext moved down to its place, front to back,
// never overwriting a frame not yet opened. Any other overlap is refused.
func openBody(dst, body []byte, mk *messageKeys, fs int, off int64) ([]byte, error) {
	return openBodyP(dst, body, mk, fs, off, 1)
}

// openBodyP is openBody opening frames on up to p goroutines when the
// output does not overlap body (in place stays serial: each frame's output
// overwrites an earlier frame's input). Every frame is opened into its
// place before any is released; the error is that of the lowest frame
// that fails, as on the serial path.
func openBodyP(dst, body []byte, mk *messageKeys, fs int, off int64, p int) ([]byte, error) {
	full := fs + tagSize
	frames := len(body)/full + 1
	if uint64(frames) > maxFrames { // frame maxFrames-1 is full, so not final
		return nil, errFrameLimit(maxFrames-1, off+int64(maxFrames-1)*int64(full))
	}
	start := len(dst)
	dst = grow(dst, max(0, len(body)-frames*tagSize))
	inPlace, err := outputAtOrBefore(dst[start:cap(dst)], body)
	if err != nil {
		return nil, err
	}
	fail := func(i uint64, off int64, kind error) ([]byte, error) {
		clear(dst[start:cap(dst)]) // GCM may have written unauthenticated bytes
		return nil, &FrameError{Frame: i, Offset: off, Err: kind}
	}
	if p > 1 && !inPlace {
		if len(body)%full < tagSize {
			return fail(uint64(len(body)/full), off+int64(len(body)/full)*int64(full), ErrTruncated)
		}
		out := dst[start : start+len(body)-frames*tagSize]
		if bad := openFramesParallel(out, body, mk, fs, frames, p); bad >= 0 {
			return fail(uint64(bad), off+int64(bad)*int64(full), ErrAuthentication)
		}
		return dst[:start+len(out)], nil
	}
	var i uint64
	for ; len(body) >= full; i++ {
		if inPlace {
			pt, err := mk.openFrame(body[:0], i, false, body[:full])
			if err != nil {
				return fail(i, off, ErrAuthentication)
			}
			dst = append(dst, pt...) // a move down (append copies as memmove)
		} else {
			out, err := mk.openFrame(dst, i, false, body[:full])
			if err != nil {
				return fail(i, off, ErrAuthentication)
			}
			dst = out
		}
		body = body[full:]
		off += int64(full)
	}
	if len(body) < tagSize {
		return fail(i, off, ErrTruncated)
	}
	if inPlace {
		pt, err := mk.openFrame(body[:0], i, true, body)
		if err != nil {
			return fail(i, off, ErrAuthentication)
		}
		return append(dst, pt...), nil
	}
	out, err := mk.openFrame(dst, i, true, body)
	if err != nil {
		return fail(i, off, ErrAuthentication)
	}
	return out, nil
}

// openHeader checks the message's policy constraints, unwraps its data key,
// verifies the commitment and header tag, and returns the message keys.
func (c *Client) openHeader(ctx context.Context, h *Header, opts []DecryptOption) (*messageKeys, error) {
	return c.openHeaderInto(ctx, h, opts, nil)
}

// openHeaderInto is openHeader deriving the keys into mk (nil: a new one).
func (c *Client) openHeaderInto(ctx context.Context, h *Header, opts []DecryptOption, mk *messageKeys) (*messageKeys, error) {
	o, err := c.requirements(h, opts)
	if err != nil {
		return nil, err
	}
	defer o.release()
	return c.authenticateInto(ctx, h, o, nil, mk)
}

// authenticate tries the wrapped keys of h in order: the first that
// unwraps (provider, key trust, the key KMS used, the commitment) and whose
// keys verify the header tag, and for which use (if not nil) succeeds,
// gives the message keys. Decrypt and Rewrap share it, so that Rewrap never
// acts on a wrapped key Decrypt would not accept. o (nil when the call has
// no options) holds the call's requirements.
func (c *Client) authenticate(ctx context.Context, h *Header, o *decryptOptions, use func(WrappedKey) error) (*messageKeys, error) {
	return c.authenticateInto(ctx, h, o, use, nil)
}

// authenticateInto is authenticate deriving into mk (nil: a new one); each
// wrapped key tried overwrites it.
func (c *Client) authenticateInto(ctx context.Context, h *Header, o *decryptOptions, use func(WrappedKey) error, mk *messageKeys) (*messageKeys, error) {
	if mk == nil {
		mk = new(messageKeys)
	}
	if len(h.WrappedKeys) > c.cfg.MaxWrappedKeys {
		return nil, fmt.Errorf("%w: the message has %d, the limit is %d", ErrTooManyWrappedKeys, len(h.WrappedKeys), c.cfg.MaxWrappedKeys)
	}
	var attempts []UnwrapAttempt
	for _, wk := range h.WrappedKeys {
		err := c.unwrap(ctx, h, wk, o, mk)
		if err == nil && !mk.verifyHeader(h.authed, h.tag) {
			// The data key is the committed one, so a bad tag means the
			// header itself was modified: no other wrapped key can help.
			return nil, &FormatError{Offset: len(h.authed), Field: "header tag", Reason: "header authentication failed", Err: ErrAuthentication}
		}
		if err == nil && use != nil {
			err = use(wk)
		}
		if err == nil {
			return mk, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		attempts = append(attempts, UnwrapAttempt{KeyARN: wk.KeyARN, Err: err})
	}
	return nil, &UnwrapError{Attempts: attempts}
}

// unwrap obtains the data key of one wrapped key and derives and checks the
// message keys into mk.
func (c *Client) unwrap(ctx context.Context, h *Header, wk WrappedKey, o *decryptOptions, mk *messageKeys) error {
	if wk.Provider != ProviderAliyunKMS {
		return fmt.Errorf("unknown key provider %s", strconv.QuoteToASCII(safeKey(wk.Provider)))
	}
	region, _, keyID, ok := splitKeyARN(wk.KeyARN)
	if !ok {
		return errors.New("not a KMS key ARN")
	}
	if ok, why := c.trusted(ctx, wk.KeyARN, o); !ok {
		return errors.New(why)
	}
	i := c.clientIndex(region)
	if i < 0 {
		return fmt.Errorf("no KMS client for region %s", strconv.QuoteToASCII(safeKey(region)))
	}
	k := c.clients[i]
	var derr error
	var st *keyState
	derive := func(schedule []byte) { derr = keysForHeader(mk, h, schedule, st) }
	if c.cache == nil {
		h.ensureContext()
		mat, err := c.unwrapWithKMS(ctx, k, h.Suite, h.Context, wk, keyID)
		if err != nil {
			return err
		}
		st = mat.Aux.(*keyState)
		derive(mat.Key.Bytes())
		mat.Key.Wipe()
	} else {
		// Built on the stack when it fits; a string only on a miss. The
		// id names the identity that unwraps (unless the user shares
		// decrypted keys), so a data key one identity obtained from KMS is
		// never served to another.
		ident := c.ids[i]
		if c.cfg.ShareDecryptedKeys {
			ident = ""
		}
		var buf [512]byte
		id := decID(buf[:0], h.Suite, c.cfg.Partition, ident, wk.KeyARN, wk.Blob, h.ctxBytes)
		for attempt := 0; ; attempt++ {
			hd, ok := c.cache.LookupDecryption(id)
			if !ok {
				// Only a miss builds the fetch closure and the context
				// map KMS needs (here, before the fetch may run detached).
				// The fetch may outlive this call (it is shared and
				// survives the caller's cancellation), so it must not read
				// the caller's message: the blob is copied.
				h.ensureContext()
				ec, fwk, suite := h.Context, wk, h.Suite
				fwk.Blob = bytes.Clone(wk.Blob)
				fetch := func(fctx context.Context) (*keycache.Materials, error) {
					return c.unwrapWithKMS(fctx, k, suite, ec, fwk, keyID)
				}
				var err error
				if hd, err = c.cache.GetDecryption(ctx, string(id), fetch); err != nil {
					return err
				}
			}
			st = hd.Aux().(*keyState)
			if werr := hd.WithKey(derive); werr != nil {
				if errors.Is(werr, keycache.ErrRetired) && attempt < maxRetiredRetries {
					continue
				}
				return werr
			}
			break
		}
	}
	if derr != nil {
		return derr
	}
	// KMS confirmed a key without its account (DescribeKey not permitted):
	// trust must hold for what was confirmed, not only for the label.
	// The pass of this Client's trust is cached in the entry (trustedBy);
	// the call's RequireKeys are checked every time.
	if st.arn != wk.KeyARN {
		ok := st.trustedBy.Load() == c
		if !ok {
			if ok, _ = c.trusted(ctx, st.arn, nil); ok {
				st.trustedBy.Store(c)
			}
		}
		if !ok || o != nil && !o.keysAllowed(st.arn) {
			if err := c.confirmAccount(ctx, k, wk.KeyARN, st.arn); err != nil {
				return err
			}
		}
	}
	return nil
}

// unwrapWithKMS asks KMS to decrypt a wrapped key and checks that the key
// KMS used is the one the message names; the materials record the ARN as
// confirmed.
func (c *Client) unwrapWithKMS(ctx context.Context, k KMS, suite Suite, ec map[string]string, wk WrappedKey, keyID string) (*keycache.Materials, error) {
	out, err := k.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: wk.Blob, EncryptionContext: ec, KeyARN: wk.KeyARN})
	if err != nil {
		return nil, err
	}
	defer out.Plaintext.Wipe()
	confirmed, err := c.checkUnwrappingKey(wk.KeyARN, keyID, out.KeyID)
	if err != nil {
		return nil, err
	}
	if len(out.Plaintext) != suite.DataKeySize() {
		return nil, ErrCommitmentMismatch
	}
	mat, err := materials(suite, out.Plaintext, nil)
	if err != nil {
		return nil, err
	}
	mat.Aux.(*keyState).arn = confirmed
	return mat, nil
}

// keysForHeader checks the key commitment of h against the schedule of a
// data key (in constant time) and only then derives the message keys into
// mk.
func keysForHeader(mk *messageKeys, h *Header, schedule []byte, st *keyState) error {
	if len(schedule) != scheduleSize || subtle.ConstantTimeCompare(schedule[32:], h.commitment) != 1 {
		return ErrCommitmentMismatch
	}
	return deriveFor(h.Suite, mk, schedule, st, &h.MessageID)
}

// clientIndex returns the index in c.clients of the first client of
// region, or -1.
func (c *Client) clientIndex(region string) int {
	for i, k := range c.clients {
		if k.Region() == region {
			return i
		}
	}
	return -1
}
