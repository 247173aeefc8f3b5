package conformance_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/localauthz"
)

const (
	acctA = testkms.DefaultAccountID
	acctB = "2222222222222222"
)

// Flags for searching wider locally, e.g.
//
//	go test ./internal/conformance -run Differential -args -scenarios 100000 -seed 7
//
// The defaults are fixed so CI is deterministic (and fast) and a failure
// reproduces; -scenario N reruns scenario N of a seed alone.
var (
	scenarioCount = flag.Int("scenarios", 600, "random scenarios TestDifferentialPreflightVsEmulator compares")
	scenarioSeed  = flag.Uint64("seed", 20261123, "seed of the scenario generator")
	scenarioOnly  = flag.Int("scenario", -1, "run only this scenario index of the seed")
	workers       = flag.Int("workers", 0, "emulators run in parallel (0: GOMAXPROCS)")
)

// TestDifferentialPreflightVsEmulator generates random RAM, group, key and
// secret policies, principals, facts and operations, and checks that
// localauthz's preflight (catalogue + evaluator) predicts exactly what the
// emulator does when the real SDK makes the call. The emulator states its
// own per-operation checks in handler code and decides them with its own
// evaluator (internal/testkms/refpolicy), which shares no code with
// localauthz, so a disagreement exposes a bug on one side.
//
// Each worker keeps one emulator and one HTTP transport for all its
// scenarios (testkms.Server.Reset between them), so memory and file
// descriptors stay constant however many scenarios run.
//
// A disagreement is shrunk (statements, policies, conditions and list
// entries dropped, the request simplified) while it still disagrees, and
// the smallest scenario is printed. Disagreements of a known class, where
// the seeds show localauthz is wrong and its fix is pending, are counted
// and logged with one minimised example rather than failed: see
// knownClasses.
func TestDifferentialPreflightVsEmulator(t *testing.T) {
	n := *scenarioCount
	first := 0
	if *scenarioOnly >= 0 {
		first, n = *scenarioOnly, 1
	}
	nw := *workers
	if nw <= 0 {
		nw = runtime.GOMAXPROCS(0)
	}
	nw = min(nw, n)

	type result struct {
		index   int
		sc      scenario
		res     comparison
		workErr error
	}
	jobs := make(chan int)
	results := make(chan result)
	var wg sync.WaitGroup
	for range nw {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := newHarness()
			if err != nil {
				results <- result{index: -1, workErr: err}
				return
			}
			defer h.close()
			for i := range jobs {
				sc := newScenario(scenarioRNG(*scenarioSeed, i))
				res, err := h.compare(sc)
				results <- result{index: i, sc: sc, res: res, workErr: err}
			}
		}()
	}
	go func() {
		for i := first; i < first+n; i++ {
			jobs <- i
		}
		close(jobs)
	}()
	go func() { wg.Wait(); close(results) }()

	var (
		allowed, denied int
		known           = map[string]int{}
		knownExample    = map[string]result{}
		unknown         []result
		errs            []result
	)
	for r := range results {
		switch {
		case r.workErr != nil:
			errs = append(errs, r)
		case r.res.agree():
			if r.res.emulator {
				allowed++
			} else {
				denied++
			}
		default:
			h, err := newHarness()
			require.NoError(t, err)
			class := h.classify(r.sc, r.res)
			h.close()
			if class == "" {
				unknown = append(unknown, r)
				continue
			}
			if known[class] == 0 {
				knownExample[class] = r
			}
			known[class]++
		}
	}
	for i, r := range errs {
		if i == 3 {
			t.Errorf("... and %d more scenarios that could not run", len(errs)-3)
			break
		}
		t.Errorf("scenario %d (seed %d) could not run: %v\n%s", r.index, *scenarioSeed, r.workErr, r.sc)
	}
	if len(errs) > 0 {
		t.FailNow()
	}

	h, err := newHarness()
	require.NoError(t, err)
	defer h.close()
	for class, count := range known {
		r := knownExample[class]
		small, res := h.minimise(r.sc, func(sc scenario, res comparison) bool { return h.classify(sc, res) == class })
		t.Logf("KNOWN localauthz gap %q: %d scenario(s) skipped (%s).\nMinimised example (from scenario %d, seed %d): %s\n%s",
			class, count, knownClasses[class], r.index, *scenarioSeed, res, small)
	}
	slices.SortFunc(unknown, func(a, b result) int { return a.index - b.index })
	for i, r := range unknown {
		if i == 3 {
			t.Errorf("... and %d more disagreements", len(unknown)-3)
			break
		}
		small, res := h.minimise(r.sc, func(sc scenario, res comparison) bool { return h.classify(sc, res) == "" })
		t.Errorf("DISAGREEMENT in scenario %d (seed %d; rerun with -args -seed %d -scenario %d)\nminimised: %s\n%s",
			r.index, *scenarioSeed, *scenarioSeed, r.index, res, small)
	}
	t.Logf("%d scenarios: %d allowed and %d denied by both, %d known-gap disagreements, %d unexplained",
		n, allowed, denied, n-allowed-denied-len(unknown), len(unknown))
	if n >= 200 {
		// Guard against a generator that only ever produces one outcome.
		require.Greater(t, allowed, n/10)
		require.Greater(t, denied, n/10)
	}
}

