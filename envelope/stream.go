package envelope

import (
	"context"
	"errors"
	"io"
	"sync"
)

// NewWriter returns a WriteCloser that encrypts what is written to it into a
// message on dst, holding at most one frame of plaintext in memory (with
// Config.Parallelism above 1, 4×Parallelism frames, sealed that many at a
// time on Parallelism goroutines and written in order). The
// header is written before NewWriter returns. Close must be called to write
// the final frame; without it the message is truncated and will not decrypt.
// Close does not close dst. ctx bounds the KMS calls NewWriter makes; the
// writer itself makes none and does not watch ctx.
//
// Each frame's plaintext is charged to the data key's cache entry as it is
// sealed, so a stream that takes the entry past keycache's MaxBytes retires
// it for later messages; the stream itself goes on with its own message key.
//
// The WriteCloser is safe for concurrent use: Write and Close are
// serialised (one at a time, each whole), so the message holds the bytes of
// each Write call contiguously, in the order the calls were serialised, and
// no frame number (the nonce) is ever used twice. Concurrent writers still
// get an unspecified order of their calls; give each its own message where
// order matters. dst is written only from inside Write and Close, one call
// at a time.
//
// A message has at most 2^32 frames; a Write that would need more fails
// with a *FrameError wrapping ErrTooLarge before the frame is sealed or
// written, and the writer fails from then on.
func (c *Client) NewWriter(ctx context.Context, dst io.Writer, ec map[string]string) (io.WriteCloser, error) {
	m := &message{}
	if err := c.startMessage(ctx, m, ec, 0); err != nil {
		return nil, err
	}
	w := &writer{m: m, dst: dst, buf: make([]byte, 0, m.fs+tagSize), hdr: int64(m.headerLen())}
	if p := c.parallelism(); p > 1 {
		n := p * streamBatch
		w.pw = &parallelWriter{p: p, n: n, stage: make([]byte, 0, n*m.fs), out: make([]byte, n*(m.fs+tagSize))}
	}
	if _, err := dst.Write(m.appendHeader(make([]byte, 0, m.headerLen()))); err != nil {
		return nil, err
	}
	return w, nil
}

type writer struct {
	// mu serialises Write and Close. Without it two goroutines could seal
	// two frames with one frame number, that is one nonce under one key:
	// a mutex, not a detector of concurrent use, because it costs an
	// uncontended lock per call (nothing next to sealing a frame), never
	// fails a correct program, and gives concurrent callers a defined
	// result (whole writes in some order) instead of a sporadic error.
	mu    sync.Mutex
	m     *message
	dst   io.Writer
	buf   []byte // pending plaintext, then the sealed frame in place
	frame uint64
	hdr   int64           // header length: the message offset of frame 0
	err   error           // sticky
	pw    *parallelWriter // nil: Config.Parallelism 1, the serial path
}

// parallelWriter stages up to p frames of plaintext and seals them at
// once on p goroutines, then writes them in order.
type parallelWriter struct {
	p     int    // goroutines
	n     int    // frames per batch
	stage []byte // staged plaintext, less than p full frames between calls
	out   []byte // p sealed frames
}

