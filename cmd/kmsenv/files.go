package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/kmsenvelope/kmsenvelope/envelope/aliyunesdk"
)

// defaultSuffix names encrypted files: FILE becomes FILE.kmsenv, and
// decrypt strips it (a name without it gets ".decrypted" instead).
const defaultSuffix = ".kmsenv"

// job is one input and where its result goes ("-" is stdin or stdout).
type job struct {
	in, out string
	inPlace bool // rewrap: out is in, replaced atomically
}

// planMode says how names map between inputs and outputs.
type planMode int

const (
	planEncrypt planMode = iota // FILE -> FILE.kmsenv; -r takes files without the suffix
	planDecrypt                 // FILE.kmsenv -> FILE; -r takes files with the suffix
	planRewrap                  // FILE.kmsenv -> itself; -r takes files with the suffix
)

// outputFlags are the output-naming flags of encrypt and decrypt.
type outputFlags struct {
	recursive, force, quiet bool
	output, suffix          string
	metadataOut             string
}

func (of *outputFlags) register(fs interface {
	BoolVarP(*bool, string, string, bool, string)
	StringVarP(*string, string, string, string, string)
}, withOutput bool) {
	fs.BoolVarP(&of.recursive, "recursive", "r", false, "process the regular files of DIR arguments, recursively (symbolic links are skipped)")
	fs.BoolVarP(&of.quiet, "quiet", "q", false, "no progress bar and no notes on stderr (errors still go there)")
	fs.StringVarP(&of.metadataOut, "metadata-output", "", "", "write one JSON object per file (input, output, key ARNs, context, frame size, sizes) to `FILE`, or - for stdout")
	fs.StringVarP(&of.suffix, "suffix", "", defaultSuffix, "`SUFFIX` of encrypted file names")
	if withOutput {
		fs.BoolVarP(&of.force, "force", "f", false, "overwrite existing output files")
		fs.StringVarP(&of.output, "output", "o", "", "output `PATH`: a directory (outputs keep their relative paths), a file (one input), or - for stdout; default next to each input, stdout for stdin")
	}
}