// knownClasses are the disagreements where the seed text shows localauthz
// is wrong; the localauthz fix is pending. The test skips them by name.
var knownClasses = map[string]string{
	// None today. Two classes found by this test were fixed in localauthz:
	// the tags of a ReEncrypt destination alias, and kms:tag on
	// GetKeyPolicy/SetKeyPolicy (which the condition-key reference does not
	// list).
}

func scenarioRNG(seed uint64, i int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(i)*0x9e3779b97f4a7c15+1))
}

// ---------------------------------------------------------------------
// Scenarios

type principalKind int

const (
	userA      principalKind = iota // alice, a RAM user of account A
	groupUserA                      // carol, a RAM user of A in group devs
	roleA                           // a session of role app of A
	rootA                           // the root identity of A
	userB                           // bob, a RAM user of account B: cross-account
	roleB                           // a session of role ops of B: cross-account
	rootB                           // the root identity of B: cross-account
)

var principalNames = []string{"userA(alice)", "groupUserA(carol in devs)", "roleA(app/s1)", "rootA", "userB(bob)", "roleB(ops/s2)", "rootB"}

func (k principalKind) String() string { return principalNames[k] }
func (k principalKind) cross() bool    { return k == userB || k == roleB || k == rootB }

type cond struct {
	Op, Key string
	Vals    []string
}

type stmt struct {
	Deny       bool
	NotAction  bool
	Actions    []string
	Resources  []string
	Principals []string // key and secret policies only
	Conds      []cond
}

// policy is nil for "none": no RAM policy attached, the default key or
// secret policy.
type policy []stmt

func (p policy) render() string {
	if p == nil {
		return ""
	}
	stmts := make([]map[string]any, 0, len(p))
	for _, s := range p {
		m := map[string]any{"Effect": "Allow"}
		if s.Deny {
			m["Effect"] = "Deny"
		}
		if s.NotAction {
			m["NotAction"] = s.Actions
		} else {
			m["Action"] = s.Actions
		}
		m["Resource"] = s.Resources
		if s.Principals != nil {
			m["Principal"] = map[string]any{"RAM": s.Principals}
		}
		if len(s.Conds) > 0 {
			c := map[string]map[string]any{}
			for _, cd := range s.Conds {
				if c[cd.Op] == nil {
					c[cd.Op] = map[string]any{}
				}
				c[cd.Op][cd.Key] = cd.Vals
			}
			m["Condition"] = c
		}
		stmts = append(stmts, m)
	}
	b, _ := json.Marshal(map[string]any{"Version": "1", "Statement": stmts})
	return string(b)
}

type scenario struct {
	Who        principalKind
	Inst1      bool // key1 is in a KMS instance
	Inst2      bool // key2 is in a KMS instance
	Tagged     bool // key1 carries env=prod, tier=5
	Tags2      int  // key2 carries nothing (0), env=dev (1) or env=prod, tier=7 (2)
	SecretSelf bool // the secret is encrypted with key1 (else the service key)
	SecretTags bool // the secret carries env=prod
	Op         string
	ByAlias    bool // the key is named by alias/app (-> key1)
	DstAlias   bool // ReEncrypt's destination is alias/dst (-> key2)
	BlobAlias  bool // the ciphertext was made through alias/app
	// SourceIP is the public address the emulator sees the caller at
	// (acs:SourceIp); "" means the loopback address it really sees, which
	// KMS's definition (public addresses only) makes an absent key.
	SourceIP string

	RAM    policy // the principal's own RAM policy
	Group  policy // group devs's policy (groupUserA)
	Key1   policy // key policies (instance keys only)
	Key2   policy
	Secret policy // the secret's policy (secrets in an instance only)
}

func (s scenario) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "principal=%v op=%s byAlias=%v dstAlias=%v blobAlias=%v sourceIp=%q\n", s.Who, s.Op, s.ByAlias, s.DstAlias, s.BlobAlias, s.SourceIP)
	fmt.Fprintf(&b, "key1: instance=%v tags=%v; key2: instance=%v tags=%v; secret db: selfManagedKey(key1)=%v tags=%v\n",
		s.Inst1, s.key1Tags(), s.Inst2, s.key2Tags(), s.SecretSelf, s.SecretTags)
	for _, p := range []struct {
		name string
		p    policy
	}{{"RAM", s.RAM}, {"group devs", s.Group}, {"key1 policy", s.Key1}, {"key2 policy", s.Key2}, {"secret policy", s.Secret}} {
		if p.p != nil {
			fmt.Fprintf(&b, "%s: %s\n", p.name, p.p.render())
		}
	}
	return b.String()
}

