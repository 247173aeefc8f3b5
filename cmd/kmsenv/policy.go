package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/kmsenvelope/kmsenvelope/localauthz"
	"github.com/kmsenvelope/kmsenvelope/localauthz/cases"
	"github.com/kmsenvelope/kmsenvelope/localauthz/huawei"
)

func newFlagSet(name string, stderr io.Writer, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: kmsenv %s\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// policyTest runs conformance cases: one result per case, then
// "N passed, N failed". Exit 0 only when every case passes.
func policyTest(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("policy test", stderr, "policy test [--json] [--dialect auto|alibaba|huawei] FILE|DIR...")
	asJSON := fs.Bool("json", false, "print one JSON object per case")
	dialectFlag := fs.String("dialect", "auto", "policy dialect of the cases: alibaba, huawei, or auto (detected per case)")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(files) == 0 {
		fs.Usage()
		return exitUsage
	}
	dialect, ok := dialectOption(*dialectFlag, stderr)
	if !ok {
		return exitUsage
	}
	files, err = expandDirs(files)
	if err != nil {
		fmt.Fprintf(stderr, "kmsenv: %v\n", err)
		return exitUsage
	}
	passed, failed, broken := 0, 0, false
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(stderr, "kmsenv: %v\n", err)
			broken = true
			continue
		}
		list, err := cases.Parse(data)
		if err != nil {
			fmt.Fprintf(stderr, "kmsenv: %s: %v\n", f, err)
			broken = true
			continue
		}
		for _, c := range list {
			d := dialect
			if d == "" {
				d = c.Dialect()
			}
			res := c.RunDialect(d)
			if res.Pass {
				passed++
			} else {
				failed++
			}
			if *asJSON {
				line, _ := json.Marshal(res)
				fmt.Fprintf(stdout, "%s\n", line)
				continue
			}
			status := "PASS"
			if !res.Pass {
				status = "FAIL"
			}
			fmt.Fprintf(stdout, "%s %s: %s", status, res.Name, res.Decision)
			if as := res.Assumptions.String(); as != "" {
				fmt.Fprintf(stdout, " (assumes %s)", as)
			}
			if len(res.Problems) > 0 {
				fmt.Fprintf(stdout, ": %s", strings.Join(res.Problems, "; "))
			}
			fmt.Fprintln(stdout)
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	switch {
	case broken:
		return exitUsage
	case failed > 0:
		return exitFail
	}
	return exitOK
}

// expandDirs replaces each directory by the *.json files directly in it.
func expandDirs(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		matches, err := filepath.Glob(filepath.Join(p, "*.json"))
		if err != nil {
			return nil, err
		}
		sort.Strings(matches)
		out = append(out, matches...)
	}
	return out, nil
}