// plan expands inputs (files, directories with -r, "-") into jobs, and
// checks the outputs: distinct, not an input, and, without --force, not
// existing. Skipped files are returned as notes.
func plan(inputs []string, of *outputFlags, mode planMode) (jobs []job, notes []string, err error) {
	if len(inputs) == 0 {
		return nil, nil, usagef("no FILE, DIR or - given")
	}
	if of.suffix == "" || strings.ContainsRune(of.suffix, filepath.Separator) {
		return nil, nil, usagef("--suffix %q: expected a non-empty file name suffix such as %s", of.suffix, defaultSuffix)
	}
	outDir := ""
	if of.output != "" && of.output != "-" {
		if st, err := os.Stat(of.output); err == nil && st.IsDir() {
			outDir = of.output
		}
	}
	type src struct{ path, rel string }
	var srcs []src
	for _, in := range inputs {
		if in == "-" {
			srcs = append(srcs, src{path: "-"})
			continue
		}
		st, err := os.Stat(in)
		if err != nil {
			return nil, nil, &inputError{Path: in, Err: err}
		}
		if !st.IsDir() {
			if !st.Mode().IsRegular() {
				return nil, nil, &inputError{Path: in, Err: errors.New("not a regular file")}
			}
			srcs = append(srcs, src{path: in, rel: filepath.Base(in)})
			continue
		}
		if !of.recursive {
			return nil, nil, usagef("%s is a directory (use -r to process the files in it)", in)
		}
		var found []src
		err = filepath.WalkDir(in, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return &inputError{Path: p, Err: err}
			}
			if d.IsDir() {
				return nil
			}
			if !d.Type().IsRegular() {
				notes = append(notes, fmt.Sprintf("skipped %s: not a regular file", p))
				return nil
			}
			has := strings.HasSuffix(d.Name(), of.suffix)
			if mode == planEncrypt && has {
				notes = append(notes, fmt.Sprintf("skipped %s: already has the suffix %s", p, of.suffix))
				return nil
			}
			if mode != planEncrypt && !has {
				notes = append(notes, fmt.Sprintf("skipped %s: no %s suffix", p, of.suffix))
				return nil
			}
			rel, err := filepath.Rel(in, p)
			if err != nil {
				return err
			}
			found = append(found, src{path: p, rel: filepath.Join(filepath.Base(filepath.Clean(in)), rel)})
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		srcs = append(srcs, found...)
	}
	stdinCount := 0
	for _, s := range srcs {
		if s.path == "-" {
			stdinCount++
		}
	}
	if stdinCount > 1 {
		return nil, nil, usagef("stdin (-) may be given only once")
	}
	single := len(srcs) == 1 && len(inputs) == 1 && !isDir(inputs[0])
	if of.output != "" && outDir == "" && !single && mode != planRewrap {
		if of.output == "-" {
			return nil, nil, usagef("--output -: stdout takes one input only")
		}
		return nil, nil, usagef("--output %s: with several inputs it must be an existing directory", of.output)
	}
	seen := map[string]string{}
	for _, s := range srcs {
		j := job{in: s.path}
		switch {
		case mode == planRewrap:
			j.out, j.inPlace = s.path, s.path != "-"
		case s.path == "-":
			j.out = "-"
			if of.output != "" {
				if outDir != "" {
					return nil, nil, usagef("--output %s is a directory: stdin needs an output file name, or - for stdout", of.output)
				}
				j.out = of.output
			}
		default:
			name := outName(s.rel, of.suffix, mode)
			switch {
			case outDir != "":
				j.out = filepath.Join(outDir, name)
			case of.output != "":
				j.out = of.output
			default:
				j.out = filepath.Join(filepath.Dir(s.path), filepath.Base(name))
			}
		}
		if j.out != "-" && !j.inPlace {
			if sameFile(j.in, j.out) {
				return nil, nil, usagef("%s: the output would overwrite the input", j.in)
			}
			if prev, dup := seen[j.out]; dup {
				return nil, nil, usagef("%s and %s would both be written to %s", prev, j.in, j.out)
			}
			seen[j.out] = j.in
			if !of.force {
				if _, err := os.Lstat(j.out); err == nil {
					return nil, nil, failf("%s exists; not overwriting it (use --force)", j.out)
				}
			}
		}
		jobs = append(jobs, j)
	}
	return jobs, notes, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func sameFile(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// outName maps an input's relative name to its output's.
func outName(rel, suffix string, mode planMode) string {
	if mode == planEncrypt {
		return rel + suffix
	}
	if strings.HasSuffix(rel, suffix) && len(filepath.Base(rel)) > len(suffix) {
		return strings.TrimSuffix(rel, suffix)
	}
	return rel + ".decrypted"
}

// atomicFile is an output written to a temporary file in the target's
// directory and moved into place only on commit, so that a failure at any
// point (a read error, tampering detected at the last frame, a signal)
// leaves no partial file: abort removes the temporary file.
type atomicFile struct {
	f       *os.File
	target  string
	replace bool
	done    bool
}

func createAtomic(target string, replace bool, mode fs.FileMode) (*atomicFile, error) {
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(target)+".kmsenv-tmp-*")
	if err != nil {
		return nil, err
	}
	if mode != 0 {
		_ = f.Chmod(mode)
	}
	return &atomicFile{f: f, target: target, replace: replace}, nil
}

func (af *atomicFile) Write(p []byte) (int, error) { return af.f.Write(p) }

// commit syncs the file and moves it into place. Without replace, an
// existing target is never overwritten, even one created since the plan
// was checked (a hard link fails on an existing name).
func (af *atomicFile) commit() error {
	if af.done {
		return errors.New("output already committed")
	}
	af.done = true
	tmp := af.f.Name()
	err := af.f.Sync()
	if cerr := af.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if af.replace {
		if err := os.Rename(tmp, af.target); err != nil {
			os.Remove(tmp)
			return err
		}
		return nil
	}
	err = os.Link(tmp, af.target)
	switch {
	case err == nil:
		return os.Remove(tmp)
	case errors.Is(err, fs.ErrExist):
		os.Remove(tmp)
		return fmt.Errorf("%s exists; not overwriting it (use --force)", af.target)
	}
	// no hard links here (some file systems): check, then rename
	if _, lerr := os.Lstat(af.target); lerr == nil {
		os.Remove(tmp)
		return fmt.Errorf("%s exists; not overwriting it (use --force)", af.target)
	}
	if err := os.Rename(tmp, af.target); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// abort removes the temporary file; after commit it does nothing.
func (af *atomicFile) abort() {
	if af.done {
		return
	}
	af.done = true
	af.f.Close()
	os.Remove(af.f.Name())
}

// fileMeta is one line of --metadata-output.
type fileMeta struct {
	Mode            string            `json:"mode"`
	Input           string            `json:"input"`
	Output          string            `json:"output,omitempty"`
	MessageID       string            `json:"messageId,omitempty"`
	KeyARNs         []string          `json:"keyArns,omitempty"`
	Context         map[string]string `json:"context,omitempty"`
	FrameSize       int               `json:"frameSize,omitempty"`
	PlaintextBytes  *int64            `json:"plaintextBytes,omitempty"`
	CiphertextBytes int64             `json:"ciphertextBytes"`
	// Legacy is migrate's report on the Alibaba Encryption SDK message.
	Legacy *aliyunesdk.Report `json:"legacy,omitempty"`
	Error  string             `json:"error,omitempty"`
}

// metaWriter writes --metadata-output lines; safe for concurrent use.
type metaWriter struct {
	mu  sync.Mutex
	w   *bufio.Writer
	c   io.Closer
	err error
}

func (a *app) openMeta(of *outputFlags, jobs []job) (*metaWriter, error) {
	switch of.metadataOut {
	case "":
		return nil, nil
	case "-":
		for _, j := range jobs {
			if j.out == "-" {
				return nil, usagef("--metadata-output - and the output both go to stdout")
			}
		}
		return &metaWriter{w: bufio.NewWriter(a.stdout)}, nil
	}
	// Opening it truncates it: it must be none of the files read or
	// written (encrypt --metadata-output x x would destroy x).
	for _, j := range jobs {
		if (j.in != "-" && sameFile(of.metadataOut, j.in)) || (j.out != "-" && sameFile(of.metadataOut, j.out)) {
			return nil, usagef("--metadata-output %s is also an input or output", of.metadataOut)
		}
	}
	f, err := os.OpenFile(of.metadataOut, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, usagef("--metadata-output: %v", err)
	}
	return &metaWriter{w: bufio.NewWriter(f), c: f}, nil
}

func (m *metaWriter) write(fm *fileMeta) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	line, _ := json.Marshal(fm)
	m.w.Write(line)
	m.w.WriteByte('\n')
	if err := m.w.Flush(); err != nil && m.err == nil {
		m.err = err
	}
}

func (m *metaWriter) close() error {
	if m == nil {
		return nil
	}
	err := m.w.Flush()
	if m.c != nil {
		if cerr := m.c.Close(); err == nil {
			err = cerr
		}
	}
	if m.err != nil {
		return m.err
	}
	return err
}

// countingWriter counts what passes to w.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// countingReader counts what is read from r.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// ctxReader fails reads once ctx is done, so that a signal stops a stream
// (the library's streams do not watch ctx) and its output is removed.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// headerCapture keeps the first bytes written through it (enough for any
// header), to describe a message just written without reading it back.
type headerCapture struct {
	w   io.Writer
	buf []byte
}

// maxHeaderBytes bounds a version 1 header: the fixed fields, an 8 KiB
// context and 16 wrapped keys of the largest sizes the format allows.
const maxHeaderBytes = 93 + 8192 + 1 + 16*(1+64+2+2048+2+4096)

func (h *headerCapture) Write(p []byte) (int, error) {
	if room := maxHeaderBytes - len(h.buf); room > 0 {
		h.buf = append(h.buf, p[:min(room, len(p))]...)
	}
	return h.w.Write(p)
}

// openInput opens a job's input: stdin or a file, with its size (-1 when
// unknown).
func (a *app) openInput(path string) (io.Reader, int64, func(), error) {
	if path == "-" {
		if err := a.claimStdin(path); err != nil {
			return nil, 0, nil, err
		}
		return a.stdin, -1, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, nil, &inputError{Path: path, Err: err}
	}
	size := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	return f, size, func() { f.Close() }, nil
}

// sortedKeys are a map's keys, sorted (for stable text output).
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
