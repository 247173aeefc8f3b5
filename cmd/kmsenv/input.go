package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// maxPolicyInput bounds every document the policy commands read (case
// files, policies, manifests): far above the largest policy KMS or RAM
// accepts (32 KiB for a key policy) and the shared case files (~70 KiB),
// small enough that a wrong argument (/dev/zero, a disk image) fails at
// once instead of exhausting memory.
const maxPolicyInput = 4 << 20

// errTooLarge is what reading an input past its limit unwraps to.
var errTooLarge = errors.New("input too large")

// inputError is an input that could not be read: missing, unreadable or
// over its size limit. Commands exit 2 on it.
type inputError struct {
	Path string
	Err  error
}

func (e *inputError) Error() string {
	if errors.Is(e.Err, errTooLarge) {
		return fmt.Sprintf("%s: %v", displayName(e.Path), e.Err)
	}
	var pe *os.PathError
	if errors.As(e.Err, &pe) {
		return pe.Error()
	}
	return fmt.Sprintf("%s: %v", displayName(e.Path), e.Err)
}

func (e *inputError) Unwrap() error { return e.Err }

// displayName is how a path appears in messages ("-" is stdin).
func displayName(path string) string {
	if path == "-" {
		return "<stdin>"
	}
	return path
}

// claimStdin records that what reads stdin; a second reader fails, since
// stdin can be read only once.
func (a *app) claimStdin(what string) error {
	if a.stdinUsed != "" {
		return usagef("%s: stdin (-) is already read by %s", what, a.stdinUsed)
	}
	a.stdinUsed = what
	return nil
}

// readInput reads a whole input, a file or "-" for stdin, through a limit
// of max bytes: memory never exceeds max+1 bytes whatever the input (a
// device, a pipe, a huge file), and past max it fails with errTooLarge.
func (a *app) readInput(path string, max int64) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		if err := a.claimStdin("-"); err != nil {
			return nil, &inputError{Path: path, Err: errors.New("stdin (-) may be given only once")}
		}
		r = a.stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, &inputError{Path: path, Err: err}
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.IsDir() {
			return nil, &inputError{Path: path, Err: errors.New("is a directory")}
		}
		r = f
	}
	data, err := readLimited(r, max)
	if err != nil {
		return nil, &inputError{Path: path, Err: err}
	}
	return data, nil
}

// readLimited reads r to its end, at most max bytes; one byte more fails
// with errTooLarge. The buffer grows with what was read, never with a
// length the input claims.
func readLimited(r io.Reader, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: more than %d bytes (the limit for this input)", errTooLarge, max)
	}
	return data, nil
}