// policyLint prints findings; exit 1 when any is an error.
func policyLint(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("policy lint", stderr, "policy lint [--json] [--dialect auto|alibaba|huawei] [--kind auto|ram|key|secret|identity|scp|resource] FILE...")
	asJSON := fs.Bool("json", false, "print one JSON object per finding")
	kindFlag := fs.String("kind", "auto", "policy kind: ram, key, secret (Alibaba Cloud), identity, scp, resource (Huawei Cloud), or auto (a key or resource policy when a statement has a Principal, else a RAM or identity policy)")
	dialectFlag := fs.String("dialect", "auto", "policy dialect: alibaba, huawei, or auto (Huawei for Version \"5.0\"/\"1.1\" or actions like kms:cmk:decryptData)")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(files) == 0 {
		fs.Usage()
		return exitUsage
	}
	if *kindFlag != "auto" && !validKind(*kindFlag) {
		fmt.Fprintf(stderr, "kmsenv: --kind %q: expected auto, ram, key, secret, identity, scp or resource\n", *kindFlag)
		return exitUsage
	}
	dialect, ok := dialectOption(*dialectFlag, stderr)
	if !ok {
		return exitUsage
	}
	if k := localauthz.PolicyKind(*kindFlag); *kindFlag != "auto" && dialect != "" && cases.DialectOf(k) != dialect {
		fmt.Fprintf(stderr, "kmsenv: --kind %s belongs to the %s dialect, not %s\n", k, cases.DialectOf(k), dialect)
		return exitUsage
	}
	errorsFound, broken := false, false
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(stderr, "kmsenv: %v\n", err)
			broken = true
			continue
		}
		kind := localauthz.PolicyKind(*kindFlag)
		if *kindFlag == "auto" {
			kind = detectKind(data, dialect)
		}
		findings := cases.LintDocument(data, kind)
		if localauthz.HasErrors(findings) {
			errorsFound = true
		}
		for _, fd := range findings {
			if *asJSON {
				line, _ := json.Marshal(struct {
					File string `json:"file"`
					localauthz.Finding
				}{f, fd})
				fmt.Fprintf(stdout, "%s\n", line)
			} else {
				fmt.Fprintf(stdout, "%s: %s\n", f, fd)
			}
		}
		if !*asJSON && len(findings) == 0 {
			fmt.Fprintf(stdout, "%s: no findings (%s policy)\n", f, kind)
		}
	}
	switch {
	case broken:
		return exitUsage
	case errorsFound:
		return exitFail
	}
	return exitOK
}

// dialectOption parses a --dialect value; "" means auto.
func dialectOption(v string, stderr io.Writer) (cases.Dialect, bool) {
	if v == "" || v == "auto" {
		return "", true
	}
	d, ok := cases.ParseDialect(v)
	if !ok {
		fmt.Fprintf(stderr, "kmsenv: --dialect %q: expected auto, alibaba or huawei\n", v)
	}
	return d, ok
}

func validKind(k string) bool {
	for _, v := range cases.PolicyKinds() {
		if string(v) == k {
			return true
		}
	}
	return false
}

// detectKind guesses the kind of a document (see cases.DetectPolicy); a
// dialect forced by --dialect keeps only the Principal test.
func detectKind(doc []byte, dialect cases.Dialect) localauthz.PolicyKind {
	d, kind := cases.DetectPolicy(doc)
	if dialect == "" || dialect == d {
		return kind
	}
	resource := kind == localauthz.KeyPolicy || kind == huawei.ResourcePolicy
	switch {
	case dialect == cases.DialectHuawei && resource:
		return huawei.ResourcePolicy
	case dialect == cases.DialectHuawei:
		return huawei.IdentityPolicy
	case resource:
		return localauthz.KeyPolicy
	}
	return localauthz.RAMPolicy
}

// policySources are the policy flags shared by explain and check.
type policySources struct {
	ram, key, secret multiFlag
	scp, resource    multiFlag // Huawei Cloud
}

func (ps *policySources) register(fs *flag.FlagSet) {
	fs.Var(&ps.ram, "policy", "RAM (Huawei: identity) policy `FILE` of the principal (repeatable)")
	fs.Var(&ps.key, "key-policy", "key policy as `KEY_ARN=FILE` (repeatable)")
	fs.Var(&ps.secret, "secret-policy", "secret policy as `SECRET_ARN=FILE` (repeatable)")
}

func (ps *policySources) registerHuawei(fs *flag.FlagSet) {
	fs.Var(&ps.scp, "scp", "Huawei SCP as `[TARGET=]FILE`, TARGET root, ou:<id> or account:<id> (default: the caller's account; repeatable)")
	fs.Var(&ps.resource, "resource-policy", "Huawei KMS resource policy as `KEY_URN=FILE` (repeatable)")
}

