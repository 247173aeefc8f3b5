package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kmsenvelope/kmsenvelope"
)

// preflightJSON is preflight's --json output.
type preflightJSON struct {
	OK      bool                           `json:"ok"`
	Reports []*kmsenvelope.PreflightReport `json:"reports"`
	// Unchecked are manifest operations the live preflight does not cover.
	Unchecked []string `json:"unchecked,omitempty"`
	Notes     []string `json:"notes,omitempty"`
}

func (a *app) preflightCommand() *cobra.Command {
	var cf cloudFlags
	var keyIDs, secretNames []string
	var manifestPath string
	var asJSON bool
	c := &cobra.Command{
		Use:   "preflight [--key-id KEY]... [--secret NAME]... [--manifest FILE] [--json]",
		Short: "Check, as the caller, that KMS will allow the key, secret and manifest operations; exit 1 if not",
		Long: `Runs the library's live preflight (kmsenvelope.Client.Preflight) as the
caller's identity (the credential chain's): the caller's own RAM policies and
the key and secret policies are read where permitted, and KMS DryRun probes
settle what they cannot. For each --key-id it checks GenerateDataKey and
Decrypt; for each --secret, GetSecretValue (with kms:Decrypt on the secret's
own key). A --manifest (the schema of 'kmsenv policy check') adds its
GenerateDataKey, Decrypt and Encrypt operations on keys and its
GetSecretValue operations; any other operation is reported as not checked,
which is not OK. The manifest's principal must be the caller.

Exit status 0 when every operation is allowed, 1 when any is denied,
conditional, not checked or disagrees with KMS's DryRun, 2 on usage errors.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			var unchecked, notes []string
			var manifestPrincipal string
			if manifestPath != "" {
				m, err := a.readManifest(manifestPath)
				if err != nil {
					return usagef("%v", err)
				}
				manifestPrincipal = m.Principal
				for _, op := range m.Operations {
					switch kind, id := manifestResource(op.Resource); {
					case op.Operation == "GetSecretValue" && kind == "secret":
						secretNames = appendUnique(secretNames, id)
					case (op.Operation == "GenerateDataKey" || op.Operation == "Decrypt" || op.Operation == "Encrypt") && (kind == "key" || kind == "alias"):
						keyIDs = appendUnique(keyIDs, id)
					default:
						unchecked = append(unchecked, strings.TrimSpace(op.Operation+" "+op.Resource))
					}
				}
			}
			if len(keyIDs) == 0 && len(secretNames) == 0 && len(unchecked) == 0 {
				return usagef("preflight: nothing to check: give --key-id, --secret or --manifest")
			}
			cfg, err := a.config(&cf)
			if err != nil {
				return err
			}
			cfg.LivePolicies = true
			ctx, cancel := signalContext(c)
			defer cancel()
			out := preflightJSON{OK: len(unchecked) == 0, Unchecked: unchecked}
			// one client per key (a Client has one KeyID); the secrets go with the first
			groups := keyIDs
			if len(groups) == 0 {
				groups = []string{""}
			}
			for i, k := range groups {
				gc := cfg
				gc.KeyID = k
				if i == 0 {
					gc.SecretNames = secretNames
				}
				client, err := a.newClient(ctx, gc)
				if err != nil {
					return err
				}
				rep, err := client.Preflight(ctx)
				client.Close()
				if err != nil {
					return failf("preflight: %v", err)
				}
				out.Reports = append(out.Reports, rep)
				out.OK = out.OK && rep.OK()
				if manifestPrincipal != "" && rep.Principal != "" && !samePrincipal(manifestPrincipal, rep.Principal) {
					out.OK = false
					notes = appendUnique(notes, fmt.Sprintf("the manifest's principal %s is not the caller %s: the operations were checked as the caller", manifestPrincipal, rep.Principal))
				}
			}
			out.Notes = notes
			if asJSON {
				js, _ := json.MarshalIndent(out, "", "  ")
				fmt.Fprintf(a.stdout, "%s\n", js)
			} else {
				for _, r := range out.Reports {
					fmt.Fprint(a.stdout, r.Text())
				}
				for _, u := range out.Unchecked {
					fmt.Fprintf(a.stdout, "%s: not checked (the live preflight covers GenerateDataKey, Decrypt and Encrypt on keys and GetSecretValue)\n", u)
				}
				for _, n := range out.Notes {
					fmt.Fprintf(a.stdout, "note: %s\n", n)
				}
				if out.OK {
					fmt.Fprintln(a.stdout, "preflight: OK")
				} else {
					fmt.Fprintln(a.stdout, "preflight: NOT OK")
				}
			}
			if !out.OK {
				return status(exitFail)
			}
			return nil
		},
	}
	fs := c.Flags()
	a.registerCloudFlags(fs, &cf)
	fs.StringArrayVar(&keyIDs, "key-id", nil, "KMS `KEY` to check GenerateDataKey and Decrypt on (repeatable)")
	fs.StringArrayVar(&secretNames, "secret", nil, "secret `NAME` to check GetSecretValue on (repeatable)")
	fs.StringVar(&manifestPath, "manifest", "", "operations manifest `FILE` (the schema of 'kmsenv policy check'; - for stdin)")
	fs.BoolVar(&asJSON, "json", false, "print the reports as JSON")
	return c
}

// manifestResource splits an acs:kms ARN into its kind (key, alias,
// secret) and the identifier the library takes: the ARN of a key,
// alias/<name> for an alias, the name of a secret (the library learns a
// secret's encryption key from DescribeSecret by name; named by ARN its
// preflight lacks that fact). A secret of another region or account is
// therefore checked under the caller's region and account.
func manifestResource(arn string) (kind, id string) {
	parts := strings.SplitN(arn, ":", 5)
	if len(parts) != 5 || parts[0] != "acs" || parts[1] != "kms" {
		return "", ""
	}
	k, rest, ok := strings.Cut(parts[4], "/")
	if !ok || rest == "" {
		return "", ""
	}
	switch k {
	case "key":
		return k, arn
	case "secret":
		return k, rest
	case "alias":
		return k, "alias/" + rest
	}
	return "", ""
}

// samePrincipal compares principal ARNs, reading acs:sts::<uid>:assumed-role
// as acs:ram::<uid>:assumed-role (STS answers the latter).
func samePrincipal(a, b string) bool {
	norm := func(s string) string {
		if strings.HasPrefix(s, "acs:sts::") {
			s = "acs:ram::" + strings.TrimPrefix(s, "acs:sts::")
		}
		return s
	}
	return norm(a) == norm(b)
}

func appendUnique(list []string, s string) []string {
	for _, v := range list {
		if v == s {
			return list
		}
	}
	return append(list, s)
}
