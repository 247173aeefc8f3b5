package secrets

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// FileCache keeps an encrypted copy of fetched secret values in a
// directory, so that a process restarted while KMS is unreachable still
// starts: see [Config.FileCache]. It is opt-in; nothing is written to disk
// without it.
//
// Each cached (secret, stage or version) is one file, named by an HMAC of
// the cache key (the directory listing does not show secret names), holding
// the value sealed with AES-256-GCM under a key derived from the one the
// user supplies; the additional data binds the file to its cache key, so a
// file that is modified, truncated or moved to another name fails to open
// and is ignored (an [EventFileCacheError], a warning) rather than served.
// Files are written with mode 0600 in a directory created 0700, through a
// temporary file renamed into place (atomic on POSIX file systems), and
// removed, every stage and version of the secret, when KMS answers that
// the secret is denied or gone. File names are <HMAC of the secret
// name>-<HMAC of the cache key>.sec: the listing does not show names, but
// shows which files belong to the same secret.
//
// A value read from the file is served marked [Value.Stale] and
// [Value.FromFileCache], only when the Source failed with a retryable
// error (KMS unavailable, throttling, network) and nothing is cached in
// memory for it (a cold start: a restart, or an entry evicted; not a value
// whose stale window ran out), only for secrets whose StaleIfError is not
// negative, and only if it was fetched less than min(StaleIfError,
// FileCacheOptions.MaxAge) ago: the file never serves a value longer than
// the secret's stale window allows. It lives in memory until that limit,
// and KMS is asked again after the usual retry delay.
//
// The directory must be the effective user's own, not a symbolic link, and
// closed to group and others (NewFileCache refuses it otherwise); cache
// files that are not regular files (links, FIFOs) are refused. Anyone who
// can write the directory anyway (the same user, root) can replay an older
// file of the same key, or restore one removed after a denial: it
// authenticates, and is served during an outage within its age limit.
// Encryption protects the values, not their freshness.
type FileCache struct {
	dir     string
	aead    cipher.AEAD
	nameKey []byte
	maxAge  time.Duration
	now     func() time.Time
}

// FileCacheOptions configure [NewFileCache].
type FileCacheOptions struct {
	// Dir is the directory of the cache files, created with mode 0700 if
	// missing. Required. Give each process (or identity) its own.
	Dir string
	// Key is a 32-byte secret from which the encryption and file-name keys
	// are derived (HKDF-SHA256). Required. Keep it out of the directory:
	// from an environment variable, a KMS-independent secret store or a
	// hardware-bound source; see [DeriveFileCacheKey].
	Key []byte
	// MaxAge bounds the age of a value served from the file (since it was
	// fetched from KMS), on top of each secret's StaleIfError: a value is
	// served for at most min(StaleIfError, MaxAge). Zero means 24 hours.
	MaxAge time.Duration
	// Now is the clock, for tests; nil means time.Now.
	Now func() time.Time
}

// ErrFileCache is what file-cache errors unwrap to.
var ErrFileCache = errors.New("secrets: file cache")

const (
	fileMagic         = "KESC1\n" // kmsenvelope secrets cache, format 1
	maxFileCacheBytes = 1 << 20   // a file larger than this is refused unread
	defaultFileMaxAge = 24 * time.Hour
	fileCacheKeyLen   = 32
)

