package kmsclient

import (
	"context"
	"fmt"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"
)

// This file holds the STS and RAM calls a permission preflight makes: who
// the caller is, which RAM policies are attached to it, and their
// documents. They go to Config.STSEndpoint and Config.RAMEndpoint, with the
// same credentials, retries and typed errors as the KMS calls.

// Identity types of [CallerIdentity.IdentityType].
const (
	IdentityTypeAccount     = "Account"         // the account root
	IdentityTypeRAMUser     = "RAMUser"         // a RAM user
	IdentityTypeAssumedRole = "AssumedRoleUser" // a session of an assumed RAM role
)

// CallerIdentity is who the client's credentials authenticate as.
type CallerIdentity struct {
	AccountID string // the account (uid) the principal belongs to
	// ARN is acs:ram::<uid>:root, acs:ram::<uid>:user/<name> or, for a
	// role session, acs:sts::<uid>:assumed-role/<role>/<session>.
	ARN          string
	UserID       string
	PrincipalID  string
	IdentityType string // IdentityTypeAccount, IdentityTypeRAMUser or IdentityTypeAssumedRole
	RoleID       string // the role's id, for IdentityTypeAssumedRole only
}

// UserName returns the RAM user name of a RAMUser identity, or "".
func (ci *CallerIdentity) UserName() string {
	if ci == nil || ci.IdentityType != IdentityTypeRAMUser {
		return ""
	}
	_, name, ok := strings.Cut(ci.ARN, ":user/")
	if !ok {
		return ""
	}
	return name
}

// RoleName returns the role of an AssumedRoleUser identity, or "".
func (ci *CallerIdentity) RoleName() string {
	if ci == nil || ci.IdentityType != IdentityTypeAssumedRole {
		return ""
	}
	_, rel, ok := strings.Cut(ci.ARN, ":assumed-role/")
	if !ok {
		return ""
	}
	role, _, _ := strings.Cut(rel, "/")
	return role
}

// GetCallerIdentity asks STS who the client's credentials authenticate as.
// STS answers any authenticated caller; no permission is needed.
func (c *Client) GetCallerIdentity(ctx context.Context) (*CallerIdentity, error) {
	const op = "GetCallerIdentity"
	resp, err := callAPI(c, ctx, op, false, func(env *callEnv) (sdkClient, error) { return env.sts() },
		sts.CreateGetCallerIdentityRequest(), sts.CreateGetCallerIdentityResponse)
	if err != nil {
		return nil, err
	}
	if resp.AccountId == "" || resp.Arn == "" {
		return nil, malformed(op, "AccountId and Arn are required")
	}
	return &CallerIdentity{
		AccountID: resp.AccountId, ARN: resp.Arn, UserID: resp.UserId, PrincipalID: resp.PrincipalId,
		IdentityType: resp.IdentityType, RoleID: resp.RoleId,
	}, nil
}

// Policy types of [AttachedPolicy.Type] and [Client.GetPolicyDocument].
const (
	PolicyTypeCustom = "Custom" // a policy the account wrote
	PolicyTypeSystem = "System" // a policy Alibaba Cloud maintains, e.g. AliyunKMSFullAccess
)

// AttachedPolicy is a RAM policy attached to a user, role or group.
type AttachedPolicy struct {
	Name           string
	Type           string // PolicyTypeCustom or PolicyTypeSystem
	DefaultVersion string // e.g. "v1"
	// AttachedVia says how the principal holds it: "user", "role", or
	// "group:<name>" for a policy of one of the user's groups.
	AttachedVia string
}

// ListUserPolicies returns the RAM policies that govern user userName: its
// own (ListPoliciesForUser) and those of each of its groups
// (ListGroupsForUser, then ListPoliciesForGroup per group). It needs
// ram:ListPoliciesForUser and ram:ListGroupsForUser on the user and
// ram:ListPoliciesForGroup on each group.
//
// On error the policies gathered so far are returned with it, so a caller
// that may list its own policies but not its groups' still learns the
// former; the error names the API that failed.
func (c *Client) ListUserPolicies(ctx context.Context, userName string) ([]AttachedPolicy, error) {
	if userName == "" {
		return nil, &InputError{Operation: "ListPoliciesForUser", Field: "userName", Reason: "is required"}
	}
	newRAM := func(env *callEnv) (sdkClient, error) { return env.ram() }

	req := ram.CreateListPoliciesForUserRequest()
	req.UserName = userName
	resp, err := callAPI(c, ctx, "ListPoliciesForUser", false, newRAM, req, ram.CreateListPoliciesForUserResponse)
	if err != nil {
		return nil, err
	}
	out := appendPolicies(nil, resp.Policies.Policy, "user")

	greq := ram.CreateListGroupsForUserRequest()
	greq.UserName = userName
	groups, err := callAPI(c, ctx, "ListGroupsForUser", false, newRAM, greq, ram.CreateListGroupsForUserResponse)
	if err != nil {
		return out, err
	}
	for _, g := range groups.Groups.Group {
		if g.GroupName == "" {
			return out, malformed("ListGroupsForUser", "a group has no GroupName")
		}
		preq := ram.CreateListPoliciesForGroupRequest()
		preq.GroupName = g.GroupName
		gp, err := callAPI(c, ctx, "ListPoliciesForGroup", false, newRAM, preq, ram.CreateListPoliciesForGroupResponse)
		if err != nil {
			return out, err
		}
		out = appendPolicies(out, gp.Policies.Policy, "group:"+g.GroupName)
	}
	return out, nil
}