var (
	sameAccountOps = []string{"GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "Encrypt", "Decrypt", "ReEncrypt",
		"DescribeKey", "GetSecretValue", "DescribeSecret", "ListAliasesByKeyId", "GetKeyPolicy", "GetSecretPolicy", "DescribeRegions"}
	crossAccountOps = []string{"GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "Encrypt", "Decrypt", "ReEncrypt",
		"DescribeKey", "GetSecretValue", "DescribeSecret", "ListAliasesByKeyId", "GetKeyPolicy"}
	actionPool = []string{"kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:Decrypt", "kms:Encrypt",
		"kms:DescribeKey", "kms:GetSecretValue", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:ReEncrypt*", "kms:*",
		"kms:Get*", "kms:Describe*", "kms:List*", "kms:DescribeSecret", "kms:GenerateDataKey*", "kms:GetKeyPolicy",
		"kms:GetSecretPolicy", "kms:ListAliasesByKeyId", "KMS:decrypt", "kms:?ncrypt", "kms:Gen*Key", "ecs:*"}
	keyPrincipals = []string{"acs:ram::" + acctA + ":*", "acs:ram::" + acctA + ":root", "acs:ram::" + acctA + ":user/alice",
		"acs:ram::" + acctA + ":user/carol", "acs:ram::" + acctA + ":role/app", "acs:ram::" + acctB + ":user/bob",
		"acs:ram::" + acctB + ":role/ops", "acs:ram::" + acctB + ":*", "acs:ram::" + acctB + ":root"}
)

func ramResources(region string) []string {
	a := "acs:kms:" + region + ":" + acctA + ":"
	return []string{a + "key/key1", a + "key/key2", a + "alias/app", a + "alias/dst", a + "secret/db", a + "secret/d*",
		"acs:kms:*:" + acctA + ":key/*", "acs:kms:*:" + acctA + ":alias/*", "acs:kms:*:" + acctA + ":secret/*",
		"acs:kms:*:" + acctA + ":*", "acs:kms:*:" + acctB + ":*", a + "key/KEY1", a + "key/key?", "*"}
}

// condPool yields a random condition: every RAM operator, on a key the
// request carries or lacks.
func randomCond(rng *rand.Rand) cond {
	type family struct {
		ops     []string
		present []string // keys the request carries (when the resource is tagged)
		absent  []string
		vals    []string
	}
	fams := []family{
		{[]string{"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike"},
			[]string{"kms:tag/env", "kms:tag/ENV", "acs:SourceIp"}, []string{"kms:tag/team"},
			[]string{"prod", "PROD", "dev", "pr*", "p?od", "203.0.113.*"}},
		{[]string{"NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals"},
			[]string{"kms:tag/tier"}, []string{"kms:tag/size"}, []string{"3", "5", "7.5"}},
		{[]string{"DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals"},
			[]string{"acs:CurrentTime"}, []string{"kms:tag/expiry"}, []string{"2020-01-01T00:00:00Z", "2099-12-31T23:59:59Z", "2021-06-01T08:00:00+08:00"}},
		{[]string{"Bool"}, []string{"acs:SecureTransport"}, []string{"acs:MFAPresent"}, []string{"true", "false"}},
		{[]string{"IpAddress", "NotIpAddress"}, []string{"acs:SourceIp"}, []string{"acs:VpcSourceIp"},
			[]string{"203.0.113.0/24", "203.0.113.7", "198.51.100.0/24", "10.0.0.0/8", "127.0.0.1", "::1/128"}},
	}
	f := fams[rng.IntN(len(fams))]
	keys := f.present
	if rng.IntN(3) == 0 {
		keys = f.absent
	}
	return cond{Op: f.ops[rng.IntN(len(f.ops))], Key: keys[rng.IntN(len(keys))], Vals: pick(rng, f.vals, 1+rng.IntN(2))}
}

