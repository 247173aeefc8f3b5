package kmsenvelope

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/localauthz"
)

// Status is the verdict on one operation of a [PreflightReport].
type Status string

// Statuses. Only StatusAllowed is OK.
const (
	// StatusAllowed: the policies allow the operation, and KMS's DryRun
	// (where the API has one) agrees.
	StatusAllowed Status = "allowed"
	// StatusDenied: the policies or KMS's DryRun deny it. A DryRun denial
	// always overrides a local allow.
	StatusDenied Status = "denied"
	// StatusConditional: the decision rests on a request condition key the
	// Client does not know (see Config.RequestFacts); KMS decides when the
	// call is made.
	StatusConditional Status = "conditional"
	// StatusNotChecked: the operation could not be checked: KMS could not
	// be reached (network, DNS, TLS, timeout), or a fact the check needs
	// could not be learned. It is not a denial, and not OK either.
	StatusNotChecked Status = "not checked"
)

// Values returns every Status.
func (Status) Values() []Status {
	return []Status{StatusAllowed, StatusDenied, StatusConditional, StatusNotChecked}
}

// PreflightReport says whether the Client's declared operations (encrypt
// and decrypt with Config.KeyID, reading each of Config.SecretNames) are
// allowed, and exactly what is missing where they are not.
type PreflightReport struct {
	// Principal is the caller's ARN; when it could not be learned it is
	// empty and Notes say why.
	Principal string `json:"principal"`
	// Source is how the decisions were reached: "configured policies",
	// "live policies", or "dry run" (KMS DryRun probes alone, when the
	// caller cannot read its own policies).
	Source     string           `json:"source"`
	Operations []OperationCheck `json:"operations"`
	Notes      []string         `json:"notes,omitempty"`
}

// OperationCheck is the verdict on one declared operation, with the
// evidence for it: the local decision and KMS's own DryRun answer.
type OperationCheck struct {
	Operation string `json:"operation"`
	Resource  string `json:"resource"`
	Status    Status `json:"status"`
	// Local is the decision of the policy set, nil when there is none
	// (Source "dry run").
	Local *localauthz.Report `json:"local,omitempty"`
	// DryRun is KMS's answer to a DryRun of the operation, nil when the
	// API has none.
	DryRun *DryRunResult `json:"dryRun,omitempty"`
	// FromDryRun explains a DryRun access denial in preflight words: the
	// missing (action, resource) KMS's AccessDeniedDetail names, and the
	// statement that would grant it.
	FromDryRun *localauthz.Report `json:"fromDryRun,omitempty"`
	// Disagreement is set when the local decision and the DryRun differ: it
	// names both. The report is then not OK.
	Disagreement string `json:"disagreement,omitempty"`
	// Reason says, in one line, why the status is what it is.
	Reason string `json:"reason,omitempty"`
}

// DryRunResult is KMS's answer to one DryRun probe.
type DryRunResult struct {
	// Status is StatusAllowed, StatusDenied (an access denial or another
	// definite refusal, such as a disabled key), or StatusNotChecked (KMS
	// could not be reached, or the probe could not be prepared).
	Status Status `json:"status"`
	// Code is KMS's error code, e.g. "Forbidden.NoPermission".
	Code string `json:"code,omitempty"`
	// MissingAction is the action KMS's AccessDeniedDetail names, e.g.
	// "kms:Decrypt".
	MissingAction string `json:"missingAction,omitempty"`
	// Error is the probe's error text, "" when allowed.
	Error string `json:"error,omitempty"`
	err   error
}

// Err returns the probe's error, nil when it was allowed.
func (d *DryRunResult) Err() error { return d.err }

// OK reports whether every operation is allowed and no DryRun disagrees.
// A conditional operation is not OK: the Client cannot tell whether KMS will
// allow it (the reading that errs toward denial); give Config.RequestFacts,
// or let a DryRun settle it.
func (r *PreflightReport) OK() bool {
	for _, op := range r.Operations {
		if op.Status != StatusAllowed || op.Disagreement != "" {
			return false
		}
	}
	return true
}

// Text renders the report for people.
func (r *PreflightReport) Text() string {
	var b strings.Builder
	who := r.Principal
	if who == "" {
		who = "an unknown caller (see notes)"
	}
	fmt.Fprintf(&b, "preflight for %s (from %s):\n", who, r.Source)
	counts := map[Status]int{}
	for _, op := range r.Operations {
		counts[op.Status]++
		fmt.Fprintf(&b, "  %s %s: %s", op.Operation, op.Resource, op.Status)
		if op.Reason != "" {
			b.WriteString(" (" + op.Reason + ")")
		}
		b.WriteString("\n")
		if op.Local != nil {
			for _, line := range strings.Split(strings.TrimRight(op.Local.Text(), "\n"), "\n")[1:] {
				b.WriteString("    " + line + "\n")
			}
		}
		if d := op.DryRun; d != nil {
			fmt.Fprintf(&b, "    KMS DryRun: %s", d.Status)
			if d.MissingAction != "" {
				b.WriteString(", missing " + d.MissingAction)
			}
			if d.Error != "" {
				b.WriteString(": " + d.Error)
			}
			b.WriteString("\n")
		}
		if op.FromDryRun != nil && (op.Local == nil || op.Disagreement != "") {
			for _, line := range strings.Split(strings.TrimRight(op.FromDryRun.Text(), "\n"), "\n")[1:] {
				b.WriteString("    " + line + "\n")
			}
		}
		if op.Disagreement != "" {
			b.WriteString("    DISAGREEMENT: " + op.Disagreement + "\n")
		}
	}
	for _, n := range r.Notes {
		b.WriteString("  note: " + n + "\n")
	}
	switch {
	case r.OK():
		b.WriteString("all operations allowed\n")
	case counts[StatusDenied] > 0 || hasDisagreement(r):
		b.WriteString("some operations are not allowed: grant the statements above before serving\n")
	case counts[StatusNotChecked] > 0:
		b.WriteString("some operations could not be checked (see above): this is not a denial; check again when KMS can be reached\n")
	default:
		b.WriteString("some operations depend on request conditions the client does not know: KMS decides when they are made\n")
	}
	return b.String()
}

