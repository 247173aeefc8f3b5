package testkms

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/kmsenvelope/kmsenvelope/localauthz"
)

// This file enforces RAM identity policies and key and secret policies with
// localauthz's evaluator. Only the evaluator is used: which (action,
// resource) pairs an API needs is stated by each handler in its own code,
// never taken from localauthz's operation catalogue, so that the
// differential test between the catalogue and this emulator means something.

// AttachPolicy attaches a RAM identity policy, under name, to a RAM user or
// role (acs:ram::<uid>:user/<name> or acs:ram::<uid>:role/<name>); sessions of
// an assumed role are governed by the role's policies. Attaching a second
// document under the same name replaces the first. The document is parsed
// and validated as RAM would; a malformed one is returned as a
// *localauthz.PolicyError. Policies are enforced only after
// [Server.EnforcePolicies].
func (s *Server) AttachPolicy(target, name, document string) error {
	if name == "" {
		return fmt.Errorf("testkms: AttachPolicy: empty policy name")
	}
	p, err := localauthz.ParsePolicy([]byte(document), localauthz.RAMPolicy, localauthz.WithName(name))
	if err != nil {
		return err
	}
	// Validate the target now rather than on the first request.
	var probe localauthz.PolicySet
	if err := probe.Add(p, target); err != nil || target == "" {
		return fmt.Errorf("testkms: AttachPolicy: target %q is not a RAM user or role ARN", target)
	}
	s.ram.mu.Lock()
	defer s.ram.mu.Unlock()
	if s.ram.attached == nil {
		s.ram.attached = map[string]map[string]*localauthz.Policy{}
	}
	if s.ram.attached[target] == nil {
		s.ram.attached[target] = map[string]*localauthz.Policy{}
	}
	s.ram.attached[target][name] = p
	return nil
}

// DetachPolicy removes the policy attached under name from target and
// reports whether there was one.
func (s *Server) DetachPolicy(target, name string) bool {
	s.ram.mu.Lock()
	defer s.ram.mu.Unlock()
	if _, ok := s.ram.attached[target][name]; !ok {
		return false
	}
	delete(s.ram.attached[target], name)
	return true
}

// EnforcePolicies makes the server decide every permission check with the
// attached RAM policies and the key and secret policies, as KMS does: a
// request that no policy allows is answered 403 Forbidden.NoPermission with
// an AccessDeniedDetail. It replaces any Authorizer set with
// [Server.SetAuthorizer]; forced denials ([Server.Deny]) still apply.
// Without it (the default) every check is allowed.
func (s *Server) EnforcePolicies() {
	s.SetAuthorizer(&policyAuthorizer{s: s})
}

// ramPolicies holds the RAM identity policies attached with AttachPolicy.
type ramPolicies struct {
	mu       sync.Mutex                               // guards attached
	attached map[string]map[string]*localauthz.Policy // target ARN -> name -> policy
}

// snapshot returns every attached policy with its target, in a stable order.
func (r *ramPolicies) snapshot() []attachedPolicy {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []attachedPolicy
	for target, byName := range r.attached {
		for name, p := range byName {
			out = append(out, attachedPolicy{target: target, name: name, policy: p})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].target != out[j].target {
			return out[i].target < out[j].target
		}
		return out[i].name < out[j].name
	})
	return out
}

type attachedPolicy struct {
	target, name string
	policy       *localauthz.Policy
}

// policyAuthorizer evaluates each check against the attached RAM policies
// and the resource's own policy.
type policyAuthorizer struct {
	s     *Server
	cache sync.Map // resource policy document -> *localauthz.Policy or error
}

func (a *policyAuthorizer) Authorize(req AuthzRequest) *Denial {
	var set localauthz.PolicySet
	for _, ap := range a.s.ram.snapshot() {
		_ = set.Add(ap.policy, ap.target) // targets were validated on attach
	}
	if req.ResourcePolicy != "" {
		p, err := a.resourcePolicy(req.Resource, req.ResourcePolicy)
		if err != nil {
			return &Denial{Reason: "the resource policy of " + req.Resource + " is invalid: " + err.Error(), PolicyType: PolicyTypeResource}
		}
		if p != nil {
			_ = set.Add(p, req.Resource)
		}
	}
	ctx := make(localauthz.Context, len(req.Context))
	for k, v := range req.Context {
		ctx.Set(k, v)
	}
	d := set.Evaluate(localauthz.Request{
		Principal:     req.Principal,
		Action:        req.Action,
		Resource:      req.Resource,
		Context:       ctx,
		InKMSInstance: req.InKMSInstance,
	})
	if d.Effect == localauthz.Allow {
		return nil
	}
	den := &Denial{Explicit: d.Effect == localauthz.ExplicitDeny, PolicyType: PolicyTypeIdentity}
	var reason strings.Builder
	switch {
	case d.Err != nil:
		reason.WriteString(d.Err.Error())
	case d.Effect == localauthz.ExplicitDeny && len(d.Denied) > 0:
		reason.WriteString("explicitly denied by " + d.Denied[0].StatementRef.String())
		if d.Denied[0].Kind != localauthz.RAMPolicy {
			den.PolicyType = PolicyTypeResource
		}
	default:
		reason.WriteString("no policy allows " + req.Action + " on " + req.Resource)
	}
	den.Reason = reason.String()
	return den
}

// resourcePolicy parses (once per distinct document) the key or secret
// policy attached to resource. It returns nil for resources that carry none.
func (a *policyAuthorizer) resourcePolicy(resource, doc string) (*localauthz.Policy, error) {
	kind := localauthz.KeyPolicy
	switch {
	case strings.Contains(resource, ":secret/"):
		kind = localauthz.SecretPolicy
	case !strings.Contains(resource, ":key/"):
		return nil, nil
	}
	key := string(kind) + "\x00" + doc
	if v, ok := a.cache.Load(key); ok {
		if err, isErr := v.(error); isErr {
			return nil, err
		}
		return v.(*localauthz.Policy), nil
	}
	p, err := localauthz.ParsePolicy([]byte(doc), kind)
	if err != nil {
		a.cache.Store(key, err)
		return nil, err
	}
	a.cache.Store(key, p)
	return p, nil
}