func randomPolicy(rng *rand.Rand, resourcePolicy bool, region string) policy {
	var p policy
	for range 1 + rng.IntN(4) {
		s := stmt{Deny: rng.IntN(4) == 0, NotAction: rng.IntN(8) == 0}
		s.Actions = pick(rng, actionPool, 1+rng.IntN(3))
		if resourcePolicy {
			s.Resources = []string{"*"}
			s.Principals = pick(rng, keyPrincipals, 1+rng.IntN(2))
			for i, a := range s.Actions {
				if !strings.HasPrefix(strings.ToLower(a), "kms:") {
					s.Actions[i] = "kms:*" // key and secret policies name kms: actions only
				}
			}
		} else {
			s.Resources = pick(rng, ramResources(region), 1+rng.IntN(3))
		}
		for range max(0, rng.IntN(4)-1) {
			s.Conds = append(s.Conds, randomCond(rng))
		}
		p = append(p, s)
	}
	return p
}

func pick(rng *rand.Rand, from []string, n int) []string {
	out := make([]string, 0, n)
	for _, i := range rng.Perm(len(from))[:n] {
		out = append(out, from[i])
	}
	return out
}

func newScenario(rng *rand.Rand) scenario {
	region := testkms.DefaultRegion
	sc := scenario{
		Who:        principalKind(rng.IntN(len(principalNames))),
		Inst1:      rng.IntN(3) > 0,
		Inst2:      rng.IntN(2) == 0,
		Tagged:     rng.IntN(2) == 0,
		Tags2:      rng.IntN(3),
		SecretSelf: rng.IntN(2) == 0,
		SecretTags: rng.IntN(2) == 0,
		BlobAlias:  rng.IntN(2) == 0,
	}
	if rng.IntN(2) == 0 {
		sc.SourceIP = []string{"203.0.113.7", "198.51.100.20"}[rng.IntN(2)]
	}
	ops := sameAccountOps
	if sc.Who.cross() {
		ops = crossAccountOps
	}
	sc.Op = ops[rng.IntN(len(ops))]
	switch sc.Op {
	case "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "Encrypt", "DescribeKey": // the calls that take an alias
		sc.ByAlias = rng.IntN(3) == 0
	case "ReEncrypt":
		sc.DstAlias = rng.IntN(2) == 0
	}
	if sc.Who != rootA && sc.Who != rootB && rng.IntN(8) > 0 { // no RAM policy attaches to a root
		sc.RAM = randomPolicy(rng, false, region)
	}
	if sc.Who == groupUserA {
		sc.Group = randomPolicy(rng, false, region)
	}
	if sc.Inst1 && rng.IntN(3) > 0 {
		sc.Key1 = randomPolicy(rng, true, region)
	}
	if sc.Inst2 && rng.IntN(3) > 0 {
		sc.Key2 = randomPolicy(rng, true, region)
	}
	if sc.secretInInstance() && rng.IntN(2) == 0 {
		sc.Secret = randomPolicy(rng, true, region)
		for i := range sc.Secret {
			for j, a := range sc.Secret[i].Actions {
				// secret policies name secret actions mostly
				if rng.IntN(2) == 0 && !strings.Contains(a, "*") {
					sc.Secret[i].Actions[j] = []string{"kms:GetSecretValue", "kms:DescribeSecret", "kms:GetSecretPolicy"}[rng.IntN(3)]
				}
			}
		}
	}
	return sc
}

func (s scenario) key1Tags() map[string]string {
	if s.Tagged {
		return map[string]string{"env": "prod", "tier": "5"}
	}
	return nil
}

func (s scenario) key2Tags() map[string]string {
	return []map[string]string{nil, {"env": "dev"}, {"env": "prod", "tier": "7"}}[s.Tags2]
}

// A secret is in the KMS instance of the key that encrypts it; one under
// the service-managed key is in none.
func (s scenario) secretInInstance() bool { return s.SecretSelf && s.Inst1 }

// ---------------------------------------------------------------------
// Running a scenario on both sides

// harness is one emulator and one HTTP transport, reused by every scenario
// a worker runs.
type harness struct {
	srv *testkms.Server
	tr  *http.Transport
}

func newHarness() (*harness, error) {
	srv, err := testkms.New(testkms.Options{})
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second}
	return &harness{srv: srv, tr: tr}, nil
}

func (h *harness) close() {
	h.tr.CloseIdleConnections()
	_ = h.srv.Close()
}

// comparison is what each side said about one scenario.
type comparison struct {
	preflight, emulator bool
	emulatorErr         string
	preflightText       string
	preflightDenied     []string // actions the preflight does not allow
	deniedAction        string   // the action the emulator's 403 names
}

func (c comparison) agree() bool {
	if c.preflight != c.emulator {
		return false
	}
	// The action the emulator denied first must be one the preflight
	// reports as not allowed.
	return c.emulator || c.deniedAction == "" || containsFold(c.preflightDenied, c.deniedAction)
}

func (c comparison) String() string {
	return fmt.Sprintf("preflight allowed=%v, emulator allowed=%v (emulator: %s; emulator denied %q, preflight's unmet actions %v)\npreflight report:\n%s",
		c.preflight, c.emulator, c.emulatorErr, c.deniedAction, c.preflightDenied, c.preflightText)
}