// dialect detects the dialect of the sources: Huawei when SCPs or
// resource policies are given, the principal is a Huawei URN, or the
// first identity policy is written in Huawei's language.
func (ps *policySources) dialect(principal string) cases.Dialect {
	if len(ps.scp) > 0 || len(ps.resource) > 0 || strings.HasPrefix(principal, "iam::") || strings.HasPrefix(principal, "sts::") {
		return cases.DialectHuawei
	}
	if len(ps.key) > 0 || len(ps.secret) > 0 || strings.HasPrefix(principal, "acs:") {
		return cases.DialectAlibaba
	}
	for _, f := range ps.ram {
		if data, err := os.ReadFile(f); err == nil {
			d, _ := cases.DetectPolicy(data)
			return d
		}
	}
	return cases.DialectAlibaba
}

// load parses every policy and adds it to a set of the dialect (with
// addTo, the set's Add); policies are named by file.
func (ps *policySources) load(addTo func(*localauthz.Policy, string) error, byName map[string]*localauthz.Policy, dialect cases.Dialect) error {
	add := func(file, target string, kind localauthz.PolicyKind) error {
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		name := file
		if _, dup := byName[name]; dup {
			name = file + "#" + strconv.Itoa(len(byName))
		}
		p, err := cases.ParsePolicy(data, kind, localauthz.WithName(name))
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		byName[name] = p
		return addTo(p, target)
	}
	identity := localauthz.RAMPolicy
	if dialect == cases.DialectHuawei {
		identity = huawei.IdentityPolicy
		if len(ps.key) > 0 || len(ps.secret) > 0 {
			return fmt.Errorf("--key-policy and --secret-policy are Alibaba Cloud policies; use --resource-policy for Huawei Cloud")
		}
	} else if len(ps.scp) > 0 || len(ps.resource) > 0 {
		return fmt.Errorf("--scp and --resource-policy are Huawei Cloud policies")
	}
	for _, f := range ps.ram {
		if err := add(f, "", identity); err != nil {
			return err
		}
	}
	for _, spec := range ps.scp {
		target, file := "", spec
		if t, f, ok := strings.Cut(spec, "="); ok && (t == "root" || strings.HasPrefix(t, "ou:") || strings.HasPrefix(t, "account:")) {
			target, file = t, f
		}
		if err := add(file, target, huawei.SCP); err != nil {
			return err
		}
	}
	for _, group := range []struct {
		flag  string
		specs multiFlag
		kind  localauthz.PolicyKind
	}{{"key-policy", ps.key, localauthz.KeyPolicy}, {"secret-policy", ps.secret, localauthz.SecretPolicy}, {"resource-policy", ps.resource, huawei.ResourcePolicy}} {
		for _, spec := range group.specs {
			arn, file, ok := strings.Cut(spec, "=")
			if !ok || arn == "" || file == "" {
				return fmt.Errorf("--%s %q: expected ARN=FILE", group.flag, spec)
			}
			if err := add(file, arn, group.kind); err != nil {
				return err
			}
		}
	}
	return nil
}

