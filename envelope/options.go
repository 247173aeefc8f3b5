package envelope

import "strconv"

// DecryptOption constrains one Decrypt, NewReader, Rewrap or RewrapStream
// call. Options only ever add requirements: each one narrows what the call
// accepts, none replaces or loosens another or the Client's own
// configuration ([Config.RequiredContext], the key trust of
// [Config.AllowedKeys] and [Config.Discovery]). Requirements that no message
// could meet (the same context key required with two values) make the call
// fail with [ErrContextConflict] before anything is sent to KMS.
type DecryptOption func(*decryptOptions)

type decryptOptions struct {
	// required is the union of every RequireContext; it is never the
	// caller's map (which is not copied into, or kept).
	required map[string]string
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
		for k, v := range required {
			o.require(k, v)
		}
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

// require adds one required pair, noting a conflict with one already
// required.
func (o *decryptOptions) require(k, v string) {
	if o.required == nil {
		o.required = make(map[string]string)
	}
	if have, ok := o.required[k]; ok && have != v {
		if o.err == nil {
			o.err = &ContextError{Key: safeKey(k), Reason: "is required with two different values", kind: ErrContextConflict}
		}
		return
	}
	o.required[k] = v
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
	o := new(decryptOptions)
	for k, v := range c.cfg.RequiredContext {
		o.require(k, v)
	}
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
	required := c.cfg.RequiredContext
	if o != nil {
		required = o.required
	}
	return o, checkRequired(h.ctxBytes, required)
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