// classify names the known class of a disagreement, or "".
func (h *harness) classify(sc scenario, res comparison) string {
	if res.agree() {
		return "agree"
	}
	return ""
}

// minimise shrinks sc while keep(candidate) holds, greedily: the first
// smaller candidate that keeps the disagreement replaces sc, until none
// does (or a budget of runs is spent).
func (h *harness) minimise(sc scenario, keep func(scenario, comparison) bool) (scenario, comparison) {
	best, _ := h.compare(sc)
	for budget := 2000; budget > 0; {
		improved := false
		for _, c := range shrinks(sc) {
			budget--
			r, err := h.compare(c)
			if err == nil && keep(c, r) {
				sc, best, improved = c, r, true
				break
			}
			if budget <= 0 {
				break
			}
		}
		if !improved {
			break
		}
	}
	return sc, best
}

// shrinks lists the scenarios one step smaller than sc.
func shrinks(sc scenario) []scenario {
	var out []scenario
	pols := []*policy{&sc.RAM, &sc.Group, &sc.Key1, &sc.Key2, &sc.Secret}
	for pi := range pols {
		p := *pols[pi]
		if p == nil {
			continue
		}
		with := func(np policy) {
			c := sc
			cp := []*policy{&c.RAM, &c.Group, &c.Key1, &c.Key2, &c.Secret}
			*cp[pi] = np
			out = append(out, c)
		}
		with(nil) // drop the policy
		for si := range p {
			if len(p) > 1 {
				with(slices.Delete(slices.Clone(p), si, si+1))
			}
			s := p[si]
			replace := func(ns stmt) {
				np := slices.Clone(p)
				np[si] = ns
				with(np)
			}
			for ci := range s.Conds {
				ns := s
				ns.Conds = slices.Delete(slices.Clone(s.Conds), ci, ci+1)
				replace(ns)
				if len(s.Conds[ci].Vals) > 1 {
					for vi := range s.Conds[ci].Vals {
						ns := s
						ns.Conds = slices.Clone(s.Conds)
						ns.Conds[ci].Vals = slices.Delete(slices.Clone(s.Conds[ci].Vals), vi, vi+1)
						replace(ns)
					}
				}
			}
			for _, list := range []func(*stmt) *[]string{
				func(s *stmt) *[]string { return &s.Actions },
				func(s *stmt) *[]string { return &s.Resources },
				func(s *stmt) *[]string { return &s.Principals },
			} {
				l := *list(&s)
				for li := range l {
					if len(l) > 1 {
						ns := s
						*list(&ns) = slices.Delete(slices.Clone(l), li, li+1)
						replace(ns)
					}
				}
			}
			if s.NotAction {
				ns := s
				ns.NotAction = false
				replace(ns)
			}
		}
	}
	for _, f := range []func(*scenario) bool{
		func(c *scenario) bool { r := c.ByAlias; c.ByAlias = false; return r },
		func(c *scenario) bool { r := c.DstAlias; c.DstAlias = false; return r },
		func(c *scenario) bool { r := c.BlobAlias; c.BlobAlias = false; return r },
		func(c *scenario) bool { r := c.Tagged; c.Tagged = false; return r },
		func(c *scenario) bool { r := c.Tags2 != 0; c.Tags2 = 0; return r },
		func(c *scenario) bool { r := c.SecretTags; c.SecretTags = false; return r },
		func(c *scenario) bool {
			r := c.Inst1 && c.Key1 == nil && c.Secret == nil
			c.Inst1 = false
			return r
		},
		func(c *scenario) bool {
			r := c.Inst2 && c.Key2 == nil
			c.Inst2 = false
			return r
		},
		func(c *scenario) bool {
			r := c.SecretSelf && c.Secret == nil
			c.SecretSelf = false
			return r
		},
	} {
		c := sc
		if f(&c) {
			out = append(out, c)
		}
	}
	return out
}