// policyExplain decides one request (or one operation) and shows the
// deciding statement. Exit 0 when allowed, 1 when denied.
func policyExplain(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("policy explain", stderr, "policy explain --policy FILE... --principal ARN --action ACTION --resource ARN [--context KEY=VALUE]... [--unknown KEY]... [--operation API --fact KEY=VALUE...] [--json]\n"+
		"       kmsenv policy explain --dialect huawei --policy FILE... [--scp [TARGET=]FILE]... [--resource-policy URN=FILE]... --principal URN\n"+
		"           (--action ACTION --resource URN... | --api \"METHOD PATH\" [--resource URN... | --region R --account ID [--key-id K] [--alias A] [--keystore-id S]])\n"+
		"           [--org-path root,ou:<id>,account:<id>] [--management-account] [--context KEY=VALUE]... [--unknown KEY]... [--json]")
	var ps policySources
	ps.register(fs)
	ps.registerHuawei(fs)
	dialectFlag := fs.String("dialect", "auto", "policy dialect: alibaba, huawei, or auto (from the principal and the policies)")
	principal := fs.String("principal", "", "caller `ARN` (acs:ram::<uid>:user/<name>, :role/<name>, :root, acs:sts::<uid>:assumed-role/<role>/<session>; Huawei iam::<account-id>:user:<name>, sts::<account-id>:assumed-agency:<agency>/<session>)")
	action := fs.String("action", "", "KMS `ACTION`, e.g. kms:Decrypt (Huawei kms:cmk:decryptData)")
	var resources multiFlag
	fs.Var(&resources, "resource", "resource `ARN` (Huawei: URN; repeat for units that must all be allowed, such as the key and alias of kms:alias:create)")
	operation := fs.String("operation", "", "KMS `API` to expand into every action it needs (instead of --action; Alibaba Cloud)")
	inInstance := fs.Bool("in-instance", false, "the key or secret is in a KMS instance (key and secret policies apply; Alibaba Cloud)")
	api := fs.String("api", "", "Huawei KMS HTTP request `\"METHOD PATH\"`, e.g. \"POST /v1.0/<project_id>/kms/decrypt-data\" (derives the action from Table 2)")
	region := fs.String("region", "", "Huawei `REGION` of the resources built for --api")
	account := fs.String("account", "", "Huawei `ACCOUNT_ID` owning the resources built for --api")
	keyID := fs.String("key-id", "", "Huawei key `ID` of the --api request body")
	alias := fs.String("alias", "", "Huawei key `ALIAS` of the --api request body")
	keystoreID := fs.String("keystore-id", "", "Huawei keystore `ID` of the --api request body")
	orgPath := fs.String("org-path", "", "Huawei organization `PATH` of the caller's account, e.g. root,ou:ou-1,account:<id> (SCPs)")
	mgmt := fs.Bool("management-account", false, "the caller's account is the organization's management account (SCPs do not apply)")
	var ctxFlags, factFlags, unknownFlags multiFlag
	fs.Var(&ctxFlags, "context", "condition key `KEY=VALUE` of the request (repeatable; repeat a key for several values)")
	fs.Var(&unknownFlags, "unknown", "condition `KEY` whose value the client cannot know but KMS sees, e.g. acs:SourceIp (repeatable); a decision that hinges on it is Conditional")
	fs.Var(&factFlags, "fact", "fact `KEY=VALUE` for --operation: encryptionKey, encryptionKeyType, aliasTargetKey, destinationKey, keyInKmsInstance")
	asJSON := fs.Bool("json", false, "print the decision as JSON")
	extra, err := parseInterleaved(fs, args)
	if err != nil {
		return exitUsage
	}
	ps.ram = append(ps.ram, extra...) // "--policy a.json b.json"
	dialect, ok := dialectOption(*dialectFlag, stderr)
	if !ok {
		return exitUsage
	}
	if dialect == "" {
		dialect = ps.dialect(*principal)
	}
	isHuawei := dialect == cases.DialectHuawei
	switch {
	case *principal == "",
		!isHuawei && (len(resources) != 1 || *action == "" && *operation == ""),
		isHuawei && *api == "" && (*action == "" || len(resources) == 0):
		fs.Usage()
		return exitUsage
	}
	var set localauthz.PolicySet
	var hwSet huawei.PolicySet
	addTo := set.Add
	if isHuawei {
		addTo = hwSet.Add
	}
	byName := map[string]*localauthz.Policy{}
	if err := ps.load(addTo, byName, dialect); err != nil {
		fmt.Fprintf(stderr, "kmsenv: %v\n", err)
		return exitUsage
	}
	ctx, err := parseContext(ctxFlags)
	if err != nil {
		fmt.Fprintf(stderr, "kmsenv: %v\n", err)
		return exitUsage
	}
	ctx, err = withUnknown(ctx, unknownFlags)
	if err != nil {
		fmt.Fprintf(stderr, "kmsenv: %v\n", err)
		return exitUsage
	}
	if isHuawei {
		var org *huawei.Org
		if *orgPath != "" || *mgmt {
			org = &huawei.Org{IsManagementAccount: *mgmt}
			for _, l := range strings.Split(*orgPath, ",") {
				if l = strings.TrimSpace(l); l != "" {
					org.Path = append(org.Path, l)
				}
			}
		}
		var rep huawei.Report
		if *api != "" {
			method, path, ok := strings.Cut(strings.TrimSpace(*api), " ")
			if !ok {
				fmt.Fprintf(stderr, "kmsenv: --api %q: expected \"METHOD PATH\"\n", *api)
				return exitUsage
			}
			rep = hwSet.Check(*principal, huawei.Call{Method: method, Path: strings.TrimSpace(path), Region: *region, Account: *account,
				KeyID: *keyID, Alias: *alias, KeystoreID: *keystoreID, Resources: resources, Context: ctx, Org: org})
			if rep.Err != nil {
				fmt.Fprintf(stderr, "kmsenv: %v\n", rep.Err)
				return exitUsage
			}
			if *action != "" && len(rep.Checks) > 0 && !strings.EqualFold(rep.Checks[0].Action, *action) {
				fmt.Fprintf(stderr, "kmsenv: --api %s is authorized by %s, not %s\n", *api, rep.Checks[0].Action, *action)
				return exitUsage
			}
		} else {
			reqs := make([]huawei.Request, len(resources))
			for i, r := range resources {
				reqs[i] = huawei.Request{Principal: *principal, Action: *action, Resource: r, Context: ctx, Org: org}
			}
			d, checks := hwSet.EvaluateAll(reqs...)
			if d.Err != nil {
				fmt.Fprintf(stderr, "kmsenv: %v\n", d.Err)
				return exitUsage
			}
			rep = huawei.Report{Principal: *principal, Call: huawei.Call{Resources: resources, Context: ctx, Org: org}, Action: *action, Decision: d, Checks: checks}
		}
		if *asJSON {
			out, _ := json.Marshal(rep)
			fmt.Fprintf(stdout, "%s\n", out)
		} else {
			fmt.Fprint(stdout, rep.Text())
			writeDecider(stdout, rep.Decision.Decider, byName)
		}
		return exitCode(rep.Decision.Effect)
	}
	resource := &resources[0]
	if *operation != "" {
		facts, err := parseFacts(factFlags)
		if err != nil {
			fmt.Fprintf(stderr, "kmsenv: %v\n", err)
			return exitUsage
		}
		facts.InKMSInstance = facts.InKMSInstance || *inInstance
		rep := set.Check(*principal, localauthz.Call{Operation: *operation, Resource: *resource, Facts: facts, Context: ctx})
		if rep.Err != nil {
			fmt.Fprintf(stderr, "kmsenv: %v\n", rep.Err)
			return exitUsage
		}
		if *asJSON {
			out, _ := json.Marshal(rep)
			fmt.Fprintf(stdout, "%s\n", out)
		} else {
			fmt.Fprint(stdout, rep.Text())
			writeDecider(stdout, rep.Decision.Decider, byName)
		}
		return exitCode(rep.Decision.Effect)
	}
	d := set.Evaluate(localauthz.Request{Principal: *principal, Action: *action, Resource: *resource, Context: ctx, InKMSInstance: *inInstance})
	if d.Err != nil {
		fmt.Fprintf(stderr, "kmsenv: %v\n", d.Err)
		return exitUsage
	}
	if *asJSON {
		out, _ := json.Marshal(d)
		fmt.Fprintf(stdout, "%s\n", out)
		return exitCode(d.Effect)
	}
	fmt.Fprintf(stdout, "%s %s on %s: %s\n", *principal, *action, *resource, d.Effect)
	writeDecider(stdout, d.Decider, byName)
	rep := localauthz.Report{Principal: *principal, Decision: d}
	text := rep.Text()
	// drop the report's header line; the request line above replaces it
	if i := strings.IndexByte(text, '\n'); i >= 0 {
		text = text[i+1:]
	}
	fmt.Fprint(stdout, text)
	return exitCode(d.Effect)
}