// NewFileCache returns a FileCache over o.Dir, creating the directory.
func NewFileCache(o FileCacheOptions) (*FileCache, error) {
	if o.Dir == "" {
		return nil, &ConfigError{"FileCache.Dir", "is required"}
	}
	if len(o.Key) != fileCacheKeyLen {
		return nil, &ConfigError{"FileCache.Key", fmt.Sprintf("must be %d bytes, got %d", fileCacheKeyLen, len(o.Key))}
	}
	if o.MaxAge < 0 {
		return nil, &ConfigError{"FileCache.MaxAge", "must not be negative"}
	}
	if o.MaxAge == 0 {
		o.MaxAge = defaultFileMaxAge
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	encKey, err := hkdf.Key(sha256.New, o.Key, nil, "kmsenvelope secrets file cache v1 encryption", 32)
	if err != nil {
		return nil, fmt.Errorf("%w: deriving the key: %w", ErrFileCache, err)
	}
	nameKey, err := hkdf.Key(sha256.New, o.Key, nil, "kmsenvelope secrets file cache v1 names", 32)
	if err != nil {
		return nil, fmt.Errorf("%w: deriving the key: %w", ErrFileCache, err)
	}
	block, err := aes.NewCipher(encKey)
	clear(encKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFileCache, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFileCache, err)
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: creating %s: %w", ErrFileCache, o.Dir, err)
	}
	if err := checkDir(o.Dir); err != nil {
		return nil, err
	}
	return &FileCache{dir: o.Dir, aead: aead, nameKey: nameKey, maxAge: o.MaxAge, now: o.Now}, nil
}

// checkDir refuses a cache directory that others could tamper with: a
// symbolic link, not a directory, not owned by the effective user (Unix),
// or open to its group or others (mode&0o077 != 0). It is not made
// private silently: a directory shared by mistake is better reported.
func checkDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrFileCache, err)
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return &ConfigError{"FileCache.Dir", fmt.Sprintf("%s is a symbolic link; give the directory itself", dir)}
	case !fi.IsDir():
		return &ConfigError{"FileCache.Dir", fmt.Sprintf("%s is not a directory", dir)}
	case fi.Mode().Perm()&0o077 != 0:
		return &ConfigError{"FileCache.Dir", fmt.Sprintf("%s has mode %v; it must not be open to group or others (chmod 700)", dir, fi.Mode().Perm())}
	}
	return checkDirOwner(dir, fi)
}

// fileClockSkew is how far in the future a cache file's fetch time may be
// (clock adjustments) before the file is refused.
const fileClockSkew = time.Minute

// DeriveFileCacheKey derives a [FileCacheOptions.Key] from a high-entropy
// secret of at least 16 bytes (a random token the deployment provides) and
// a context string (say the service name), with HKDF-SHA256. It is not a
// password hash: a human-chosen password needs a slow KDF (scrypt,
// argon2id) first.
func DeriveFileCacheKey(secret []byte, context string) ([]byte, error) {
	if len(secret) < 16 {
		return nil, &ConfigError{"FileCache.Key", fmt.Sprintf("source secret must be at least 16 bytes, got %d", len(secret))}
	}
	return hkdf.Key(sha256.New, secret, []byte(context), "kmsenvelope secrets file cache key", fileCacheKeyLen)
}

// fileRecord is the sealed content of one cache file.
type fileRecord struct {
	Key               string    `json:"k"`
	Name              string    `json:"n"`
	VersionID         string    `json:"v"`
	Stages            []string  `json:"st,omitempty"`
	Binary            bool      `json:"b,omitempty"`
	Data              []byte    `json:"d"`
	SecretType        string    `json:"t,omitempty"`
	ExtendedConfig    string    `json:"x,omitempty"`
	CreateTime        time.Time `json:"ct,omitzero"`
	LastRotationDate  time.Time `json:"lr,omitzero"`
	NextRotationDate  time.Time `json:"nr,omitzero"`
	AutomaticRotation string    `json:"ar,omitempty"`
	RotationInterval  string    `json:"ri,omitempty"`
	FetchedAt         time.Time `json:"f"`
}

// path returns the file of cache key key: <N>-<K>.sec, where N is an HMAC
// of the secret name and K one of the whole key, so that every file of a
// secret (each stage and version) can be found to remove them together.
// The listing shows which files belong to the same secret, not its name.
func (fc *FileCache) path(key string) string {
	name, _, _ := strings.Cut(key, "\x00")
	return filepath.Join(fc.dir, fc.namePrefix(name)+"-"+fc.mac("key\x00" + key)[:40]+".sec")
}

// namePrefix is the part of the file names of every key of the secret name.
func (fc *FileCache) namePrefix(name string) string { return fc.mac("name\x00" + name)[:32] }