// compare sets sc up on the (reset) emulator, asks the preflight, makes the
// call through the real SDK, and returns both answers. An error means the
// scenario could not be run at all (a setup or transport failure, or an
// emulator answer other than success or permission denial).
func (h *harness) compare(sc scenario) (comparison, error) {
	srv := h.srv
	srv.Reset()
	region := srv.Region()
	ctx := context.Background()
	var res comparison

	ko := testkms.KeyOptions{KeyID: "key1", Tags: sc.key1Tags()}
	if sc.Inst1 {
		ko.InstanceID = "kst-hzz000test"
	}
	_, key1, err := srv.CreateKey(acctA, ko)
	if err != nil {
		return res, err
	}
	ko2 := testkms.KeyOptions{KeyID: "key2", Tags: sc.key2Tags()}
	if sc.Inst2 {
		ko2.InstanceID = "kst-hzz000test"
	}
	_, key2, err := srv.CreateKey(acctA, ko2)
	if err != nil {
		return res, err
	}
	if err := srv.CreateAlias(acctA, "alias/app", "key1"); err != nil {
		return res, err
	}
	if err := srv.CreateAlias(acctA, "alias/dst", "key2"); err != nil {
		return res, err
	}
	so := testkms.SecretOptions{}
	if sc.SecretSelf {
		so.EncryptionKeyID = "key1"
	}
	if sc.SecretTags {
		so.Tags = map[string]string{"env": "prod"}
	}
	secretARN, err := srv.CreateSecret(acctA, "db", []byte("pw"), so)
	if err != nil {
		return res, err
	}
	key1Pol, key2Pol, secretPol := sc.Key1, sc.Key2, sc.Secret
	for _, kp := range []struct {
		id   string
		inst bool
		p    policy
	}{{"key1", sc.Inst1, key1Pol}, {"key2", sc.Inst2, key2Pol}} {
		// Only keys in KMS instances support key policies (seed 004).
		if kp.inst && kp.p != nil {
			if err := srv.SetKeyPolicy(acctA, kp.id, kp.p.render()); err != nil {
				return res, err
			}
		}
	}
	if sc.secretInInstance() && secretPol != nil {
		if err := srv.SetSecretPolicy(acctA, "db", secretPol.render()); err != nil {
			return res, err
		}
	}

	root := srv.AddAccount(acctA)
	admin, err := h.client(root)
	if err != nil {
		return res, err
	}
	blobKey := "key1"
	if sc.BlobAlias {
		blobKey = "alias/app"
	}
	blob, err := admin.Encrypt(ctx, &kmsclient.EncryptInput{KeyID: blobKey, Plaintext: []byte("x")})
	if err != nil {
		return res, fmt.Errorf("admin Encrypt: %w", err)
	}

	var cred testkms.Credential
	var holder string
	switch sc.Who {
	case userA:
		cred, holder = srv.AddUser(acctA, "alice"), "acs:ram::"+acctA+":user/alice"
	case groupUserA:
		cred, holder = srv.AddUser(acctA, "carol"), "acs:ram::"+acctA+":user/carol"
		srv.AddGroup(acctA, "devs")
		if err := srv.AddUserToGroup(acctA, "carol", "devs"); err != nil {
			return res, err
		}
	case roleA:
		cred, holder = srv.AssumeRole(acctA, "app", "s1"), "acs:ram::"+acctA+":role/app"
	case rootA:
		cred = root
	case userB:
		srv.AddAccount(acctB)
		cred, holder = srv.AddUser(acctB, "bob"), "acs:ram::"+acctB+":user/bob"
	case roleB:
		srv.AddAccount(acctB)
		cred, holder = srv.AssumeRole(acctB, "ops", "s2"), "acs:ram::"+acctB+":role/ops"
	case rootB:
		cred = srv.AddAccount(acctB)
	}

	// The preflight side: the same policies, read back the way the live
	// preflight reads them (the keys' and secret's effective policies from
	// GetKeyPolicy and GetSecretPolicy; a group's policies count for its
	// member).
	var set localauthz.PolicySet
	addRAM := func(p policy, to string) error {
		if p == nil {
			return nil
		}
		lp, err := localauthz.ParsePolicy([]byte(p.render()), localauthz.RAMPolicy)
		if err != nil {
			return fmt.Errorf("localauthz rejects a RAM policy the generator wrote: %w", err)
		}
		return set.Add(lp, to)
	}
	if sc.RAM != nil {
		if err := srv.AttachPolicy(holder, "app-policy", sc.RAM.render()); err != nil {
			return res, fmt.Errorf("emulator rejects a RAM policy the generator wrote: %w", err)
		}
		if err := addRAM(sc.RAM, holder); err != nil {
			return res, err
		}
	}
	if sc.Group != nil {
		if err := srv.AttachGroupPolicy(acctA, "devs", "team", sc.Group.render()); err != nil {
			return res, fmt.Errorf("emulator rejects a group policy the generator wrote: %w", err)
		}
		if err := addRAM(sc.Group, holder); err != nil {
			return res, err
		}
	}
	for _, k := range []struct{ id, arn string }{{"key1", key1}, {"key2", key2}} {
		doc, err := admin.GetKeyPolicy(ctx, k.id, "")
		if err != nil {
			return res, err
		}
		lp, err := localauthz.ParsePolicy([]byte(doc), localauthz.KeyPolicy)
		if err != nil {
			return res, fmt.Errorf("localauthz rejects key policy %s: %w", doc, err)
		}
		if err := set.Add(lp, k.arn); err != nil {
			return res, err
		}
	}
	sdoc, err := admin.GetSecretPolicy(ctx, "db", "")
	if err != nil {
		return res, err
	}
	lp, err := localauthz.ParsePolicy([]byte(sdoc), localauthz.SecretPolicy)
	if err != nil {
		return res, fmt.Errorf("localauthz rejects secret policy %s: %w", sdoc, err)
	}
	if err := set.Add(lp, secretARN); err != nil {
		return res, err
	}
	srv.EnforcePolicies() // after the admin's reads: a key policy Deny binds the root too

	aliasApp := "acs:kms:" + region + ":" + acctA + ":alias/app"
	aliasDst := "acs:kms:" + region + ":" + acctA + ":alias/dst"
	call := localauthz.Call{Operation: sc.Op, Resource: key1, Facts: localauthz.Facts{
		InstanceResources: map[string]bool{key1: sc.Inst1, key2: sc.Inst2, secretARN: sc.secretInInstance()},
		Tags:              map[string]map[string]string{},
	}}
	if t := sc.key1Tags(); t != nil {
		call.Facts.Tags[key1] = t
	}
	if t := sc.key2Tags(); t != nil {
		call.Facts.Tags[key2] = t
	}
	if sc.SecretTags {
		call.Facts.Tags[secretARN] = map[string]string{"env": "prod"}
	}
	call.Context = localauthz.Context{}
	if sc.SourceIP != "" {
		call.Context.Set("acs:SourceIp", sc.SourceIP)
		if err := srv.SetRequestFacts(cred.AccessKeyID, testkms.RequestFacts{SourceIP: sc.SourceIP}); err != nil {
			return res, err
		}
	}
	call.Context.Set("acs:SecureTransport", "false")
	call.Context.Set("acs:CurrentTime", time.Now().UTC().Format(time.RFC3339))

	// Another account names A's resources by ARN.
	keyRef, dst, secretRef := "key1", "key2", "db"
	if sc.Who.cross() {
		keyRef, dst, secretRef = key1, key2, secretARN
	}
	if sc.ByAlias {
		call.Resource = aliasApp
		call.Facts.AliasTargetKey = key1
		keyRef = "alias/app"
		if sc.Who.cross() {
			keyRef = aliasApp
		}
	}
	switch sc.Op {
	case "ReEncrypt":
		call.Facts.DestinationKey = key2
		if sc.DstAlias {
			call.Facts.DestinationKey, call.Facts.DestinationAliasTargetKey = aliasDst, key2
			dst = "alias/dst"
			if sc.Who.cross() {
				dst = aliasDst
			}
		}
	case "GetSecretValue", "DescribeSecret", "GetSecretPolicy":
		call.Resource = secretARN
		if sc.SecretSelf {
			call.Facts.EncryptionKey, call.Facts.EncryptionKeyType = key1, localauthz.KeyTypeSelfManaged
		} else {
			call.Facts.EncryptionKeyType = localauthz.KeyTypeServiceManaged
		}
	case "DescribeRegions":
		call.Resource = "*"
	}
	rep := set.Check(cred.Principal, call)
	if rep.Err != nil {
		return res, fmt.Errorf("preflight: %w", rep.Err)
	}
	res.preflight = rep.Decision.Effect == localauthz.Allow
	res.preflightText = rep.Text()
	for _, ch := range rep.Checks {
		if ch.Decision.Effect != localauthz.Allow {
			res.preflightDenied = append(res.preflightDenied, ch.Action)
		}
	}

	// The emulator side, through the real SDK.
	c, err := h.client(cred)
	if err != nil {
		return res, err
	}
	switch sc.Op {
	case "GenerateDataKey":
		_, err = c.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: keyRef})
	case "GenerateDataKeyWithoutPlaintext":
		_, err = c.GenerateDataKeyWithoutPlaintext(ctx, &kmsclient.GenerateDataKeyInput{KeyID: keyRef})
	case "Encrypt":
		_, err = c.Encrypt(ctx, &kmsclient.EncryptInput{KeyID: keyRef, Plaintext: []byte("x")})
	case "Decrypt":
		_, err = c.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: blob.CiphertextBlob})
	case "ReEncrypt":
		_, err = c.ReEncrypt(ctx, &kmsclient.ReEncryptInput{CiphertextBlob: blob.CiphertextBlob, DestinationKeyID: dst})
	case "DescribeKey":
		_, err = c.DescribeKey(ctx, keyRef)
	case "GetSecretValue":
		_, err = c.GetSecretValue(ctx, &kmsclient.GetSecretValueInput{SecretName: secretRef})
	case "DescribeSecret":
		_, err = c.DescribeSecret(ctx, secretRef)
	case "GetSecretPolicy":
		_, err = c.GetSecretPolicy(ctx, secretRef, "")
	case "ListAliasesByKeyId":
		_, err = c.ListAliasesByKeyID(ctx, keyRef)
	case "GetKeyPolicy":
		_, err = c.GetKeyPolicy(ctx, keyRef, "")
	case "DescribeRegions":
		err = h.describeRegions(cred)
	default:
		return res, fmt.Errorf("no emulator call for %s", sc.Op)
	}
	if err != nil && !errors.Is(err, kmsclient.ErrAccessDenied) {
		return res, fmt.Errorf("emulator call failed for a reason other than permission: %w", err)
	}
	res.emulator = err == nil
	if err != nil {
		res.emulatorErr = err.Error()
		var ae *kmsclient.APIError
		if errors.As(err, &ae) && ae.AccessDenied != nil {
			res.deniedAction = ae.AccessDenied.Action
		}
	} else {
		res.emulatorErr = "allowed"
	}
	return res, nil
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

