package envelope

import (
	"strconv"
	"sync"
)

// DecryptOption constrains one Decrypt, NewReader, Rewrap or RewrapStream
// call. Options only ever add requirements: each one narrows what the call
// accepts, none replaces or loosens another or the Client's own
// configuration ([Config.RequiredContext], the key trust of
// [Config.AllowedKeys] and [Config.Discovery]). Requirements that no message
// could meet (the same context key required with two values) make the call
// fail with [ErrContextConflict] before anything is sent to KMS.
type DecryptOption func(*decryptOptions)

type decryptOptions struct {
	// required are the maps of required context: the Client's, then each
	// RequireContext's, in reqBuf when they fit. They are only read, during
	// the call, and not kept after it; their union is required, and a key
	// two of them give different values is a conflict (err).
	required []map[string]string
	reqBuf   [4]map[string]string
	// keySets are the RequireKeys calls: a wrapped key is used only if
	// its ARN matches a pattern of every set.
	keySets [][]string
	// err is the first invalid option (a conflict, a bad pattern), which
	// fails the call.
	err error
}

// RequireContext makes decryption fail with [ErrContextMismatch] unless the
// message's encryption context has every pair of required (it may have
// more). Check this for every tenant- or purpose-bound message: the context
// is what stops a message made for one tenant being accepted for another.
//
// Several RequireContext options add up: all their pairs are required. A key
// required with two different values (by two options, or by an option and
// [Config.RequiredContext]) fails the call with [ErrContextConflict].
func RequireContext(required map[string]string) DecryptOption {
	return func(o *decryptOptions) {
		o.require(required)
	}
}

// RequireKeys makes decryption use only a wrapped key whose KMS key ARN
// matches one of patterns (RAM wildcard syntax, see [Config.AllowedKeys]),
// on top of the Client's key trust: it narrows which keys are accepted and
// never admits a key the Client would not. Several RequireKeys options add
// up: a key must match each of them. A bad pattern fails the call with a
// [*KeyPatternError].
func RequireKeys(patterns ...string) DecryptOption {
	return func(o *decryptOptions) {
		for _, p := range patterns {
			if err := validKeyPattern(p); err != nil && o.err == nil {
				o.err = &KeyPatternError{Where: "RequireKeys", Pattern: p, Reason: err.Error()}
			}
		}
		// Copied: the option may be kept and reused while the caller
		// changes its slice.
		o.keySets = append(o.keySets, append([]string(nil), patterns...))
	}
}

// require adds a map of required pairs, noting a conflict with one already
// required. It copies nothing.
func (o *decryptOptions) require(m map[string]string) {
	if len(m) == 0 {
		return
	}
	if o.err == nil {
		for k, v := range m {
			for _, prev := range o.required {
				if have, ok := prev[k]; ok && have != v {
					o.err = &ContextError{Key: safeKey(k), Reason: "is required with two different values", kind: ErrContextConflict}
				}
			}
		}
	}
	if o.required == nil {
		o.required = o.reqBuf[:0]
	}
	o.required = append(o.required, m)
}

// optionsPool recycles decryptOptions: a call's options are applied into
// one and it is released when the call is done with it.
var optionsPool = sync.Pool{New: func() any { return new(decryptOptions) }}

// release returns o to the pool; o must not be used afterwards. nil is
// fine.
func (o *decryptOptions) release() {
	if o == nil {
		return
	}
	*o = decryptOptions{}
	optionsPool.Put(o)
}

// keysAllowed reports whether arn matches every RequireKeys set.
func (o *decryptOptions) keysAllowed(arn string) bool {
	for _, set := range o.keySets {
		if !matchAny(set, arn) {
			return false
		}
	}
	return true
}

// applyDecryptOptions folds the Client's required context and the call's
// options into one set of requirements. It returns nil, allocating
// nothing, when there are neither.
func (c *Client) applyDecryptOptions(opts []DecryptOption) (*decryptOptions, error) {
	if len(opts) == 0 {
		return nil, nil
	}
	o := optionsPool.Get().(*decryptOptions)
	o.require(c.cfg.RequiredContext)
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	return o, o.err
}

// requirements folds the call's options with the Client's configuration
// and checks the context requirements against the header h; the result
// (nil when the call has no options) carries the key requirements on.
func (c *Client) requirements(h *Header, opts []DecryptOption) (*decryptOptions, error) {
	o, err := c.applyDecryptOptions(opts)
	if err != nil {
		return nil, err
	}
	if o == nil {
		return nil, checkRequired(h.ctxBytes, c.cfg.RequiredContext)
	}
	for _, m := range o.required {
		if err := checkRequired(h.ctxBytes, m); err != nil {
			return o, err
		}
	}
	return o, nil
}

// checkRequired verifies that the encoded context section b holds every
// pair of required.
func checkRequired(b []byte, required map[string]string) error {
	for k, want := range required {
		got, ok := contextValue(b, k)
		if !ok {
			return &ContextError{Key: safeKey(k), Reason: "required but absent from the message", kind: ErrContextMismatch}
		}
		if string(got) != want {
			return &ContextError{Key: safeKey(k), Reason: "has a different value than required", kind: ErrContextMismatch}
		}
	}
	return nil
}

// KeyPatternError reports an invalid key ARN pattern in
// [Config.AllowedKeys] or [RequireKeys].
type KeyPatternError struct {
	Where   string // "Config.AllowedKeys[2]", "RequireKeys"
	Pattern string // the pattern, as given
	Reason  string
}

func (e *KeyPatternError) Error() string {
	p := e.Pattern
	if len(p) > 128 {
		p = p[:128]
	}
	return "envelope: " + e.Where + ": bad key pattern " + strconv.QuoteToASCII(p) + ": " + e.Reason
}

// Unwrap returns ErrBadKeyPattern.
func (e *KeyPatternError) Unwrap() error { return ErrBadKeyPattern }