func (fc *FileCache) mac(s string) string {
	m := hmac.New(sha256.New, fc.nameKey)
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil))
}

func (fc *FileCache) aad(key string) []byte { return append([]byte(fileMagic), key...) }

// store seals v under key and writes it atomically.
func (fc *FileCache) store(key string, v *Value, fetchedAt time.Time) error {
	m := v.m()
	rec := fileRecord{
		Key: key, Name: v.name, VersionID: v.versionID, Stages: v.stages, Binary: v.binary, Data: v.data.bytes(),
		SecretType: m.secretType, ExtendedConfig: m.extendedConfig, CreateTime: m.createTime,
		LastRotationDate: m.lastRotation, NextRotationDate: m.nextRotation,
		AutomaticRotation: m.automaticRotation, RotationInterval: m.rotationInterval, FetchedAt: fetchedAt,
	}
	pt, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("%w: encoding: %w", ErrFileCache, err)
	}
	defer clear(pt)
	nonce := make([]byte, fc.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("%w: %w", ErrFileCache, err)
	}
	out := make([]byte, 0, len(fileMagic)+len(nonce)+len(pt)+fc.aead.Overhead())
	out = append(out, fileMagic...)
	out = append(out, nonce...)
	out = fc.aead.Seal(out, nonce, pt, fc.aad(key))
	if len(out) > maxFileCacheBytes {
		return fmt.Errorf("%w: a value of %d bytes is too large to cache on disk", ErrFileCache, len(v.data.bytes()))
	}
	return writeAtomic(fc.path(key), out)
}

// writeAtomic writes data to a temporary file (mode 0600) in path's
// directory, syncs it and renames it to path.
func writeAtomic(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrFileCache, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o600); err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("%w: writing: %w", ErrFileCache, err)
	}
	if d, derr := os.Open(filepath.Dir(path)); derr == nil { // persist the rename; best effort
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// errFileAbsent means no file is cached for the key (not an error to
// report).
var errFileAbsent = errors.New("secrets: no file cached")

// load opens the file of key. It returns errFileAbsent when there is none
// or it is too old, and an error naming what is wrong (never its content)
// when it does not open.
func (fc *FileCache) load(key string) (*fileRecord, error) {
	path := fc.path(key)
	f, err := os.OpenFile(path, openFlags, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errFileAbsent
	}
	if err != nil {
		return nil, fmt.Errorf("%w: opening %s: %w", ErrFileCache, filepath.Base(path), err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrFileCache, filepath.Base(path))
	}
	raw, err := io.ReadAll(io.LimitReader(f, maxFileCacheBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %w", ErrFileCache, filepath.Base(path), err)
	}
	ns := fc.aead.NonceSize()
	switch {
	case len(raw) > maxFileCacheBytes:
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrFileCache, filepath.Base(path), maxFileCacheBytes)
	case len(raw) < len(fileMagic)+ns+fc.aead.Overhead() || !bytes.HasPrefix(raw, []byte(fileMagic)):
		return nil, fmt.Errorf("%w: %s is not a cache file of this format", ErrFileCache, filepath.Base(path))
	}
	body := raw[len(fileMagic):]
	pt, err := fc.aead.Open(nil, body[:ns], body[ns:], fc.aad(key))
	if err != nil {
		return nil, fmt.Errorf("%w: %s does not authenticate (tampered with, or sealed under another key)", ErrFileCache, filepath.Base(path))
	}
	defer clear(pt)
	var rec fileRecord
	if err := json.Unmarshal(pt, &rec); err != nil || rec.Key != key || rec.VersionID == "" {
		return nil, fmt.Errorf("%w: %s holds an invalid record", ErrFileCache, filepath.Base(path))
	}
	switch age := fc.now().Sub(rec.FetchedAt); {
	case age < -fileClockSkew:
		return nil, fmt.Errorf("%w: %s was fetched %v in the future", ErrFileCache, filepath.Base(path), -age)
	case age > fc.maxAge:
		return nil, errFileAbsent
	}
	return &rec, nil
}

// fileStore writes v, fetched by the request seq, to the file cache,
// reporting a failure. It writes nothing if a denial or not-found of the
// secret newer than seq was recorded, or a newer value is cached: writes
// and removals are serialised (fileMu), so an older write cannot land
// after a newer removal.
func (c *Client) fileStore(key string, v *Value, seq uint64) {
	if v.m().fromFile {
		return
	}
	c.fileMu.Lock()
	defer c.fileMu.Unlock()
	c.mu.Lock()
	e := (*c.table.Load())[key]
	skip := c.revokedLocked(v.name, seq) || e == nil || e.seq > seq
	c.mu.Unlock()
	if skip {
		return
	}
	if err := c.cfg.FileCache.store(key, v, v.fetchedAt); err != nil {
		c.fileError("secrets: writing the file cache failed", v.name, err)
	}
}

// removeName deletes every file of the secret name (each stage and
// version), if any.
func (fc *FileCache) removeName(name string) error {
	files, err := filepath.Glob(filepath.Join(fc.dir, fc.namePrefix(name)+"-*.sec"))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrFileCache, err)
	}
	var errs []error
	for _, f := range files {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrFileCache, err)
	}
	return nil
}