func (h *harness) client(cred testkms.Credential) (*kmsclient.Client, error) {
	var p kmsclient.CredentialsProvider = kmsclient.StaticCredentials(cred.AccessKeyID, cred.AccessKeySecret)
	if cred.SecurityToken != "" {
		p = kmsclient.STSCredentials(cred.AccessKeyID, cred.AccessKeySecret, cred.SecurityToken)
	}
	return kmsclient.New(kmsclient.Config{
		Region: h.srv.Region(), Endpoint: "http://" + h.srv.Endpoint(), Credentials: p, MaxAttempts: 1, Transport: h.tr,
	})
}

// client is for the other tests of the package, which start their own
// emulator.
func client(t *testing.T, srv *testkms.Server, cred testkms.Credential) *kmsclient.Client {
	t.Helper()
	var p kmsclient.CredentialsProvider = kmsclient.StaticCredentials(cred.AccessKeyID, cred.AccessKeySecret)
	if cred.SecurityToken != "" {
		p = kmsclient.STSCredentials(cred.AccessKeyID, cred.AccessKeySecret, cred.SecurityToken)
	}
	c, err := kmsclient.New(kmsclient.Config{
		Region: srv.Region(), Endpoint: "http://" + srv.Endpoint(), Credentials: p, MaxAttempts: 1,
	})
	require.NoError(t, err)
	return c
}

