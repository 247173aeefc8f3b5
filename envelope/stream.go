package envelope

import (
	"context"
	"errors"
	"io"
)

// NewWriter returns a WriteCloser that encrypts what is written to it into a
// message on dst, holding at most one frame of plaintext in memory. The
// header is written before NewWriter returns. Close must be called to write
// the final frame; without it the message is truncated and will not decrypt.
// Close does not close dst.
func (c *Client) NewWriter(ctx context.Context, dst io.Writer, ec map[string]string) (io.WriteCloser, error) {
	m := &message{}
	if err := c.startMessage(ctx, m, ec, 0); err != nil {
		return nil, err
	}
	w := &writer{m: m, dst: dst, buf: make([]byte, 0, m.fs+tagSize)}
	if _, err := dst.Write(m.appendHeader(make([]byte, 0, m.headerLen()))); err != nil {
		return nil, err
	}
	return w, nil
}

type writer struct {
	m     *message
	dst   io.Writer
	buf   []byte // pending plaintext, then the sealed frame in place
	frame uint64
	total uint64
	err   error // sticky
}

func (w *writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n := 0
	fs := w.m.fs
	for len(p) > 0 {
		if len(w.buf) == 0 && len(p) >= fs {
			// A whole frame is available: seal it straight from p into the
			// frame buffer, without staging the plaintext first.
			if err := w.emit(w.m.keys.sealFrame(w.buf[:0], w.frame, false, p[:fs]), fs); err != nil {
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
func (w *writer) flush(final bool) error {
	n := len(w.buf)
	return w.emit(w.m.keys.sealFrame(w.buf[:0], w.frame, final, w.buf), n)
}

// emit writes one sealed frame of n plaintext bytes.
func (w *writer) emit(sealed []byte, n int) error {
	if w.frame >= maxFrames {
		w.err = ErrTooLarge
		return w.err
	}
	w.frame++
	w.total += uint64(n)
	if _, err := w.dst.Write(sealed); err != nil {
		w.err = err
		return err
	}
	w.buf = w.buf[:0]
	return nil
}

// Close writes the final frame. It is an error to Write after Close.
func (w *writer) Close() error {
	if w.err != nil {
		if errors.Is(w.err, errWriterClosed) {
			return nil
		}
		return w.err
	}
	err := w.flush(true)
	w.m.charge(w.total)
	clear(w.buf[:cap(w.buf)])
	if err != nil {
		return err
	}
	w.err = errWriterClosed
	return nil
}

var errWriterClosed = errors.New("envelope: write after Close")

// NewReader reads a message's header from src, unwraps its data key and
// verifies the header, then returns a Reader of the plaintext. The Reader
// holds at most one frame in memory and returns only authenticated bytes:
// each frame is verified before any of it is returned. A message that ends
// without its final frame fails with ErrTruncated at the end; bytes after
// the final frame fail authentication.
func (c *Client) NewReader(ctx context.Context, src io.Reader, opts ...DecryptOption) (io.Reader, error) {
	h, err := ReadHeader(src)
	if err != nil {
		return nil, err
	}
	mk, err := c.openHeader(ctx, h, opts)
	if err != nil {
		return nil, err
	}
	return &reader{keys: mk, src: src, fs: h.FrameSize, buf: make([]byte, h.FrameSize+tagSize), off: int64(h.length)}, nil
}

type reader struct {
	keys  *messageKeys
	src   io.Reader
	fs    int
	buf   []byte // one sealed frame; opened in place
	plain []byte // authenticated plaintext not yet returned
	frame uint64
	off   int64 // message offset of the next frame
	err   error // sticky: io.EOF after the final frame, or a failure
}

func (r *reader) Read(p []byte) (int, error) {
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
func (r *reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(r.plain) > 0 {
			n, err := w.Write(r.plain)
			total += int64(n)
			r.plain = r.plain[n:]
			if err != nil {
				return total, err
			}
			continue
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

// next reads and opens one frame, setting r.plain or r.err.
func (r *reader) next() {
	full := r.fs + tagSize
	n, err := io.ReadFull(r.src, r.buf[:full])
	switch {
	case err == nil: // a full frame, never the final one
		r.open(r.buf[:full], false)
	case err == io.ErrUnexpectedEOF: // a short frame: the final one
		if n < tagSize {
			r.err = &FrameError{Frame: r.frame, Offset: r.off, Err: ErrTruncated}
			return
		}
		r.open(r.buf[:n], true)
		if r.err == nil {
			r.err = io.EOF
		}
	case err == io.EOF: // the body ended after a full frame
		r.err = &FrameError{Frame: r.frame, Offset: r.off, Err: ErrTruncated}
	default:
		r.err = err
	}
}

func (r *reader) open(frame []byte, final bool) {
	pt, err := r.keys.openFrame(frame[:0], r.frame, final, frame)
	if err != nil {
		r.err = &FrameError{Frame: r.frame, Offset: r.off, Err: ErrAuthentication}
		return
	}
	r.plain = pt
	r.off += int64(len(frame))
	r.frame++
	if r.frame > maxFrames {
		r.err = &FrameError{Frame: r.frame, Offset: r.off, Err: ErrTooLarge}
	}
}