// fileDeleteName removes every file of the secret name, reporting a
// failure.
func (c *Client) fileDeleteName(name string) {
	c.fileMu.Lock()
	defer c.fileMu.Unlock()
	if err := c.cfg.FileCache.removeName(name); err != nil {
		c.fileError("secrets: removing from the file cache failed", "", err)
	}
}

func (c *Client) fileError(msg, name string, err error) {
	c.emit(EventFileCacheError)
	if c.cfg.Logger != nil {
		attrs := []slog.Attr{slog.String("error", err.Error())}
		if name != "" {
			attrs = append(attrs, slog.String("name", name))
		}
		c.cfg.Logger.LogAttrs(context.Background(), slog.LevelWarn, msg, attrs...)
	}
}

// fileLoad reads key from the file cache after a retryable failure with
// nothing cached in memory, caches it (stale, expired now) and returns it
// marked stale; nil if there is nothing to serve.
func (c *Client) fileLoad(key string, req request, seq uint64, now time.Time) *Value {
	pol := c.policyFor(req.name)
	if pol.staleIfError < 0 {
		return nil // the secret is never served stale, so never from the file
	}
	rec, err := c.cfg.FileCache.load(key)
	if err != nil {
		if !errors.Is(err, errFileAbsent) {
			c.fileError("secrets: the file cache could not be read", req.name, err)
		}
		return nil
	}
	// The copy may be served for min(StaleIfError, MaxAge) after it was
	// fetched (load enforced MaxAge): no longer than the secret's stale
	// window would have kept it in memory.
	until := rec.FetchedAt.Add(min(pol.staleIfError, c.cfg.FileCache.maxAge))
	if rec.Name != req.name || !now.Before(until) {
		clear(rec.Data)
		return nil
	}
	v := &Value{
		name: rec.Name, versionID: rec.VersionID, stages: rec.Stages, binary: rec.Binary,
		data: newSecretBytes(rec.Data), fetchedAt: rec.FetchedAt,
		meta: &valueMeta{
			secretType: rec.SecretType, extendedConfig: rec.ExtendedConfig, createTime: rec.CreateTime,
			lastRotation: rec.LastRotationDate, nextRotation: rec.NextRotationDate,
			automaticRotation: rec.AutomaticRotation, rotationInterval: rec.RotationInterval, fromFile: true,
		},
	}
	clear(rec.Data)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	if e := (*c.table.Load())[key]; e != nil || c.revokedLocked(req.name, seq) {
		return nil // something was cached or denied meanwhile; let the caller retry
	}
	e := c.entryLocked(key, req, now)
	e.snap.Store(&snapshot{val: v, staleFor: until.Sub(now), expires: now})
	e.seq, e.failures, e.retryAt, e.staleVal = seq, 1, now.Add(retryDelay(1)), nil
	e.used.Store(true) // have the refresher try KMS again after retryAt
	c.emit(EventFileCacheLoad)
	return c.staleValueLocked(e)
}