func writeDecider(w io.Writer, ref *localauthz.StatementRef, byName map[string]*localauthz.Policy) {
	if ref == nil {
		return
	}
	fmt.Fprintf(w, "  decided by %s\n", ref)
	if p := byName[ref.Policy]; p != nil {
		if js := p.StatementJSON(ref.Statement); js != nil {
			fmt.Fprintf(w, "    %s\n", js)
		}
	}
}

// exitCode is 0 for Allow only: a Conditional decision is not an allow
// the client can vouch for (KMS decides).
func exitCode(e localauthz.Effect) int {
	if e == localauthz.Allow {
		return exitOK
	}
	return exitFail
}

// withUnknown marks the --unknown keys in ctx (a key may not be given a
// value with --context as well).
func withUnknown(ctx localauthz.Context, keys []string) (localauthz.Context, error) {
	if len(keys) == 0 {
		return ctx, nil
	}
	if ctx == nil {
		ctx = localauthz.Context{}
	}
	for _, k := range keys {
		if k == "" || strings.ContainsAny(k, "= \t") {
			return nil, fmt.Errorf("--unknown %q: expected a condition key such as acs:SourceIp", k)
		}
		for old := range ctx {
			if strings.EqualFold(old, k) && !ctx.Unknown(old) {
				return nil, fmt.Errorf("--unknown %s: the key also has a value (--context %s=...)", k, old)
			}
		}
	}
	ctx.SetUnknown(keys...)
	return ctx, nil
}