// ListRolePolicies returns the RAM policies attached to role roleName
// (ListPoliciesForRole), which govern every session of the role. It needs
// ram:ListPoliciesForRole on the role.
func (c *Client) ListRolePolicies(ctx context.Context, roleName string) ([]AttachedPolicy, error) {
	const op = "ListPoliciesForRole"
	if roleName == "" {
		return nil, &InputError{Operation: op, Field: "roleName", Reason: "is required"}
	}
	req := ram.CreateListPoliciesForRoleRequest()
	req.RoleName = roleName
	resp, err := callAPI(c, ctx, op, false, func(env *callEnv) (sdkClient, error) { return env.ram() },
		req, ram.CreateListPoliciesForRoleResponse)
	if err != nil {
		return nil, err
	}
	return appendPolicies(nil, resp.Policies.Policy, "role"), nil
}

func appendPolicies(out []AttachedPolicy, ps []ram.Policy, via string) []AttachedPolicy {
	for _, p := range ps {
		out = append(out, AttachedPolicy{Name: p.PolicyName, Type: p.PolicyType, DefaultVersion: p.DefaultVersion, AttachedVia: via})
	}
	return out
}

// GetPolicyDocument returns the JSON document of the default version of RAM
// policy name. policyType is PolicyTypeCustom (the default when empty) or
// PolicyTypeSystem. It calls GetPolicy, and GetPolicyVersion for the
// default version when GetPolicy carries no document; it needs
// ram:GetPolicy (and then ram:GetPolicyVersion) on
// acs:ram::<uid>:policy/<name>. An unknown policy is [ErrNotFound].
func (c *Client) GetPolicyDocument(ctx context.Context, name, policyType string) (string, error) {
	const op = "GetPolicy"
	if name == "" {
		return "", &InputError{Operation: op, Field: "name", Reason: "is required"}
	}
	switch policyType {
	case "":
		policyType = PolicyTypeCustom
	case PolicyTypeCustom, PolicyTypeSystem:
	default:
		return "", &InputError{Operation: op, Field: "policyType", Reason: fmt.Sprintf("must be %q or %q, got %q", PolicyTypeCustom, PolicyTypeSystem, policyType)}
	}
	newRAM := func(env *callEnv) (sdkClient, error) { return env.ram() }
	req := ram.CreateGetPolicyRequest()
	req.PolicyName, req.PolicyType = name, policyType
	resp, err := callAPI(c, ctx, op, false, newRAM, req, ram.CreateGetPolicyResponse)
	if err != nil {
		return "", err
	}
	if doc := resp.DefaultPolicyVersion.PolicyDocument; doc != "" {
		return doc, nil
	}
	version := resp.Policy.DefaultVersion
	if version == "" {
		version = resp.DefaultPolicyVersion.VersionId
	}
	if version == "" {
		return "", malformed(op, "neither a document nor a default version")
	}
	vreq := ram.CreateGetPolicyVersionRequest()
	vreq.PolicyName, vreq.PolicyType, vreq.VersionId = name, policyType, version
	vresp, err := callAPI(c, ctx, "GetPolicyVersion", false, newRAM, vreq, ram.CreateGetPolicyVersionResponse)
	if err != nil {
		return "", err
	}
	if vresp.PolicyVersion.PolicyDocument == "" {
		return "", malformed("GetPolicyVersion", "no PolicyDocument")
	}
	return vresp.PolicyVersion.PolicyDocument, nil
}

// malformed reports a 2xx answer that lacks what the operation needs.
func malformed(op, what string) error {
	return &RequestError{Operation: op, Attempts: 1, Err: fmt.Errorf("%w: %s", ErrMalformedResponse, what)}
}
