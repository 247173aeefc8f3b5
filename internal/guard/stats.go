package guard

import (
	"container/heap"
	"sort"
	"strings"

	"github.com/kmsenvelope/kmsenvelope/localauthz"
)

// DefaultMaxCalls is the default bound on the (operation, resource) pairs a
// Guard records for resources that are not declared (Config.MaxCalls).
const DefaultMaxCalls = 256

// callTable records calls in memory bounded whatever the resources: a
// resource comes from untrusted input (the key ARN in a message header, a
// secret name a request carries), so one entry per distinct resource would
// let a stream of crafted messages grow it without end.
//
// Calls on declared resources (the Guard's configuration and facts) are kept
// exactly, one entry each; there are as many as the configuration names.
// Calls on other resources are kept in at most max entries, the most
// frequent first: when the table is full, a new resource replaces the entry
// with the lowest count, whose count moves to its operation's "other"
// bucket. So every call is counted exactly once, in its own entry or in
// other, and a resource used often keeps its entry against a flood of
// one-off resources. Not safe for concurrent use; Guard.mu guards it.
type callTable struct {
	declared map[string]bool // resources kept exactly
	exact    map[Call]*CallStat
	top      map[Call]*topEntry
	heap     topHeap // the entries of top, lowest count first
	max      int
	other    map[string]int // by operation: calls on resources whose entries were dropped
}

type topEntry struct {
	st  CallStat
	pos int // index in heap
}

// topHeap is a min-heap of entries by count.
type topHeap []*topEntry

func (h topHeap) Len() int           { return len(h) }
func (h topHeap) Less(i, j int) bool { return h[i].st.Count < h[j].st.Count }
func (h topHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].pos, h[j].pos = i, j
}
func (h *topHeap) Push(x any) {
	e := x.(*topEntry)
	e.pos = len(*h)
	*h = append(*h, e)
}
func (h *topHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}

func newCallTable(declared map[string]bool, max int) *callTable {
	return &callTable{declared: declared, exact: map[Call]*CallStat{}, top: map[Call]*topEntry{}, max: max, other: map[string]int{}}
}

// record counts one call with the facts it was authorized with.
func (t *callTable) record(k Call, facts localauthz.Facts) {
	if st := t.exact[k]; st != nil {
		st.Count++
		return
	}
	if e := t.top[k]; e != nil {
		e.st.Count++
		heap.Fix(&t.heap, e.pos)
		return
	}
	// A new entry keeps copies: the strings may be slices of a larger
	// buffer (a message) that must not stay reachable through the table.
	k = Call{Operation: strings.Clone(k.Operation), Resource: strings.Clone(k.Resource)}
	st := CallStat{Call: k, Count: 1, Facts: facts}
	if t.declared[k.Resource] {
		t.exact[k] = &st
		return
	}
	if t.max <= 0 {
		t.other[k.Operation]++
		return
	}
	if len(t.heap) >= t.max {
		low := heap.Pop(&t.heap).(*topEntry)
		delete(t.top, low.st.Call)
		t.other[low.st.Operation] += low.st.Count
	}
	e := &topEntry{st: st}
	t.top[k] = e
	heap.Push(&t.heap, e)
}

// calls returns the recorded entries, most frequent first.
func (t *callTable) calls() []CallStat {
	out := make([]CallStat, 0, len(t.exact)+len(t.top))
	for _, st := range t.exact {
		out = append(out, *st)
	}
	for _, e := range t.top {
		out = append(out, e.st)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		if out[i].Operation != out[j].Operation {
			return out[i].Operation < out[j].Operation
		}
		return out[i].Resource < out[j].Resource
	})
	return out
}

// others returns a copy of the "other" buckets.
func (t *callTable) others() map[string]int {
	out := make(map[string]int, len(t.other))
	for op, n := range t.other {
		out[op] = n
	}
	return out
}