func parseContext(kvs []string) (localauthz.Context, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	ctx := localauthz.Context{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--context %q: expected KEY=VALUE", kv)
		}
		ctx[k] = append(ctx[k], v)
	}
	return ctx, nil
}

func parseFacts(kvs []string) (localauthz.Facts, error) {
	var f localauthz.Facts
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return f, fmt.Errorf("--fact %q: expected KEY=VALUE", kv)
		}
		switch k {
		case "encryptionKey":
			f.EncryptionKey = v
		case "encryptionKeyType":
			f.EncryptionKeyType = localauthz.KeyType(v)
		case "aliasTargetKey":
			f.AliasTargetKey = v
		case "destinationKey":
			f.DestinationKey = v
		case "keyInKmsInstance":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return f, fmt.Errorf("--fact %q: expected true or false", kv)
			}
			f.InKMSInstance = b
		default:
			return f, fmt.Errorf("--fact %q: unknown fact (encryptionKey, encryptionKeyType, aliasTargetKey, destinationKey, keyInKmsInstance)", kv)
		}
	}
	return f, nil
}

// manifest is the application manifest of "policy check" (schema in doc.go).
type manifest struct {
	Principal string             `json:"principal"`
	Context   localauthz.Context `json:"context,omitempty"`
	// UnknownContext lists condition keys of every call that the client
	// cannot know but KMS sees (["acs:SourceIp"]).
	UnknownContext []string          `json:"unknownContext,omitempty"`
	Policies       []manifestPolicy  `json:"policies,omitempty"`
	Operations     []localauthz.Call `json:"operations"`
}

type manifestPolicy struct {
	Type   localauthz.PolicyKind `json:"type"`
	File   string                `json:"file"`
	Target string                `json:"target,omitempty"`
}

func readManifest(path string) (*manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if m.Principal == "" {
		return nil, fmt.Errorf("%s: missing principal", path)
	}
	if len(m.Operations) == 0 {
		return nil, fmt.Errorf("%s: no operations", path)
	}
	return &m, nil
}

