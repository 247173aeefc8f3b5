package envelope

// DecryptOption configures one Decrypt, NewReader or Rewrap call.
type DecryptOption func(*decryptOptions)

type decryptOptions struct {
	required map[string]string
}

// RequireContext makes decryption fail with ErrContextMismatch unless the
// message's encryption context has every pair of required (it may have
// more). Check this for every tenant- or purpose-bound message: the
// context is what stops a message made for one tenant being accepted for
// another.
func RequireContext(required map[string]string) DecryptOption {
	return func(o *decryptOptions) { o.required = required }
}

func applyDecryptOptions(opts []DecryptOption) *decryptOptions {
	o := new(decryptOptions)
	for _, opt := range opts {
		opt(o)
	}
	return o
}
