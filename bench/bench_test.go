// Package bench compares kmsenvelope's envelope encryption with a plain
// AES-256-GCM Seal and with other envelope-style libraries (Tink's KMS
// envelope AEAD, the AWS Encryption SDK for Go, age).
//
// It is a separate module so that the peers never enter the main module's
// go.mod. Run, from this directory:
//
//	go test -run '^$' -bench . -benchtime 1s
//
// After the benchmarks, TestMain prints a markdown table of throughput and
// ratios (see README.md).
package bench

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var sizes = []struct {
	name string
	n    int
}{{"1KiB", 1 << 10}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20}}

var ops = []string{"Encrypt", "Decrypt"}

// result is one finished benchmark: the run with the largest b.N, which
// is the final, measured run.
type result struct {
	n  int
	ns float64 // per op
}

var (
	resultsMu sync.Mutex
	results   = map[string]result{} // "Encrypt/raw/1KiB"
	skipped   = map[string]string{} // peer -> reason
)

func record(b *testing.B, key string) {
	if b.N == 0 {
		return
	}
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	resultsMu.Lock()
	defer resultsMu.Unlock()
	if r, ok := results[key]; !ok || b.N >= r.n {
		results[key] = result{n: b.N, ns: ns}
	}
}

func skip(b *testing.B, p peer, err error) {
	resultsMu.Lock()
	skipped[p.name] = err.Error()
	resultsMu.Unlock()
	b.Skip(err)
}

func BenchmarkEncrypt(b *testing.B) {
	for _, p := range peers {
		b.Run(p.name, func(b *testing.B) {
			c, err := codecFor(p)
			if err != nil {
				skip(b, p, err)
			}
			for _, s := range sizes {
				b.Run(s.name, func(b *testing.B) {
					pt := make([]byte, s.n)
					rand.Read(pt)
					out, err := c.enc(nil, pt) // warms caches, sizes out
					if err != nil {
						b.Fatal(err)
					}
					b.SetBytes(int64(s.n))
					b.ReportAllocs()
					for b.Loop() {
						if out, err = c.enc(out[:0], pt); err != nil {
							b.Fatal(err)
						}
					}
					record(b, "Encrypt/"+p.name+"/"+s.name)
				})
			}
		})
	}
}

func BenchmarkDecrypt(b *testing.B) {
	for _, p := range peers {
		b.Run(p.name, func(b *testing.B) {
			c, err := codecFor(p)
			if err != nil {
				skip(b, p, err)
			}
			for _, s := range sizes {
				b.Run(s.name, func(b *testing.B) {
					pt := make([]byte, s.n)
					rand.Read(pt)
					msg, err := c.enc(nil, pt)
					if err != nil {
						b.Fatal(err)
					}
					out, err := c.dec(nil, msg) // warms caches, sizes out
					if err != nil {
						b.Fatal(err)
					}
					if !bytes.Equal(out, pt) {
						b.Fatal("round trip returned different plaintext")
					}
					b.SetBytes(int64(s.n))
					b.ReportAllocs()
					for b.Loop() {
						if out, err = c.dec(out[:0], msg); err != nil {
							b.Fatal(err)
						}
					}
					record(b, "Decrypt/"+p.name+"/"+s.name)
				})
			}
		})
	}
}

// TestPeers checks that every peer is set up correctly: it round-trips and
// rejects a modified message. It is the only test, and is quick.
func TestPeers(t *testing.T) {
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			if _, err := codecFor(p); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	closeAll()
	resultsMu.Lock()
	if len(results) > 0 {
		fmt.Print(table())
	}
	resultsMu.Unlock()
	os.Exit(code)
}

// table renders results as markdown. Throughput is MB/s as go test
// reports it (10⁶ bytes of plaintext per second); a ratio is this row's
// throughput over the reference's for the same operation and size.
func table() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n### kmsenvelope vs peers, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&sb, "%s, %d vCPU (GOMAXPROCS %d), %s %s/%s\n\n",
		cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	sb.WriteString("| peer | op |")
	for _, s := range sizes {
		sb.WriteString(" " + s.name + " |")
	}
	sb.WriteString(" ns/op " + sizes[0].name + " |\n|---|---|")
	for range sizes {
		sb.WriteString("---:|")
	}
	sb.WriteString("---:|\n")
	for _, p := range peers {
		for _, op := range ops {
			fmt.Fprintf(&sb, "| %s | %s |", p.name, strings.ToLower(op))
			if why, ok := skipped[p.name]; ok {
				for range sizes {
					sb.WriteString(" skipped |")
				}
				fmt.Fprintf(&sb, " skipped: %s |\n", oneLine(why))
				continue
			}
			for _, s := range sizes {
				r, ok := results[op+"/"+p.name+"/"+s.name]
				if !ok {
					sb.WriteString(" – |")
					continue
				}
				mbs := float64(s.n) / r.ns * 1e3 // bytes/ns * 1e9 / 1e6
				cell := fmtMBs(mbs) + " MB/s"
				var rel []string
				for _, ref := range []string{"raw", "kmsenvelope"} {
					if rr, ok := results[op+"/"+ref+"/"+s.name]; ok && ref != p.name {
						rel = append(rel, fmtRatio(rr.ns/r.ns)+"× "+ref)
					}
				}
				if len(rel) > 0 {
					cell += " (" + strings.Join(rel, ", ") + ")"
				}
				sb.WriteString(" " + cell + " |")
			}
			if r, ok := results[op+"/"+p.name+"/"+sizes[0].name]; ok {
				fmt.Fprintf(&sb, " %s |\n", fmtNs(r.ns))
			} else {
				sb.WriteString(" – |\n")
			}
		}
	}
	sb.WriteString("\nRatios are throughput over the reference's, same operation and size (0.50× raw = half raw GCM's MB/s).\n\n")
	for _, p := range peers {
		fmt.Fprintf(&sb, "- **%s**: %s\n", p.name, p.note)
	}
	return sb.String()
}

func fmtMBs(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func fmtRatio(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 0.1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.2g", v)
	}
}

func fmtNs(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2f ms", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1f µs", v/1e3)
	default:
		return fmt.Sprintf("%.0f ns", v)
	}
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return strings.ReplaceAll(s, "|", "\\|")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