// policyCheck preflights every operation of a manifest. Exit 1 if any is
// not allowed.
func policyCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("policy check", stderr, "policy check --manifest FILE [--policy FILE]... [--key-policy ARN=FILE]... [--json]")
	var ps policySources
	ps.register(fs)
	manifestPath := fs.String("manifest", "", "application manifest `FILE` (principal, operations, facts)")
	asJSON := fs.Bool("json", false, "print the reports as JSON")
	extra, err := parseInterleaved(fs, args)
	if err != nil {
		return exitUsage
	}
	ps.ram = append(ps.ram, extra...)
	if *manifestPath == "" {
		fs.Usage()
		return exitUsage
	}
	m, err := readManifest(*manifestPath)
	if err != nil {
		fmt.Fprintf(stderr, "kmsenv: %v\n", err)
		return exitUsage
	}
	dir := filepath.Dir(*manifestPath)
	for _, mp := range m.Policies {
		file := mp.File
		if !filepath.IsAbs(file) {
			file = filepath.Join(dir, file)
		}
		switch mp.Type {
		case localauthz.RAMPolicy:
			ps.ram = append(ps.ram, file)
		case localauthz.KeyPolicy:
			ps.key = append(ps.key, mp.Target+"="+file)
		case localauthz.SecretPolicy:
			ps.secret = append(ps.secret, mp.Target+"="+file)
		default:
			fmt.Fprintf(stderr, "kmsenv: %s: policy %q: type %q; expected ram, key or secret\n", *manifestPath, mp.File, mp.Type)
			return exitUsage
		}
	}
	var set localauthz.PolicySet
	if err := ps.load(set.Add, map[string]*localauthz.Policy{}, cases.DialectAlibaba); err != nil {
		fmt.Fprintf(stderr, "kmsenv: %v\n", err)
		return exitUsage
	}
	calls := make([]localauthz.Call, len(m.Operations))
	for i, c := range m.Operations {
		if c.Context == nil {
			c.Context = m.Context
		}
		if len(m.UnknownContext) > 0 {
			ctx := make(localauthz.Context, len(c.Context)+len(m.UnknownContext))
			for k, v := range c.Context {
				ctx[k] = v
			}
			ctx.SetUnknown(m.UnknownContext...)
			c.Context = ctx
		}
		calls[i] = c
	}
	reports := set.Preflight(m.Principal, calls...)
	allowed, conditional := 0, 0
	var missing []localauthz.Missing
	var unmet []localauthz.Unmet
	broken := false
	for _, r := range reports {
		if r.Err != nil {
			broken = true
		}
		switch r.Decision.Effect {
		case localauthz.Allow:
			allowed++
		case localauthz.Conditional:
			conditional++
		}
		missing = append(missing, r.Decision.Missing...)
		unmet = append(unmet, r.Decision.Unmet...)
	}
	grants := localauthz.SuggestGrants(m.Principal, missing, unmet...)
	if *asJSON {
		out, _ := json.MarshalIndent(struct {
			Principal string              `json:"principal"`
			Reports   []localauthz.Report `json:"reports"`
			Grants    []localauthz.Grant  `json:"grants"`
		}{m.Principal, reports, grants}, "", "  ")
		fmt.Fprintf(stdout, "%s\n", out)
	} else {
		for _, r := range reports {
			fmt.Fprint(stdout, r.Text())
		}
		if conditional > 0 {
			fmt.Fprintf(stdout, "%d operations: %d allowed, %d conditional (KMS decides), %d not allowed\n", len(reports), allowed, conditional, len(reports)-allowed-conditional)
		} else {
			fmt.Fprintf(stdout, "%d operations: %d allowed, %d not allowed\n", len(reports), allowed, len(reports)-allowed)
		}
		if len(reports) > 1 {
			for _, g := range grants {
				if g.Where == localauthz.WhereRAM {
					fmt.Fprintf(stdout, "all missing RAM permissions of %s:\n  %s\n", localauthz.PolicyHolder(m.Principal), g.Policy)
				}
			}
		}
	}
	if broken {
		for _, r := range reports {
			if r.Err != nil {
				fmt.Fprintf(stderr, "kmsenv: %s %s: %v\n", r.Call.Operation, r.Call.Resource, r.Err)
			}
		}
		return exitFail
	}
	if allowed != len(reports) {
		return exitFail
	}
	return exitOK
}