// describeRegions calls DescribeRegions with the SDK directly: kmsclient
// has no method for it.
func (h *harness) describeRegions(cred testkms.Credential) error {
	cfg := sdk.NewConfig().WithAutoRetry(false).WithScheme("HTTP").WithHttpTransport(h.tr)
	var p credentials.CredentialsProvider = credentials.NewStaticAKCredentialsProvider(cred.AccessKeyID, cred.AccessKeySecret)
	if cred.SecurityToken != "" {
		p = credentials.NewStaticSTSCredentialsProvider(cred.AccessKeyID, cred.AccessKeySecret, cred.SecurityToken)
	}
	k, err := kms.NewClientWithOptions(h.srv.Region(), cfg, p)
	if err != nil {
		return err
	}
	k.Domain = h.srv.Endpoint()
	k.SetNoProxy("127.0.0.1")
	_, err = k.DescribeRegions(kms.CreateDescribeRegionsRequest())
	if err != nil && strings.Contains(err.Error(), "Forbidden.NoPermission") {
		return fmt.Errorf("%w: DescribeRegions", kmsclient.ErrAccessDenied)
	}
	return err
}

// TestScenarioHarnessHoldsDescriptorsConstant guards the scaling of the
// differential test: running scenarios must not accumulate open files
// (each scenario once kept its own emulator open until the test ended, and
// the test died past ~3,000 scenarios with "too many open files").
func TestScenarioHarnessHoldsDescriptorsConstant(t *testing.T) {
	if _, err := os.ReadDir("/proc/self/fd"); err != nil {
		t.Skip("no /proc/self/fd to count open files")
	}
	openFiles := func() int {
		fds, err := os.ReadDir("/proc/self/fd")
		require.NoError(t, err)
		return len(fds)
	}
	h, err := newHarness()
	require.NoError(t, err)
	defer h.close()
	run := func(from, n int) {
		for i := from; i < from+n; i++ {
			_, err := h.compare(newScenario(scenarioRNG(1, i)))
			require.NoError(t, err)
		}
	}
	run(0, 50) // warm up: connections, the listener
	before := openFiles()
	run(50, 300)
	after := openFiles()
	assert.LessOrEqual(t, after-before, 8, "open files grew from %d to %d over 300 scenarios", before, after)
}
