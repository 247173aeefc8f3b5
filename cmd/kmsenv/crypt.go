package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kmsenvelope/kmsenvelope"
	"github.com/kmsenvelope/kmsenvelope/envelope"
	"github.com/kmsenvelope/kmsenvelope/internal/safetext"
)

func (a *app) encryptCommand() *cobra.Command {
	var cf cloudFlags
	var of outputFlags
	var keyID string
	var ctxPairs []string
	var frameSize int
	c := &cobra.Command{
		Use:   "encrypt --key-id KEY [--context KEY=VALUE]... [-r] [-o PATH] [flags] FILE|DIR|-...",
		Short: "Encrypt files, directories (-r) or stdin into kmsenvelope messages",
		Long: `Encrypts each input into an envelope message (package envelope's format: a
KMS-wrapped data key, AES-256-GCM frames, key commitment) under --key-id,
bound to the encryption context given with --context (decrypt must name it).

FILE is written to FILE.kmsenv (--suffix), or under --output DIR with its
relative path; - reads stdin and writes stdout unless --output names a file.
Existing outputs are never overwritten without --force. Each output is
written to a temporary file in the target directory and renamed into place
only when complete, so a failure leaves no partial file. Memory stays bounded
by the frame size whatever the input size.`,
		Example: `  kmsenv encrypt --region cn-hangzhou --key-id alias/backups --context app=billing report.csv
  tar c data | kmsenv encrypt --key-id alias/backups --context app=billing - > data.tar.kmsenv
  kmsenv encrypt -r --key-id alias/backups --context app=billing --output /backup/enc ./data`,
		Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, inputs []string) error {
			if keyID == "" {
				return usagef("encrypt: missing --key-id (the KMS key id, ARN or alias/<name> that wraps data keys)")
			}
			ec, err := parseECFlags(ctxPairs)
			if err != nil {
				return err
			}
			var env func(*envelope.Config)
			if frameSize != 0 {
				if frameSize < envelope.MinFrameSize || frameSize > envelope.MaxFrameSize {
					return usagef("--frame-size %d: expected %d to %d bytes", frameSize, envelope.MinFrameSize, envelope.MaxFrameSize)
				}
				env = func(e *envelope.Config) { e.FrameSize = frameSize }
			}
			return a.runOnClient(c, inputs, &of, &cf, "encrypt", planEncrypt, keyID, env, func(client *kmsenvelope.Client) (stepFunc, error) {
				return func(ctx context.Context, j job, dst io.Writer, src io.Reader, m *fileMeta) error {
					cw := &countingWriter{w: dst}
					hc := &headerCapture{w: cw}
					w, err := client.NewWriter(ctx, hc, ec)
					if err != nil {
						return err
					}
					n, err := io.Copy(w, src)
					if err != nil {
						return err
					}
					if err := w.Close(); err != nil {
						return err
					}
					m.PlaintextBytes = &n
					m.CiphertextBytes = cw.n
					if h, err := envelope.ParseHeader(hc.buf); err == nil {
						describeHeader(m, h)
					}
					return nil
				}, nil
			})
		},
	}
	fs := c.Flags()
	a.registerCloudFlags(fs, &cf)
	of.register(fs, true)
	fs.StringVar(&keyID, "key-id", "", "KMS `KEY` that wraps the data keys: key id, ARN or alias/<name> (required)")
	fs.StringArrayVar(&ctxPairs, "context", nil, "encryption context pair `KEY=VALUE` the messages are bound to (repeatable)")
	fs.IntVar(&frameSize, "frame-size", 0, "plaintext `BYTES` per frame (64 to 4194304; default 65536)")
	return c
}

