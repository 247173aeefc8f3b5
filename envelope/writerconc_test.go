package envelope_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/envelope"
)

// record is the content of write seq of goroutine g: an id then filler, so
// a plaintext can be cut back into whole writes and each identified.
func record(g, seq, size int) []byte {
	b := make([]byte, size)
	binary.BigEndian.PutUint16(b, uint16(g))
	binary.BigEndian.PutUint16(b[2:], uint16(seq))
	for i := 4; i < size; i++ {
		b[i] = byte(g*31 + seq*7 + i)
	}
	return b
}

// checkWhole cuts pt into records of size and checks that it holds each
// write in want exactly once, whole, and each goroutine's writes in its
// own order.
func checkWhole(t *testing.T, pt []byte, size int, want map[[2]int]bool) {
	t.Helper()
	require.Zero(t, len(pt)%size, "the plaintext is whole writes")
	last := map[int]int{}
	seen := map[[2]int]bool{}
	for off := 0; off < len(pt); off += size {
		g, seq := int(binary.BigEndian.Uint16(pt[off:])), int(binary.BigEndian.Uint16(pt[off+2:]))
		require.Equal(t, record(g, seq, size), pt[off:off+size], "a write at %d is whole and unmixed", off)
		id := [2]int{g, seq}
		require.False(t, seen[id], "write %v appears once", id)
		require.True(t, want[id], "write %v was made and reported as written", id)
		if prev, ok := last[g]; ok {
			require.Greater(t, seq, prev, "goroutine %d's writes keep their order", g)
		}
		seen[id], last[g] = true, seq
	}
	require.Len(t, seen, len(want), "every successful write is in the message")
}

// frameTags are the tags of a message's frames: distinct tags mean no two
// frames were sealed alike.
func frameTags(t *testing.T, msg []byte, fs int) [][]byte {
	h, err := envelope.ParseHeader(msg)
	require.NoError(t, err)
	var tags [][]byte
	for body := msg[h.Len():]; len(body) > 0; {
		k := min(len(body), fs+16)
		tags = append(tags, body[k-16:k])
		body = body[k:]
	}
	return tags
}

// TestConcurrentWritesNeverReuseANonce: many goroutines writing one Writer
// (run with -race) produce a message that decrypts to exactly the bytes
// written, as whole Write calls in some order, with no two frames alike.
// (Before: concurrent Writes raced on the frame counter and buffer, sealing
// frames with one nonce twice, and the message did not decrypt.)
func TestConcurrentWritesNeverReuseANonce(t *testing.T) {
	f := newFixture(t) // 64-byte frames
	ctx := context.Background()
	const goroutines, writes = 16, 40
	for _, size := range []int{5, 37, 64, 100, 3*64 + 1} { // staged, exact and direct frames
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			var buf bytes.Buffer // written only from inside Write and Close
			w, err := f.env.NewWriter(ctx, &buf, nil)
			require.NoError(t, err)
			want := map[[2]int]bool{}
			var wg sync.WaitGroup
			var mu sync.Mutex
			for g := range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for seq := range writes {
						n, err := w.Write(record(g, seq, size))
						if err != nil || n != size {
							t.Errorf("write %d/%d: %d, %v", g, seq, n, err)
							return
						}
						mu.Lock()
						want[[2]int{g, seq}] = true
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			require.NoError(t, w.Close())
			msg := buf.Bytes()
			pt, err := f.env.Decrypt(ctx, msg)
			require.NoError(t, err, "the message decrypts")
			checkWhole(t, pt, size, want)
			tags := frameTags(t, msg, 64)
			sort.Slice(tags, func(i, j int) bool { return bytes.Compare(tags[i], tags[j]) < 0 })
			for i := 1; i < len(tags); i++ {
				require.NotEqual(t, tags[i-1], tags[i], "two frames are alike")
			}
		})
	}
}

// TestCloseDuringConcurrentWrites: a Close racing Writes ends the message
// between two whole writes; every Write that succeeded is in it, and every
// later one fails.
func TestCloseDuringConcurrentWrites(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const size = 45
	var buf bytes.Buffer
	w, err := f.env.NewWriter(ctx, &buf, nil)
	require.NoError(t, err)
	want := map[[2]int]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range 200 {
				if _, err := w.Write(record(g, seq, size)); err != nil {
					return
				}
				mu.Lock()
				want[[2]int{g, seq}] = true
				mu.Unlock()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			mu.Lock()
			n := len(want)
			mu.Unlock()
			if n >= 100 {
				break
			}
		}
		assert.NoError(t, w.Close())
	}()
	wg.Wait()
	assert.NoError(t, w.Close(), "Close again is a no-op")
	_, err = w.Write([]byte("late"))
	assert.Error(t, err)
	pt, err := f.env.Decrypt(ctx, buf.Bytes())
	require.NoError(t, err)
	checkWhole(t, pt, size, want)
}

// TestConcurrentReadsShareThePlaintext: goroutines reading one Reader at
// once (Read and WriteTo; run with -race) get disjoint runs of the
// plaintext that together are exactly all of it.
func TestConcurrentReadsShareThePlaintext(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pt := random(t, 20000) // random: every run of 14 bytes or more is unique
	msg, err := f.env.Encrypt(ctx, pt, nil)
	require.NoError(t, err)
	r, err := f.env.NewReader(ctx, bytes.NewReader(msg))
	require.NoError(t, err)
	runs := make([][][]byte, 9)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := make([]byte, 50) // 64-byte frames: runs of 50 and 14 bytes
			for {
				n, err := r.Read(p)
				if n > 0 {
					runs[g] = append(runs[g], bytes.Clone(p[:n]))
				}
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Errorf("goroutine %d: %v", g, err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // a WriteTo racing the Reads takes whatever is left
		defer wg.Done()
		var rest bytes.Buffer
		_, err := r.(io.WriterTo).WriteTo(&rest)
		assert.NoError(t, err)
		if rest.Len() > 0 {
			runs[8] = append(runs[8], rest.Bytes())
		}
	}()
	wg.Wait()
	type span struct{ off, n int }
	var spans []span
	for _, rs := range runs {
		for _, run := range rs {
			off := bytes.Index(pt, run)
			require.GreaterOrEqual(t, off, 0, "a run is plaintext")
			spans = append(spans, span{off, len(run)})
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].off < spans[j].off })
	next := 0
	for _, s := range spans {
		require.Equal(t, next, s.off, "runs are disjoint and leave no gap")
		next += s.n
	}
	assert.Equal(t, len(pt), next, "all of the plaintext was read")
}