func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	if w.pw != nil {
		return w.writeParallel(p)
	}
	n := 0
	fs := w.m.fs
	for len(p) > 0 {
		if len(w.buf) == 0 && len(p) >= fs {
			// A whole frame is available: seal it straight from p into the
			// frame buffer, without staging the plaintext first.
			if err := w.seal(false, p[:fs]); err != nil {
				return n, err
			}
			p, n = p[fs:], n+fs
			continue
		}
		k := min(fs-len(w.buf), len(p))
		w.buf = append(w.buf, p[:k]...)
		p, n = p[k:], n+k
		if len(w.buf) == fs {
			// A full frame is never final: final frames are shorter.
			if err := w.flush(false); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// flush seals the staged plaintext in place and writes the frame.
func (w *writer) flush(final bool) error { return w.seal(final, w.buf) }

// seal seals plaintext (which may be w.buf itself) as the next frame into
// the frame buffer and writes it. The frame limit is checked first: a frame
// that can never be part of a message is neither sealed nor written.
func (w *writer) seal(final bool, plaintext []byte) error {
	if !frameFits(w.frame, final) {
		w.err = errFrameLimit(w.frame, w.hdr+int64(w.frame)*int64(w.m.fs+tagSize))
		return w.err
	}
	n := len(plaintext)
	sealed := w.m.keys.sealFrame(w.buf[:0], w.frame, final, plaintext)
	w.frame++
	w.m.charge(uint64(n)) // the data key has sealed n more bytes, written or not
	if _, err := w.dst.Write(sealed); err != nil {
		w.err = err
		return err
	}
	w.buf = w.buf[:0]
	return nil
}

// writeParallel is Write with batches of pw.n frames.
func (w *writer) writeParallel(p []byte) (int, error) {
	pw, fs := w.pw, w.m.fs
	batch := pw.n * fs
	n := 0
	for len(p) > 0 {
		if len(pw.stage) == 0 && len(p) >= batch {
			// Whole frames are available: seal them straight from p.
			if err := w.sealBatch(p[:batch], false); err != nil {
				return n, err
			}
			p, n = p[batch:], n+batch
			continue
		}
		k := min(batch-len(pw.stage), len(p))
		pw.stage = append(pw.stage, p[:k]...)
		p, n = p[k:], n+k
		if len(pw.stage) == batch {
			if err := w.sealBatch(pw.stage, false); err != nil {
				return n, err
			}
			pw.stage = pw.stage[:0]
		} else if whole := len(pw.stage) / fs; whole > 0 && !frameFits(w.frame+uint64(whole-1), false) {
			// A staged full frame can never be sent: fail now, as the
			// serial path does, after sending the frames before it.
			return n, w.sealBatch(pw.stage[:whole*fs], false)
		}
	}
	return n, nil
}

// sealBatch seals plaintext, whole frames (and, when final, the final
// frame after them: the rest, possibly empty), on up to pw.p goroutines,
// and writes them in order. As seal, it checks the frame limit first: the
// frames before one that does not fit are sealed and written, that one
// and those after it are not.
func (w *writer) sealBatch(plaintext []byte, final bool) error {
	pw, fs, full := w.pw, w.m.fs, w.m.fs+tagSize
	frames := len(plaintext) / fs
	if final {
		frames++
	}
	fit := frames
	for j := range frames {
		if !frameFits(w.frame+uint64(j), final && j == frames-1) {
			fit = j
			break
		}
	}
	size := 0
	forFrames(fit, pw.p, func(j int, nonce *[12]byte) bool {
		in := plaintext[j*fs:]
		last := final && j == frames-1
		if !last {
			in = in[:fs]
		}
		w.m.keys.sealFrameWith(nonce, pw.out[j*full:j*full], w.frame+uint64(j), last, in)
		return true
	})
	for j := range fit {
		if final && j == frames-1 {
			size += len(plaintext) - j*fs + tagSize
		} else {
			size += full
		}
	}
	w.frame += uint64(fit)
	w.m.charge(uint64(min(len(plaintext), fit*fs))) // sealed, written or not
	if size > 0 {
		if _, err := w.dst.Write(pw.out[:size]); err != nil {
			w.err = err
			return err
		}
	}
	if fit < frames {
		w.err = errFrameLimit(w.frame, w.hdr+int64(w.frame)*int64(full))
		return w.err
	}
	return nil
}

// Close writes the final frame. It is an error to Write after Close.
func (w *writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if errors.Is(w.err, ErrWriterClosed) {
		return nil
	}
	defer clear(w.buf[:cap(w.buf)]) // staged plaintext, on every path
	if w.pw != nil {
		defer clear(w.pw.stage[:cap(w.pw.stage)])
	}
	if w.err != nil {
		return w.err
	}
	if w.pw != nil {
		if err := w.sealBatch(w.pw.stage, true); err != nil {
			return err
		}
		w.err = ErrWriterClosed
		return nil
	}
	if err := w.flush(true); err != nil {
		return err
	}
	w.err = ErrWriterClosed
	return nil
}

// NewReader reads a message's header from src, unwraps its data key and
// verifies the header, then returns a Reader of the plaintext. The Reader
// holds at most one frame in memory (with Config.Parallelism above 1,
// 4×Parallelism frames, opened on Parallelism goroutines, released in
// order) and returns only authenticated bytes:
// each frame is verified before any of it is returned. A message that ends
// without its final frame fails with ErrTruncated at the end; bytes after
// the final frame fail authentication. An error of src itself (say a cut
// connection) is returned as it is. ctx bounds the KMS calls NewReader
// makes; the Reader itself makes none and does not watch ctx.
//
// The Reader is safe for concurrent use: Read and WriteTo are serialised,
// each call returning the next authenticated bytes, so concurrent callers
// share the plaintext out between them in some order (each byte goes to
// one caller). src is read only from inside Read and WriteTo, one call at a
// time. A frame past the 2^32 a message may have fails with a *FrameError
// wrapping ErrTooLarge before any of it is released.
func (c *Client) NewReader(ctx context.Context, src io.Reader, opts ...DecryptOption) (io.Reader, error) {
	// As in Decrypt, the context map is built only if KMS must be called.
	h, err := parseHeader(&source{r: src}, false)
	if err != nil {
		return nil, err
	}
	mk, err := c.openHeader(ctx, h, opts)
	if err != nil {
		return nil, err
	}
	r := &reader{keys: mk, src: src, fs: h.FrameSize, off: int64(h.length)}
	if p := c.parallelism(); p > 1 {
		n := p * streamBatch
		r.p, r.n, r.buf, r.pout = p, n, make([]byte, n*(h.FrameSize+tagSize)), make([]byte, n*h.FrameSize)
	} else {
		r.buf = make([]byte, h.FrameSize+tagSize)
	}
	return r, nil
}

// openBatch opens count consecutive frames, sealed back to back in in (all
// full except the last when final: then it is the final frame), on r.p
// goroutines into r.pout, and returns the plaintext of the frames before
// the first that fails, contiguous; r.err is then that frame's error (the
// frame limit or ErrAuthentication, whichever frame comes first, as on the
// serial path). r.frame and r.off advance past the good frames.
func (r *reader) openBatch(in []byte, count int, final bool) []byte {
	fs, full := r.fs, r.fs+tagSize
	isFinal := func(j int) bool { return final && j == count-1 }
	fit := count
	for j := range count {
		if !frameFits(r.frame+uint64(j), isFinal(j)) {
			fit = j
			break
		}
	}
	bad := forFrames(fit, r.p, func(j int, nonce *[12]byte) bool {
		f := in[j*full:]
		if !isFinal(j) {
			f = f[:full]
		}
		_, err := r.keys.openFrameWith(nonce, r.pout[j*fs:j*fs], r.frame+uint64(j), isFinal(j), f)
		return err == nil
	})
	good := fit
	if bad >= 0 {
		good = bad
	}
	n := good * fs
	if good == count && final {
		n = (count-1)*fs + len(in) - (count-1)*full - tagSize
	}
	r.frame += uint64(good)
	r.off += int64(min(len(in), good*full))
	switch {
	case bad >= 0:
		clear(r.pout[n:cap(r.pout)]) // GCM may have written unauthenticated bytes
		r.err = &FrameError{Frame: r.frame, Offset: r.off, Err: ErrAuthentication}
	case fit < count:
		r.err = errFrameLimit(r.frame, r.off)
	}
	return r.pout[:n]
}

type reader struct {
	mu    sync.Mutex // serialises Read and WriteTo: see NewReader
	keys  *messageKeys
	src   io.Reader
	fs    int
	p     int    // goroutines opening frames; 0 or 1: the serial path
	n     int    // p > 1: frames per batch
	pout  []byte // p > 1: the plaintext of p frames
	buf   []byte // one sealed frame, opened in place (p > 1: p frames)
	plain []byte // authenticated plaintext not yet returned
	frame uint64
	off   int64 // message offset of the next frame
	err   error // sticky: io.EOF after the final frame, or a failure
}

func (r *reader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.plain) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.next()
	}
	n := copy(p, r.plain)
	r.plain = r.plain[n:]
	return n, nil
}

