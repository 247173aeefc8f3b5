package envelope

import (
	"sync"
)

// maxParallelism bounds Config.Parallelism: frames in flight per call or
// stream.
const maxParallelism = 64

// streamBatch is how many frames per goroutine a parallel stream seals or
// opens at once: a batch of Parallelism*streamBatch frames (the frames in
// flight, held in memory) amortises waking the goroutines, which on a
// virtual machine can take longer than sealing one frame.
const streamBatch = 4

// parallelMinBytes is the smallest one-shot input spread over several
// cores: below it, starting goroutines costs more than it saves.
const parallelMinBytes = 256 << 10

// parallelism is how many frames a stream seals or opens at once: 1 is the
// serial path.
func (c *Client) parallelism() int {
	return max(1, min(c.cfg.Parallelism, maxParallelism))
}

// oneShotParallelism is parallelism for a one-shot call on n bytes in
// frames of fs: with Parallelism 0, small inputs stay serial.
func (c *Client) oneShotParallelism(n, fs int) int {
	if n < parallelMinBytes {
		return 1
	}
	return max(1, min(c.parallelism(), n/fs))
}

// forFrames runs f(i, nonce) for each i in [0, n) on up to p goroutines
// (the caller's among them), each taking a contiguous run of frames in
// order and stopping at its first failure, and returns the lowest i for
// which f returned false, or -1. nonce is scratch of the goroutine running
// f. Every goroutine is done when forFrames returns.
func forFrames(n, p int, f func(i int, nonce *[12]byte) bool) int {
	p = min(p, n)
	if p <= 1 {
		var nonce [12]byte
		for i := range n {
			if !f(i, &nonce) {
				return i
			}
		}
		return -1
	}
	bad := make([]int, p)
	nonces := make([][12]byte, p)
	per := (n + p - 1) / p
	var wg sync.WaitGroup
	for w := range p {
		lo, hi := w*per, min(n, (w+1)*per)
		bad[w] = -1
		run := func() {
			for i := lo; i < hi; i++ {
				if !f(i, &nonces[w]) {
					bad[w] = i
					return
				}
			}
		}
		if w == p-1 {
			run()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			run()
		}()
	}
	wg.Wait()
	for _, b := range bad { // runs are in order: the first failure is the lowest
		if b >= 0 {
			return b
		}
	}
	return -1
}