func (a *app) decryptCommand() *cobra.Command {
	var cf cloudFlags
	var of outputFlags
	var keyID string
	var cx contextFlags
	var tf trustFlags
	c := &cobra.Command{
		Use:   "decrypt (--context KEY=VALUE... | --no-context-check) (--key-id KEY | --discovery-account ACCOUNT) [flags] FILE|DIR|-...",
		Short: "Decrypt kmsenvelope messages from files, directories (-r) or stdin",
		Long: `Decrypts each input, which must carry every --context pair (the encryption
context it was made with; it may have more). Without --context, decrypt
refuses to run unless --no-context-check says that any context will do: a
message made for another tenant or purpose is never accepted by omission.

Key trust is the library's (package envelope): strict by default, a message
decrypts only under --key-id or a key matching an --allowed-key pattern;
--discovery-account ACCOUNT instead trusts any key of that account (or *)
that KMS unwraps for the caller. A message under any other key is refused
before it is sent to KMS.

FILE.kmsenv is written to FILE (other names get .decrypted), or under
--output DIR; - reads stdin and writes stdout. Outputs are written to a
temporary file and renamed into place only after the last frame
authenticated, so tampering anywhere (even in the last frame) leaves no
output file and exits 1. To stdout, plaintext is released frame by frame as
each authenticates: on failure what was written is incomplete, and the exit
status is 1.`,
		Example: `  kmsenv decrypt --key-id alias/backups --context app=billing report.csv.kmsenv
  kmsenv decrypt --discovery-account 1234567890123456 --context app=billing - < data.tar.kmsenv | tar x`,
		Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, inputs []string) error {
			opts, _, err := cx.options("decrypt")
			if err != nil {
				return err
			}
			if keyID == "" && len(tf.discovery) == 0 {
				return usagef("decrypt: missing --key-id (the key messages must be under; --allowed-key adds patterns), or --discovery-account ACCOUNT to trust any key of an account")
			}
			jobs, notes, err := plan(inputs, &of, planDecrypt)
			if err != nil {
				return err
			}
			cfg, err := a.config(&cf)
			if err != nil {
				return err
			}
			cfg.Envelope = tf.apply
			ctx, cancel := signalContext(c)
			defer cancel()
			clients := map[string]*kmsenvelope.Client{}
			defer func() {
				for _, cl := range clients {
					cl.Close()
				}
			}()
			clientFor := func(h *envelope.Header) (*kmsenvelope.Client, error) {
				k, discovered := keyID, false
				if k == "" {
					var ok bool
					if k, ok = tf.discoveryKey(h); !ok {
						return nil, fmt.Errorf("%w: no wrapped key of the message is under a --discovery-account account", envelope.ErrNoUsableKey)
					}
					discovered = true
				}
				if cl := clients[k]; cl != nil {
					return cl, nil
				}
				kc := cfg
				kc.KeyID = k
				if discovered {
					// The ARN came from the message's unauthenticated header:
					// it only routes the call; trust rests on --discovery-account
					// with the account KMS confirms (DistrustKeys).
					kc.Envelope = func(ec *envelope.Config) { tf.apply(ec); ec.DistrustKeys = true }
				}
				cl, err := a.newClient(ctx, kc)
				if err != nil {
					return nil, err
				}
				clients[k] = cl
				return cl, nil
			}
			return a.runJobs(ctx, "decrypt", jobs, notes, &of, func(ctx context.Context, j job, dst io.Writer, src io.Reader, m *fileMeta) error {
				cr := &countingReader{r: src}
				var hbuf bytes.Buffer
				h, err := envelope.ReadHeader(io.TeeReader(cr, &hbuf))
				if err != nil {
					return err
				}
				describeHeader(m, h)
				client, err := clientFor(h)
				if err != nil {
					return err
				}
				r, err := client.NewReader(ctx, io.MultiReader(&hbuf, cr), opts...)
				if err != nil {
					return err
				}
				n, err := io.Copy(dst, r)
				if err != nil {
					return err
				}
				m.PlaintextBytes = &n
				m.CiphertextBytes = cr.n
				return nil
			})
		},
	}
	fs := c.Flags()
	a.registerCloudFlags(fs, &cf)
	of.register(fs, true)
	cx.register(fs)
	tf.register(fs)
	fs.StringVar(&keyID, "key-id", "", "trust messages under this KMS `KEY` (id, ARN or alias/<name>)")
	return c
}