// WriteTo writes the plaintext to w frame by frame, straight from the
// frame buffer (io.Copy uses it, saving a copy per frame). Like Read, it
// writes only authenticated frames.
//
// When the source can push its data (it implements io.WriterTo, as
// *bytes.Reader, *bytes.Buffer and *bufio.Reader do), each full frame is
// opened directly from the source's bytes, without copying it first.
func (r *reader) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var total int64
	drain := func() error {
		for len(r.plain) > 0 {
			n, err := w.Write(r.plain)
			total += int64(n)
			r.plain = r.plain[n:]
			if err != nil {
				return err
			}
		}
		return nil
	}
	if err := drain(); err != nil {
		return total, err
	}
	if wt, ok := r.src.(io.WriterTo); ok && r.err == nil {
		sink := &frameSink{r: r, w: w}
		_, err := wt.WriteTo(sink)
		total += sink.written
		switch {
		case sink.err != nil:
			return total, sink.err
		case err != nil:
			r.err = err
			return total, err
		}
		// The source is exhausted: what is left is the final frame, shorter
		// than a full one (or nothing, if the message was truncated after a
		// full frame).
		if len(sink.pending) < tagSize {
			r.err = &FrameError{Frame: r.frame, Offset: r.off, Err: ErrTruncated}
			return total, r.err
		}
		r.open(sink.pending, true)
		if r.err != nil {
			return total, r.err
		}
		r.err = io.EOF
		return total, drain()
	}
	for {
		if err := drain(); err != nil {
			return total, err
		}
		if r.err != nil {
			if r.err == io.EOF {
				return total, nil
			}
			return total, r.err
		}
		r.next()
	}
}

