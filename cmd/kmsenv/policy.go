package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kmsenvelope/kmsenvelope/localauthz"
	"github.com/kmsenvelope/kmsenvelope/localauthz/cases"
	"github.com/kmsenvelope/kmsenvelope/localauthz/huawei"
)

func (a *app) policyCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "policy",
		Short: "Test, lint, explain and preflight-check RAM and KMS policies (Alibaba Cloud) and IAM, SCP and KMS policies (Huawei Cloud)",
		Long: `Offline policy tools built on package localauthz, in two dialects: Alibaba
Cloud (RAM identity policies, KMS key and secret policies) and Huawei Cloud
(IAM identity policies 5.0 and 1.1, Organizations SCPs, KMS resource
policies). The dialect defaults to auto (see 'go doc
github.com/kmsenvelope/kmsenvelope/cmd/kmsenv'). Every FILE may be "-" for
stdin (once per command); inputs are limited to 4 MiB.`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRunE,
	}
	c.AddCommand(a.policyTestCommand(), a.policyLintCommand(), a.policyExplainCommand(), a.policyCheckCommand())
	return c
}

func (a *app) policyTestCommand() *cobra.Command {
	var asJSON bool
	var dialect string
	c := &cobra.Command{
		Use:   "test [--json] [--dialect auto|alibaba|huawei] FILE|DIR...",
		Short: "Run policy conformance cases; exit 0 only when every case passes",
		Long: `Runs conformance cases (the schema of authz-cases/README.md; for Huawei Cloud
its huawei-notes.md variant). A directory stands for the *.json files in it;
"-" reads cases from stdin. An input without any case (an empty directory, a
file holding null or []) is an error: an emptied case file must not pass.
The last line is "N passed, N failed".`,
		Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, files []string) error {
			if len(files) == 0 {
				return usagef("policy test: no FILE or DIR given (see 'kmsenv policy test --help')")
			}
			return status(a.policyTest(files, asJSON, dialect))
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per case")
	c.Flags().StringVar(&dialect, "dialect", "auto", "policy dialect of the cases: alibaba, huawei, or auto (detected per case)")
	_ = c.RegisterFlagCompletionFunc("dialect", fixedCompletion("auto", "alibaba", "huawei"))
	return c
}

// fixedCompletion completes a flag from a fixed list of values.
func fixedCompletion(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// policyTest runs conformance cases: one result per case, then
// "N passed, N failed". Exit 0 only when every case passes; 2 when an
// input is unreadable or holds no case.
func (a *app) policyTest(files []string, asJSON bool, dialectFlag string) int {
	stdout, stderr := a.stdout, a.stderr
	dialect, ok := dialectOption(dialectFlag, stderr)
	if !ok {
		return exitUsage
	}
	files, err := expandDirs(files)
	if err != nil {
		fmt.Fprintf(stderr, "kmsenv: %v\n", err)
		return exitUsage
	}
	passed, failed, broken := 0, 0, false
	for _, f := range files {
		data, err := a.readInput(f, maxPolicyInput)
		if err != nil {
			fmt.Fprintf(stderr, "kmsenv: %v\n", err)
			broken = true
			continue
		}
		list, err := cases.Parse(data)
		if err != nil {
			fmt.Fprintf(stderr, "kmsenv: %s: %v\n", displayName(f), err)
			broken = true
			continue
		}
		if len(list) == 0 {
			// null, [] or an empty file: a case file emptied by mistake
			// must not pass CI.
			fmt.Fprintf(stderr, "kmsenv: %s: no cases (the file holds an empty case list)\n", displayName(f))
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
			if asJSON {
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
	case passed+failed == 0:
		fmt.Fprintf(stderr, "kmsenv: no cases found\n")
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
		if p == "-" {
			out = append(out, p)
			continue
		}
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
		if len(matches) == 0 {
			return nil, fmt.Errorf("%s: no *.json case files in the directory", p)
		}
		sort.Strings(matches)
		out = append(out, matches...)
	}
	return out, nil
}

func (a *app) policyLintCommand() *cobra.Command {
	var asJSON bool
	var kind, dialect string
	c := &cobra.Command{
		Use:   "lint [--json] [--dialect auto|alibaba|huawei] [--kind K] FILE...",
		Short: "Report risky or ineffective policy parts; exit 1 when any finding is an error",
		Long: `Prints findings as "FILE: severity code path: message" (see localauthz.Lint
for the codes). The kind defaults to auto: the dialect is detected per file
(or set with --dialect), then a key (Huawei: resource) policy when any
statement has a Principal, else a RAM (Huawei: identity) policy; an SCP must
be named with --kind scp. "-" reads a policy from stdin.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, files []string) error {
			if len(files) == 0 {
				return usagef("policy lint: no FILE given (see 'kmsenv policy lint --help')")
			}
			return status(a.policyLint(files, asJSON, kind, dialect))
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per finding")
	c.Flags().StringVar(&kind, "kind", "auto", "policy kind: ram, key, secret (Alibaba Cloud), identity, scp, resource (Huawei Cloud), or auto (a key or resource policy when a statement has a Principal, else a RAM or identity policy)")
	c.Flags().StringVar(&dialect, "dialect", "auto", "policy dialect: alibaba, huawei, or auto (Huawei for Version \"5.0\"/\"1.1\" or actions like kms:cmk:decryptData)")
	_ = c.RegisterFlagCompletionFunc("dialect", fixedCompletion("auto", "alibaba", "huawei"))
	_ = c.RegisterFlagCompletionFunc("kind", fixedCompletion("auto", "ram", "key", "secret", "identity", "scp", "resource"))
	return c
}

// policyLint prints findings; exit 1 when any is an error.
func (a *app) policyLint(files []string, asJSON bool, kindFlag, dialectFlag string) int {
	stdout, stderr := a.stdout, a.stderr
	if kindFlag != "auto" && !validKind(kindFlag) {
		fmt.Fprintf(stderr, "kmsenv: --kind %q: expected auto, ram, key, secret, identity, scp or resource\n", kindFlag)
		return exitUsage
	}
	dialect, ok := dialectOption(dialectFlag, stderr)
	if !ok {
		return exitUsage
	}
	if k := localauthz.PolicyKind(kindFlag); kindFlag != "auto" && dialect != "" && cases.DialectOf(k) != dialect {
		fmt.Fprintf(stderr, "kmsenv: --kind %s belongs to the %s dialect, not %s\n", k, cases.DialectOf(k), dialect)
		return exitUsage
	}
	errorsFound, broken := false, false
	for _, f := range files {
		data, err := a.readInput(f, maxPolicyInput)
		if err != nil {
			fmt.Fprintf(stderr, "kmsenv: %v\n", err)
			broken = true
			continue
		}
		kind := localauthz.PolicyKind(kindFlag)
		if kindFlag == "auto" {
			kind = detectKind(data, dialect)
		}
		findings := cases.LintDocument(data, kind)
		if localauthz.HasErrors(findings) {
			errorsFound = true
		}
		for _, fd := range findings {
			if asJSON {
				line, _ := json.Marshal(struct {
					File string `json:"file"`
					localauthz.Finding
				}{f, fd})
				fmt.Fprintf(stdout, "%s\n", line)
			} else {
				fmt.Fprintf(stdout, "%s: %s\n", f, fd)
			}
		}
		if !asJSON && len(findings) == 0 {
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
	ram, key, secret []string
	scp, resource    []string // Huawei Cloud

	a    *app
	docs map[string][]byte // documents read so far, by path ("-" is stdin, read once)
}

func (ps *policySources) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&ps.ram, "policy", nil, "RAM (Huawei: identity) policy `FILE` of the principal (repeatable; - for stdin)")
	fs.StringArrayVar(&ps.key, "key-policy", nil, "key policy as `KEY_ARN=FILE` (repeatable)")
	fs.StringArrayVar(&ps.secret, "secret-policy", nil, "secret policy as `SECRET_ARN=FILE` (repeatable)")
}

func (ps *policySources) registerHuawei(fs *pflag.FlagSet) {
	fs.StringArrayVar(&ps.scp, "scp", nil, "Huawei SCP as `[TARGET=]FILE`, TARGET root, ou:<id> or account:<id> (default: the caller's account; repeatable)")
	fs.StringArrayVar(&ps.resource, "resource-policy", nil, "Huawei KMS resource policy as `KEY_URN=FILE` (repeatable)")
}

// read returns a policy document through the size limit, reading each
// path once (so "-" can be both detected and loaded).
func (ps *policySources) read(path string) ([]byte, error) {
	if data, ok := ps.docs[path]; ok {
		return data, nil
	}
	data, err := ps.a.readInput(path, maxPolicyInput)
	if err != nil {
		return nil, err
	}
	if ps.docs == nil {
		ps.docs = map[string][]byte{}
	}
	ps.docs[path] = data
	return data, nil
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
		if data, err := ps.read(f); err == nil {
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
		data, err := ps.read(file)
		if err != nil {
			return err
		}
		name := file
		if _, dup := byName[name]; dup {
			name = file + "#" + strconv.Itoa(len(byName))
		}
		p, err := cases.ParsePolicy(data, kind, localauthz.WithName(name))
		if err != nil {
			return fmt.Errorf("%s: %w", displayName(file), err)
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
		specs []string
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

// explainOptions are the flags of policy explain.
type explainOptions struct {
	ps                                                 policySources
	dialect, principal, action, operation, api         string
	region, account, keyID, alias, keystoreID, orgPath string
	resources, ctxFlags, factFlags, unknownFlags       []string
	inInstance, mgmt, asJSON                           bool
}

func (a *app) policyExplainCommand() *cobra.Command {
	o := &explainOptions{ps: policySources{a: a}}
	c := &cobra.Command{
		Use: "explain --policy FILE... --principal ARN (--action ACTION | --operation API [--fact K=V]...) --resource ARN [flags]",
		Example: `  kmsenv policy explain --policy FILE... [--key-policy KEY_ARN=FILE]... \
      --principal ARN (--action ACTION | --operation API [--fact K=V]...) \
      --resource ARN [--context KEY=VALUE]... [--unknown KEY]... [--in-instance] [--json]
  kmsenv policy explain --dialect huawei --policy FILE... [--scp [TARGET=]FILE]... \
      [--resource-policy KEY_URN=FILE]... --principal URN \
      (--action ACTION --resource URN... | --api "METHOD PATH" [--resource URN... | \
       --region R --account ID [--key-id K] [--alias A] [--keystore-id S]]) \
      [--org-path root,ou:<id>,account:<id>] [--management-account] \
      [--context KEY=VALUE]... [--unknown KEY]... [--json]`,
		Short: "Decide one request and show the deciding statement; exit 0 when allowed, 1 when not",
		Long: `Decides one request and prints the decision, the deciding statement (as
canonical JSON), the missing pairs and where to grant them, absent condition
keys and the assumptions made. With --operation the API is expanded into
every (action, resource) pair it needs. Arguments after the flags are more
--policy files.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, extra []string) error {
			return a.policyExplain(o, extra)
		},
	}
	fs := c.Flags()
	o.ps.register(fs)
	o.ps.registerHuawei(fs)
	fs.StringVar(&o.dialect, "dialect", "auto", "policy dialect: alibaba, huawei, or auto (from the principal and the policies)")
	fs.StringVar(&o.principal, "principal", "", "caller `ARN` (acs:ram::<uid>:user/<name>, :role/<name>, :root, acs:sts::<uid>:assumed-role/<role>/<session>; Huawei iam::<account-id>:user:<name>, sts::<account-id>:assumed-agency:<agency>/<session>)")
	fs.StringVar(&o.action, "action", "", "KMS `ACTION`, e.g. kms:Decrypt (Huawei kms:cmk:decryptData)")
	fs.StringArrayVar(&o.resources, "resource", nil, "resource `ARN` (Huawei: URN; repeat for units that must all be allowed, such as the key and alias of kms:alias:create)")
	fs.StringVar(&o.operation, "operation", "", "KMS `API` to expand into every action it needs (instead of --action; Alibaba Cloud)")
	fs.BoolVar(&o.inInstance, "in-instance", false, "the key or secret is in a KMS instance (key and secret policies apply; Alibaba Cloud)")
	fs.StringVar(&o.api, "api", "", "Huawei KMS HTTP request `\"METHOD PATH\"`, e.g. \"POST /v1.0/<project_id>/kms/decrypt-data\" (derives the action from Table 2)")
	fs.StringVar(&o.region, "region", "", "Huawei `REGION` of the resources built for --api")
	fs.StringVar(&o.account, "account", "", "Huawei `ACCOUNT_ID` owning the resources built for --api")
	fs.StringVar(&o.keyID, "key-id", "", "Huawei key `ID` of the --api request body")
	fs.StringVar(&o.alias, "alias", "", "Huawei key `ALIAS` of the --api request body")
	fs.StringVar(&o.keystoreID, "keystore-id", "", "Huawei keystore `ID` of the --api request body")
	fs.StringVar(&o.orgPath, "org-path", "", "Huawei organization `PATH` of the caller's account, e.g. root,ou:ou-1,account:<id> (SCPs)")
	fs.BoolVar(&o.mgmt, "management-account", false, "the caller's account is the organization's management account (SCPs do not apply)")
	fs.StringArrayVar(&o.ctxFlags, "context", nil, "condition key `KEY=VALUE` of the request (repeatable; repeat a key for several values)")
	fs.StringArrayVar(&o.unknownFlags, "unknown", nil, "condition `KEY` whose value the client cannot know but KMS sees, e.g. acs:SourceIp (repeatable); a decision that hinges on it is Conditional")
	fs.StringArrayVar(&o.factFlags, "fact", nil, "fact `KEY=VALUE` for --operation: encryptionKey, encryptionKeyType, aliasTargetKey, destinationKey, keyInKmsInstance")
	fs.BoolVar(&o.asJSON, "json", false, "print the decision as JSON")
	_ = c.RegisterFlagCompletionFunc("dialect", fixedCompletion("auto", "alibaba", "huawei"))
	return c
}

// missingExplainFlags names the flags a request still needs, in one line.
func missingExplainFlags(o *explainOptions, isHuawei bool) string {
	var miss []string
	if o.principal == "" {
		miss = append(miss, "--principal")
	}
	if isHuawei {
		if o.api == "" {
			if o.action == "" {
				miss = append(miss, "--action (or --api)")
			}
			if len(o.resources) == 0 {
				miss = append(miss, "--resource")
			}
		}
	} else {
		if o.action == "" && o.operation == "" {
			miss = append(miss, "--action (or --operation)")
		}
		switch len(o.resources) {
		case 0:
			miss = append(miss, "--resource")
		case 1:
		default:
			return "--resource is given more than once; Alibaba Cloud requests name one resource"
		}
	}
	if len(miss) == 0 {
		return ""
	}
	return "missing " + strings.Join(miss, ", ")
}

// policyExplain decides one request (or one operation) and shows the
// deciding statement. Exit 0 when allowed, 1 when denied.
func (a *app) policyExplain(o *explainOptions, extra []string) error {
	stdout, stderr := a.stdout, a.stderr
	ps := &o.ps
	ps.ram = append(ps.ram, extra...) // "--policy a.json b.json"
	dialect, ok := dialectOption(o.dialect, stderr)
	if !ok {
		return status(exitUsage)
	}
	if dialect == "" {
		dialect = ps.dialect(o.principal)
	}
	isHuawei := dialect == cases.DialectHuawei
	if m := missingExplainFlags(o, isHuawei); m != "" {
		return usagef("policy explain: %s (see 'kmsenv policy explain --help')", m)
	}
	principal, action, operation, api := &o.principal, &o.action, &o.operation, &o.api
	region, account, keyID, alias, keystoreID := &o.region, &o.account, &o.keyID, &o.alias, &o.keystoreID
	orgPath, mgmt, inInstance, asJSON := &o.orgPath, &o.mgmt, &o.inInstance, &o.asJSON
	resources, ctxFlags, factFlags, unknownFlags := o.resources, o.ctxFlags, o.factFlags, o.unknownFlags
	var set localauthz.PolicySet
	var hwSet huawei.PolicySet
	addTo := set.Add
	if isHuawei {
		addTo = hwSet.Add
	}
	byName := map[string]*localauthz.Policy{}
	if err := ps.load(addTo, byName, dialect); err != nil {
		fmt.Fprintf(stderr, "kmsenv: %v\n", err)
		return status(exitUsage)
	}
	ctx, err := parseContext(ctxFlags)
	if err != nil {
		fmt.Fprintf(stderr, "kmsenv: %v\n", err)
		return status(exitUsage)
	}
	ctx, err = withUnknown(ctx, unknownFlags)
	if err != nil {
		fmt.Fprintf(stderr, "kmsenv: %v\n", err)
		return status(exitUsage)
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
				return status(exitUsage)
			}
			rep = hwSet.Check(*principal, huawei.Call{Method: method, Path: strings.TrimSpace(path), Region: *region, Account: *account,
				KeyID: *keyID, Alias: *alias, KeystoreID: *keystoreID, Resources: resources, Context: ctx, Org: org})
			if rep.Err != nil {
				fmt.Fprintf(stderr, "kmsenv: %v\n", rep.Err)
				return status(exitUsage)
			}
			if *action != "" && len(rep.Checks) > 0 && !strings.EqualFold(rep.Checks[0].Action, *action) {
				fmt.Fprintf(stderr, "kmsenv: --api %s is authorized by %s, not %s\n", *api, rep.Checks[0].Action, *action)
				return status(exitUsage)
			}
		} else {
			reqs := make([]huawei.Request, len(resources))
			for i, r := range resources {
				reqs[i] = huawei.Request{Principal: *principal, Action: *action, Resource: r, Context: ctx, Org: org}
			}
			d, checks := hwSet.EvaluateAll(reqs...)
			if d.Err != nil {
				fmt.Fprintf(stderr, "kmsenv: %v\n", d.Err)
				return status(exitUsage)
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
		return status(exitCode(rep.Decision.Effect))
	}
	resource := &resources[0]
	if *operation != "" {
		facts, err := parseFacts(factFlags)
		if err != nil {
			fmt.Fprintf(stderr, "kmsenv: %v\n", err)
			return status(exitUsage)
		}
		facts.InKMSInstance = facts.InKMSInstance || *inInstance
		rep := set.Check(*principal, localauthz.Call{Operation: *operation, Resource: *resource, Facts: facts, Context: ctx})
		if rep.Err != nil {
			fmt.Fprintf(stderr, "kmsenv: %v\n", rep.Err)
			return status(exitUsage)
		}
		if *asJSON {
			out, _ := json.Marshal(rep)
			fmt.Fprintf(stdout, "%s\n", out)
		} else {
			fmt.Fprint(stdout, rep.Text())
			writeDecider(stdout, rep.Decision.Decider, byName)
		}
		return status(exitCode(rep.Decision.Effect))
	}
	d := set.Evaluate(localauthz.Request{Principal: *principal, Action: *action, Resource: *resource, Context: ctx, InKMSInstance: *inInstance})
	if d.Err != nil {
		fmt.Fprintf(stderr, "kmsenv: %v\n", d.Err)
		return status(exitUsage)
	}
	if *asJSON {
		out, _ := json.Marshal(d)
		fmt.Fprintf(stdout, "%s\n", out)
		return status(exitCode(d.Effect))
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
	return status(exitCode(d.Effect))
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

// readManifest reads and validates a manifest: exactly one JSON object
// (anything after it is an error), no unknown field, a principal and at
// least one operation.
func (a *app) readManifest(path string) (*manifest, error) {
	data, err := a.readInput(path, maxPolicyInput)
	if err != nil {
		return nil, err
	}
	return parseManifest(data, displayName(path))
}

func parseManifest(data []byte, name string) (*manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: unexpected data after the manifest's JSON object at byte %d", name, dec.InputOffset())
	}
	if m.Principal == "" {
		return nil, fmt.Errorf("%s: missing principal", name)
	}
	if len(m.Operations) == 0 {
		return nil, fmt.Errorf("%s: no operations", name)
	}
	return &m, nil
}

func (a *app) policyCheckCommand() *cobra.Command {
	ps := &policySources{a: a}
	var manifestPath string
	var asJSON bool
	c := &cobra.Command{
		Use:   "check --manifest FILE [--policy FILE]... [--key-policy ARN=FILE]... [--secret-policy ARN=FILE]... [--json]",
		Short: "Preflight an application manifest offline; exit 1 when any operation is not allowed",
		Long: `Preflights every operation of an application manifest (schema in 'go doc
github.com/kmsenvelope/kmsenvelope/cmd/kmsenv') and prints, per operation, the
decision, the missing pairs, the explicit denials and the minimal policy that
grants what is missing. Conditional operations count as not allowed.
Arguments after the flags are more --policy files; --manifest - reads stdin
(its relative policy paths are then relative to the working directory).`,
		Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, extra []string) error {
			ps.ram = append(ps.ram, extra...)
			if manifestPath == "" {
				return usagef("policy check: missing --manifest (see 'kmsenv policy check --help')")
			}
			return status(a.policyCheck(ps, manifestPath, asJSON))
		},
	}
	ps.register(c.Flags())
	c.Flags().StringVar(&manifestPath, "manifest", "", "application manifest `FILE` (principal, operations, facts; - for stdin)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the reports as JSON")
	return c
}

// policyCheck preflights every operation of a manifest. Exit 1 if any is
// not allowed.
func (a *app) policyCheck(ps *policySources, manifestPath string, asJSON bool) int {
	stdout, stderr := a.stdout, a.stderr
	m, err := a.readManifest(manifestPath)
	if err != nil {
		fmt.Fprintf(stderr, "kmsenv: %v\n", err)
		return exitUsage
	}
	dir := filepath.Dir(manifestPath)
	if manifestPath == "-" {
		dir = "."
	}
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
			fmt.Fprintf(stderr, "kmsenv: %s: policy %q: type %q; expected ram, key or secret\n", displayName(manifestPath), mp.File, mp.Type)
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
	if asJSON {
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