func (a *app) rewrapCommand() *cobra.Command {
	var cf cloudFlags
	var of outputFlags
	var keyID string
	var cx contextFlags
	var tf trustFlags
	c := &cobra.Command{
		Use:   "rewrap --key-id NEW (--context KEY=VALUE... | --no-context-check) (--allowed-key PATTERN | --discovery-account ACCOUNT) [flags] FILE...",
		Short: "Move messages to another KMS key in place, atomically (the data and header stay as they are)",
		Long: `Rewraps each message's data key under --key-id NEW with KMS ReEncrypt
(envelope.Client.RewrapStream): the authenticated header and the body are
copied unchanged, so the plaintext is never decrypted. The message is checked
as decrypt checks it first: its encryption context must carry every
--context pair (or --no-context-check), and its current key must be trusted
(--allowed-key patterns, --discovery-account, or NEW itself). Each file is
rewritten through a temporary file and renamed over the original only when
complete; - rewraps stdin to stdout. The body's frames are not verified.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, inputs []string) error {
			if keyID == "" {
				return usagef("rewrap: missing --key-id NEW (the key to move the messages to)")
			}
			opts, _, err := cx.options("rewrap")
			if err != nil {
				return err
			}
			return a.runOnClient(c, inputs, &of, &cf, "rewrap", planRewrap, keyID, tf.apply, func(client *kmsenvelope.Client) (stepFunc, error) {
				return func(ctx context.Context, j job, dst io.Writer, src io.Reader, m *fileMeta) error {
					cw := &countingWriter{w: dst}
					hc := &headerCapture{w: cw}
					if _, err := client.RewrapStream(ctx, hc, src, keyID, opts...); err != nil {
						return err
					}
					m.CiphertextBytes = cw.n
					if h, err := envelope.ParseHeader(hc.buf); err == nil {
						describeHeader(m, h)
					}
					return nil
				}, nil
			})
		},
	}
	fs := c.Flags()
	a.registerCloudFlags(fs, &cf)
	of.register(fs, false)
	cx.register(fs)
	tf.register(fs)
	fs.StringVar(&keyID, "key-id", "", "KMS `KEY` to move the messages to: id, ARN or alias/<name> (required)")
	return c
}

// runOnClient is the prelude encrypt, rewrap and migrate share: it plans
// the jobs for inputs, builds one Client on keyID (env, if set, adjusting
// its envelope configuration), asks newStep for the step to run per job,
// and runs every job; the Client is closed when they are done.
func (a *app) runOnClient(c *cobra.Command, inputs []string, of *outputFlags, cf *cloudFlags, mode string, pm planMode,
	keyID string, env func(*envelope.Config), newStep func(*kmsenvelope.Client) (stepFunc, error)) error {
	jobs, notes, err := plan(inputs, of, pm)
	if err != nil {
		return err
	}
	cfg, err := a.config(cf)
	if err != nil {
		return err
	}
	cfg.KeyID, cfg.Envelope = keyID, env
	ctx, cancel := signalContext(c)
	defer cancel()
	client, err := a.newClient(ctx, cfg)
	if err != nil {
		return err
	}
	defer client.Close()
	step, err := newStep(client)
	if err != nil {
		return err
	}
	return a.runJobs(ctx, mode, jobs, notes, of, step)
}

// describeHeader fills the metadata a header gives.
func describeHeader(m *fileMeta, h *envelope.Header) {
	m.MessageID = hex.EncodeToString(h.MessageID[:])
	m.FrameSize = h.FrameSize
	m.Context = h.Context
	m.KeyARNs = m.KeyARNs[:0]
	for _, wk := range h.WrappedKeys {
		m.KeyARNs = append(m.KeyARNs, wk.KeyARN)
	}
}

// stepFunc processes one job from src to dst, filling its metadata.
type stepFunc func(ctx context.Context, j job, dst io.Writer, src io.Reader, m *fileMeta) error

// runJobs runs every job in turn: a failed one is reported and the others
// still run. The exit status is the worst: 2 when an input was unreadable,
// 1 when any other step failed.
func (a *app) runJobs(ctx context.Context, mode string, jobs []job, notes []string, of *outputFlags, step stepFunc) error {
	meta, err := a.openMeta(of, jobs)
	if err != nil {
		return err
	}
	if !of.quiet {
		for _, n := range notes {
			fmt.Fprintf(a.stderr, "kmsenv: %s\n", n)
		}
	}
	worst := exitOK
	for _, j := range jobs {
		m := &fileMeta{Mode: mode, Input: j.in, Output: j.out}
		if err := a.runJob(ctx, j, of, step, m); err != nil {
			code := exitFor(err)
			worst = max(worst, code)
			m.Error = describe(err)
			fmt.Fprintf(a.stderr, "kmsenv: %s %s: %s%s\n", mode, displayName(j.in), describe(err), hint(err))
		}
		meta.write(m)
		if ctx.Err() != nil {
			break
		}
	}
	if err := meta.close(); err != nil {
		fmt.Fprintf(a.stderr, "kmsenv: --metadata-output: %v\n", err)
		worst = max(worst, exitFail)
	}
	return status(worst)
}

// runJob runs one job: output to stdout is streamed; to a file it goes
// through an atomicFile, committed only when step succeeded.
func (a *app) runJob(ctx context.Context, j job, of *outputFlags, step stepFunc, m *fileMeta) error {
	src, size, closeIn, err := a.openInput(j.in)
	if err != nil {
		return err
	}
	defer closeIn()
	src, finish := a.withProgress(src, size, displayName(j.in), of.quiet)
	defer finish()
	src = ctxReader{ctx: ctx, r: &readErrMarker{r: src, path: j.in}}
	if j.out == "-" {
		bw := bufio.NewWriterSize(a.stdout, 64<<10)
		if err := step(ctx, j, bw, src, m); err != nil {
			bw.Flush()
			return err
		}
		return bw.Flush()
	}
	var mode fs.FileMode = 0o600 // plaintext and ciphertext alike: the caller may widen it
	if j.inPlace {
		if st, err := os.Stat(j.in); err == nil {
			mode = st.Mode().Perm()
		}
	}
	af, err := createAtomic(j.out, of.force || j.inPlace, mode)
	if err != nil {
		return err
	}
	defer af.abort()
	bw := bufio.NewWriterSize(af, 64<<10)
	if err := step(ctx, j, bw, src, m); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return af.commit()
}

// readErrMarker marks errors of the input itself, so that they count as
// unreadable input (exit 2) rather than as a failed check.
type readErrMarker struct {
	r    io.Reader
	path string
}

func (r *readErrMarker) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		err = &inputError{Path: r.path, Err: err}
	}
	return n, err
}

func (a *app) inspectCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "inspect [--json] FILE|-...",
		Short: "Print the header of kmsenvelope messages, without any KMS call",
		Long: `Prints each message's header: format version, suite, message id, frame
size, encryption context and the KMS keys its data key is wrapped under.
Nothing is decrypted and KMS is not called, so the header is not
authenticated: decrypt is what proves it. Exit 1 when an input is not a
well-formed message, 2 when it cannot be read.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, inputs []string) error {
			if len(inputs) == 0 {
				return usagef("inspect: no FILE or - given")
			}
			worst := exitOK
			for _, in := range inputs {
				if err := a.inspectOne(in, asJSON); err != nil {
					worst = max(worst, exitFor(err))
					fmt.Fprintf(a.stderr, "kmsenv: inspect %s: %v\n", displayName(in), err)
				}
			}
			return status(worst)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per message")
	return c
}

// headerJSON is inspect's --json object.
type headerJSON struct {
	File        string            `json:"file"`
	Version     int               `json:"version"`
	Suite       string            `json:"suite"`
	MessageID   string            `json:"messageId"`
	FrameSize   int               `json:"frameSize"`
	Context     map[string]string `json:"context"`
	WrappedKeys []wrappedKeyJSON  `json:"wrappedKeys"`
	HeaderBytes int               `json:"headerBytes"`
}

type wrappedKeyJSON struct {
	Provider  string `json:"provider"`
	KeyARN    string `json:"keyArn"`
	BlobBytes int    `json:"blobBytes"`
}

func (a *app) inspectOne(in string, asJSON bool) error {
	src, _, closeIn, err := a.openInput(in)
	if err != nil {
		return err
	}
	defer closeIn()
	h, err := envelope.ReadHeader(&readErrMarker{r: src, path: in})
	if err != nil {
		var ie *inputError
		if errors.As(err, &ie) {
			return ie
		}
		return err
	}
	out := headerJSON{File: in, Version: h.Version, Suite: h.Suite.String(), MessageID: hex.EncodeToString(h.MessageID[:]),
		FrameSize: h.FrameSize, Context: h.Context, HeaderBytes: h.Len()}
	if out.Context == nil {
		out.Context = map[string]string{}
	}
	for _, wk := range h.WrappedKeys {
		out.WrappedKeys = append(out.WrappedKeys, wrappedKeyJSON{wk.Provider, wk.KeyARN, len(wk.Blob)})
	}
	if asJSON {
		line, _ := json.Marshal(out)
		fmt.Fprintf(a.stdout, "%s\n", line)
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s:\n", safetext.Field(displayName(in)))
	fmt.Fprintf(&b, "  version:     %d\n  suite:       %s\n  message id:  %s\n  frame size:  %d\n", out.Version, out.Suite, out.MessageID, out.FrameSize)
	if len(h.Context) == 0 {
		fmt.Fprintf(&b, "  context:     (none)\n")
	} else {
		fmt.Fprintf(&b, "  context:\n")
		for _, k := range sortedKeys(h.Context) {
			fmt.Fprintf(&b, "    %q: %q\n", k, h.Context[k])
		}
	}
	fmt.Fprintf(&b, "  wrapped keys:\n")
	for _, wk := range out.WrappedKeys {
		// From the unauthenticated header: escaped, so a crafted message
		// cannot put terminal escapes or fake lines on the screen.
		fmt.Fprintf(&b, "    %s %s (%d-byte blob)\n", safetext.Field(wk.Provider), safetext.Field(wk.KeyARN), wk.BlobBytes)
	}
	fmt.Fprintf(&b, "  header:      %d bytes\n", out.HeaderBytes)
	fmt.Fprint(a.stdout, b.String())
	return nil
}