func hasDisagreement(r *PreflightReport) bool {
	for _, op := range r.Operations {
		if op.Disagreement != "" {
			return true
		}
	}
	return false
}

// JSON renders the report as JSON.
func (r *PreflightReport) JSON() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }

// dryRunResult classifies a probe's answer. Network, DNS, TLS and timeout
// failures (kmsclient.RequestError), throttling and server errors, and a
// probe that could not be prepared are "not checked": they say nothing
// about permissions.
func dryRunResult(err error) *DryRunResult {
	if err == nil {
		return &DryRunResult{Status: StatusAllowed}
	}
	d := &DryRunResult{Error: err.Error(), err: err}
	var (
		ae *kmsclient.APIError
		se *probeSetupError
	)
	switch {
	case errors.As(err, &se):
		d.Status = StatusNotChecked
	case errors.As(err, &ae):
		d.Code = ae.Code
		if ae.AccessDenied != nil {
			d.MissingAction = ae.AccessDenied.Action
		}
		if ae.Retryable() {
			d.Status = StatusNotChecked
		} else {
			d.Status = StatusDenied
		}
	default: // *kmsclient.RequestError: no usable answer
		d.Status = StatusNotChecked
	}
	return d
}

// localStatus is the verdict of a local report.
func localStatus(rep *localauthz.Report) (Status, string) {
	switch {
	case rep.Err != nil:
		return StatusNotChecked, "could not check locally: " + rep.Err.Error()
	case rep.Decision.Effect == localauthz.Allow:
		return StatusAllowed, ""
	case rep.Decision.Effect == localauthz.Conditional:
		return StatusConditional, "conditional on " + strings.Join(rep.Decision.ConditionKeys, ", ") +
			" (the client does not know it; KMS decides: see Config.RequestFacts)"
	case rep.Decision.Effect == localauthz.ExplicitDeny:
		return StatusDenied, "explicitly denied by the policies"
	default:
		return StatusDenied, "no policy allows it"
	}
}

// combine decides one operation from its local report (nil without
// policies) and its DryRun (nil without a probe). A DryRun denial overrides
// a local allow; a DryRun that allows what the policies deny is a
// disagreement too (the local check would refuse a call KMS allows).
func combine(op *OperationCheck) {
	switch {
	case op.Local == nil && op.DryRun == nil:
		op.Status, op.Reason = StatusNotChecked, "no policies to check against and the API has no DryRun"
	case op.Local == nil:
		op.Status = op.DryRun.Status
		op.Reason = "from KMS DryRun alone"
		if op.Status == StatusNotChecked {
			op.Reason = "KMS DryRun could not check it"
		}
	case op.DryRun == nil:
		op.Status, op.Reason = localStatus(op.Local)
	default:
		local, why := localStatus(op.Local)
		dry := op.DryRun.Status
		switch {
		case dry == StatusNotChecked:
			op.Status, op.Reason = local, why
			if op.Reason == "" {
				op.Reason = "by the policies; KMS DryRun could not confirm it"
			}
		case local == StatusNotChecked:
			op.Status, op.Reason = dry, "from KMS DryRun; "+why
		case local == StatusConditional:
			// KMS saw the request keys the client does not know: its DryRun
			// settles what the local check could not.
			op.Status, op.Reason = dry, "from KMS DryRun; the local decision was "+why
		case local == dry:
			op.Status, op.Reason = local, why
		case dry == StatusDenied:
			op.Status = StatusDenied
			op.Reason = "KMS DryRun denies it"
			op.Disagreement = "the policies allow " + op.Operation + " but KMS DryRun answered " + op.DryRun.Code
			if op.DryRun.MissingAction != "" {
				op.Disagreement += " (missing " + op.DryRun.MissingAction + ")"
			}
			op.Disagreement += ": the local policy set is incomplete or out of date"
		default: // local denies, KMS allows
			op.Status = local
			op.Reason = why
			op.Disagreement = "the policies deny " + op.Operation + " (" + why + ") but KMS DryRun allows it: the local policy set is incomplete or out of date"
		}
	}
}