// frameSink receives a source's bytes in WriteTo and opens every full frame
// as soon as it is complete. A full frame is never the final one, so no
// look-ahead is needed; the tail shorter than a frame is kept in pending.
type frameSink struct {
	r       *reader
	w       io.Writer
	pending []byte // a frame not yet complete
	written int64
	err     error
}

func (s *frameSink) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n := len(p)
	full := s.r.fs + tagSize
	for len(p) > 0 {
		if k := min(s.r.n, len(p)/full); k > 1 && len(s.pending) == 0 {
			// Several whole frames: open them at once, from the source's
			// bytes (read only) into the reader's buffer.
			pt := s.r.openBatch(p[:k*full], k, false)
			p = p[len(pt)/s.r.fs*full:]
			m, err := s.w.Write(pt)
			s.written += int64(m)
			switch {
			case err != nil:
				s.err, s.r.err = err, err
				return n - len(p), err
			case s.r.err != nil:
				s.err = s.r.err
				return n - len(p), s.err
			}
			continue
		}
		var frame []byte
		switch {
		case len(s.pending) == 0 && len(p) >= full:
			frame, p = p[:full], p[full:] // the source's bytes, read only
		default:
			if s.pending == nil {
				s.pending = make([]byte, 0, full)
			}
			k := min(full-len(s.pending), len(p))
			s.pending = append(s.pending, p[:k]...)
			p = p[k:]
			if len(s.pending) < full {
				continue
			}
			frame = s.pending
		}
		// A full frame is never final: it needs room for one after it.
		if !frameFits(s.r.frame, false) {
			s.err = errFrameLimit(s.r.frame, s.r.off)
			s.r.err = s.err
			return n - len(p), s.err
		}
		// Open into the reader's own buffer, never into the source's bytes.
		pt, err := s.r.keys.openFrame(s.r.buf[:0], s.r.frame, false, frame)
		s.pending = s.pending[:0]
		if err != nil {
			s.err = &FrameError{Frame: s.r.frame, Offset: s.r.off, Err: ErrAuthentication}
			s.r.err = s.err
			return n - len(p), s.err
		}
		s.r.frame++
		s.r.off += int64(full)
		m, err := s.w.Write(pt)
		s.written += int64(m)
		if err != nil {
			s.err, s.r.err = err, err
			return n - len(p), err
		}
	}
	return n, nil
}

// next reads and opens one frame (r.p > 1: up to r.n frames), setting
// r.plain or r.err, or both: then r.plain is what came before the error.
func (r *reader) next() {
	if r.p > 1 {
		r.nextBatch()
		return
	}
	full := r.fs + tagSize
	n, err := fill(r.src, r.buf[:full])
	switch {
	case err == nil: // a full frame, never the final one
		r.open(r.buf[:full], false)
	case err != io.EOF: // the source failed: not the message's fault
		r.err = err
	case n == 0: // the body ended after a full frame
		r.err = &FrameError{Frame: r.frame, Offset: r.off, Err: ErrTruncated}
	case n < tagSize:
		r.err = &FrameError{Frame: r.frame, Offset: r.off, Err: ErrTruncated}
	default: // a short frame: the final one
		r.open(r.buf[:n], true)
		if r.err == nil {
			r.err = io.EOF
		}
	}
}

// nextBatch reads up to r.n frames and opens them at once.
func (r *reader) nextBatch() {
	full := r.fs + tagSize
	n, err := fill(r.src, r.buf[:r.n*full])
	k, rem := n/full, n%full
	switch {
	case err == nil: // r.n full frames, none final
		r.plain = r.openBatch(r.buf[:n], k, false)
	case err != io.EOF: // the source failed: the whole frames before it still count
		r.plain = r.openBatch(r.buf[:k*full], k, false)
		if r.err == nil {
			r.err = err
		}
	case rem == 0 || rem < tagSize: // the body ended after a full frame, or in a tag
		r.plain = r.openBatch(r.buf[:k*full], k, false)
		if r.err == nil {
			r.err = &FrameError{Frame: r.frame, Offset: r.off, Err: ErrTruncated}
		}
	default: // k full frames, then the final one
		r.plain = r.openBatch(r.buf[:n], k+1, true)
		if r.err == nil {
			r.err = io.EOF
		}
	}
}

// fill reads from src until buf is full (nil error) or src ends (io.EOF,
// with the bytes read so far). Unlike io.ReadFull it keeps the source's own
// errors apart from the end of data: a source that fails with
// io.ErrUnexpectedEOF (net/http does, for a cut-off body) must not make a
// partial frame look like the final one.
func fill(src io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := src.Read(buf[n:])
		n += k
		if err != nil {
			if n == len(buf) && err == io.EOF {
				break // a full frame; the end shows on the next call
			}
			return n, err
		}
	}
	return n, nil
}

func (r *reader) open(frame []byte, final bool) {
	if !frameFits(r.frame, final) { // checked before anything is opened or released
		r.err = errFrameLimit(r.frame, r.off)
		return
	}
	pt, err := r.keys.openFrame(frame[:0], r.frame, final, frame)
	if err != nil {
		r.err = &FrameError{Frame: r.frame, Offset: r.off, Err: ErrAuthentication}
		return
	}
	r.plain = pt
	r.off += int64(len(frame))
	r.frame++
}
