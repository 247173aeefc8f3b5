package testkms

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms/refpolicy"
)

// This file emulates the read side of RAM (2015-05-01) that a permission
// preflight needs: which policies are attached to a user (directly and
// through its groups), a role or a group, and their documents. The state is
// seeded with AttachPolicy, AddGroup, AddUserToGroup and AttachGroupPolicy;
// there are no write APIs.
//
// Permission checks go through the same path as KMS's (call.authorize, so
// the installed Authorizer, EnforcePolicies and Deny all apply). With
// EnforcePolicies the emulator's reference evaluator (refpolicy) decides, and
// it evaluates ram: actions on acs:ram:: resources like any other: an Allow
// statement whose Action and Resource match grants, the account root needs
// nothing.

const ramVersion = "2015-05-01"

// Custom policies emulated by the server have one version.
const (
	policyTypeCustom = "Custom"
	policyTypeSystem = "System"
	policyVersionID  = "v1"
)

// RAM error codes (HTTP 404), as RAM spells them.
const (
	codeNoSuchUser          = "EntityNotExist.User"
	codeNoSuchRole          = "EntityNotExist.Role"
	codeNoSuchGroup         = "EntityNotExist.Group"
	codeNoSuchPolicy        = "EntityNotExist.Policy"
	codeNoSuchPolicyVersion = "EntityNotExist.PolicyVersion" // emulator choice
)

// ramNamePattern bounds user, role, group and policy names. It is more
// permissive than RAM's per-entity rules, but excludes the characters that
// would make an ARN a wildcard or a path (*, ?, /, :).
var ramNamePattern = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,128}$`)

func validRAMName(n string) bool { return ramNamePattern.MatchString(n) }

// ramEntityARN returns acs:ram::<uid>:<kind>/<name> (kind user, role, group
// or policy).
func ramEntityARN(account, kind, name string) string {
	return "acs:ram::" + account + ":" + kind + "/" + name
}

// parseRAMEntityARN splits acs:ram::<uid>:<kind>/<name>.
func parseRAMEntityARN(arn string) (kind, account, name string, ok bool) {
	rest, ok := strings.CutPrefix(arn, "acs:ram::")
	if !ok {
		return "", "", "", false
	}
	account, rel, ok := strings.Cut(rest, ":")
	if !ok || account == "" {
		return "", "", "", false
	}
	kind, name, ok = strings.Cut(rel, "/")
	if !ok || name == "" || strings.Contains(name, "/") {
		return "", "", "", false
	}
	return kind, account, name, true
}

// ramEntityID derives a stable numeric id, like RAM's 16-digit user and role
// ids, from an ARN: the first digit is prefix.
func ramEntityID(arn string, prefix byte) string {
	sum := sha256.Sum256([]byte(arn))
	return fmt.Sprintf("%c%015d", prefix, binary.BigEndian.Uint64(sum[:8])%1_000_000_000_000_000)
}

// AddGroup creates RAM user group group in accountID (the account too, if
// needed) unless it exists. It panics if an argument is empty or group is
// not a valid RAM name.
func (s *Server) AddGroup(accountID, group string) {
	mustNotBeEmpty("accountID", accountID)
	mustNotBeEmpty("group", group)
	if !validRAMName(group) {
		panic(fmt.Sprintf("testkms: AddGroup: invalid group name %q", group))
	}
	s.mu.Lock()
	s.accountLocked(accountID)
	s.mu.Unlock()
	now := s.now()
	s.ram.mu.Lock()
	defer s.ram.mu.Unlock()
	arn := ramEntityARN(accountID, "group", group)
	if s.ram.groups == nil {
		s.ram.groups = map[string]*ramGroup{}
	}
	if s.ram.groups[arn] == nil {
		s.ram.groups[arn] = &ramGroup{account: accountID, name: group, created: now, members: map[string]time.Time{}}
	}
}

// AddUserToGroup makes RAM user user of accountID a member of group, which
// must exist ([Server.AddGroup]). The user then exists for the RAM APIs even
// without an access key, and, once [Server.EnforcePolicies] is on, is
// governed by the group's policies as well as its own.
func (s *Server) AddUserToGroup(accountID, user, group string) error {
	if !validRAMName(user) {
		return fmt.Errorf("testkms: AddUserToGroup: invalid user name %q", user)
	}
	now := s.now()
	s.ram.mu.Lock()
	defer s.ram.mu.Unlock()
	g := s.ram.groups[ramEntityARN(accountID, "group", group)]
	if g == nil {
		return fmt.Errorf("testkms: AddUserToGroup: group %q does not exist in account %s", group, accountID)
	}
	s.ram.registerLocked("user", accountID, user, now)
	if _, ok := g.members[user]; !ok {
		g.members[user] = now
	}
	return nil
}

// AttachGroupPolicy attaches a RAM identity policy, under name, to group of
// accountID, which must exist. Attaching a second document under the same
// name replaces the first. The policy governs every member of the group
// (once [Server.EnforcePolicies] is on) and is listed by
// ListPoliciesForGroup; see [Server.AttachPolicy] for parsing and naming.
// Detach it with DetachPolicy("acs:ram::<uid>:group/<group>", name).
func (s *Server) AttachGroupPolicy(accountID, group, name, document string) error {
	if name == "" || !validRAMName(name) {
		return fmt.Errorf("testkms: AttachGroupPolicy: invalid policy name %q", name)
	}
	p, err := refpolicy.Parse([]byte(document), refpolicy.RAM)
	if err != nil {
		return err
	}
	now := s.now()
	s.ram.mu.Lock()
	defer s.ram.mu.Unlock()
	arn := ramEntityARN(accountID, "group", group)
	if s.ram.groups[arn] == nil {
		return fmt.Errorf("testkms: AttachGroupPolicy: group %q does not exist in account %s", group, accountID)
	}
	s.ram.attachLocked(arn, name, document, p, now)
	return nil
}

// registerEntity records that a RAM user or role exists.
func (s *Server) registerEntity(kind, accountID, name string) {
	now := s.now()
	s.ram.mu.Lock()
	defer s.ram.mu.Unlock()
	s.ram.registerLocked(kind, accountID, name, now)
}

// ramProduct lists the RAM 2015-05-01 actions the emulator implements.
func (s *Server) ramProduct() *product {
	return &product{
		code:    "ram",
		version: ramVersion,
		central: true,
		actions: map[string]handlerFunc{
			"GetUser":              handleGetUser,
			"ListPoliciesForUser":  handleListPoliciesForUser,
			"ListPoliciesForRole":  handleListPoliciesForRole,
			"ListGroupsForUser":    handleListGroupsForUser,
			"ListPoliciesForGroup": handleListPoliciesForGroup,
			"GetPolicy":            handleGetPolicy,
			"GetPolicyVersion":     handleGetPolicyVersion,
		},
	}
}

func errEntityNotExist(code, kind, name string) *apiError {
	return newError(http.StatusNotFound, code, "The %s does not exist: %s.", kind, name)
}

// ramEntity reads the name parameter param, checks action on the entity's
// ARN (of kind user, role or group, in the caller's account) and returns the
// ARN. Permission comes before existence, as in RAM, so that a denied caller
// learns nothing about which entities exist.
func (c *call) ramEntity(param, kind, action string) (name, arn string, err *apiError) {
	name, err = c.required(param)
	if err != nil {
		return "", "", err
	}
	if !validRAMName(name) {
		return "", "", errInvalidParam(param, "not a valid RAM name")
	}
	arn = ramEntityARN(c.id.cred.AccountID, kind, name)
	if err := c.authorize(action, authzTarget{arn: arn}); err != nil {
		return "", "", err
	}
	return name, arn, nil
}

// existsLocked reports whether the user or role arn exists. Call with r.mu
// held.
func (r *ramPolicies) existsLocked(arn string) bool {
	_, ok := r.entities[arn]
	return ok
}

// ramPolicyOut is a policy as RAM's list calls return it.
type ramPolicyOut struct {
	PolicyName     string `json:"PolicyName"`
	PolicyType     string `json:"PolicyType"`
	Description    string `json:"Description"`
	DefaultVersion string `json:"DefaultVersion"`
	AttachDate     string `json:"AttachDate"`
}

type policyList struct {
	Policy []ramPolicyOut `json:"Policy"`
}

type policyListResponse struct {
	RequestID string     `json:"RequestId"`
	Policies  policyList `json:"Policies"`
}

// policiesLocked lists the policies attached to target, by name. Call with
// r.mu held.
func (r *ramPolicies) policiesLocked(target string) policyList {
	out := policyList{Policy: []ramPolicyOut{}}
	for name, a := range r.attached[target] {
		out.Policy = append(out.Policy, ramPolicyOut{
			PolicyName: name, PolicyType: policyTypeCustom, DefaultVersion: policyVersionID,
			AttachDate: formatTime(a.attached),
		})
	}
	sort.Slice(out.Policy, func(i, j int) bool { return out.Policy[i].PolicyName < out.Policy[j].PolicyName })
	return out
}

// handleListPoliciesForUser: checks ram:ListPoliciesForUser on the user.
// Lists the user's own policies, not its groups'.
func handleListPoliciesForUser(c *call) (any, *apiError) {
	return c.listEntityPolicies("UserName", "user", "ram:ListPoliciesForUser", codeNoSuchUser)
}

// handleListPoliciesForRole: checks ram:ListPoliciesForRole on the role.
func handleListPoliciesForRole(c *call) (any, *apiError) {
	return c.listEntityPolicies("RoleName", "role", "ram:ListPoliciesForRole", codeNoSuchRole)
}

// listEntityPolicies checks action on the user or role named by param and
// lists the policies attached to it.
func (c *call) listEntityPolicies(param, kind, action, notFound string) (any, *apiError) {
	name, arn, err := c.ramEntity(param, kind, action)
	if err != nil {
		return nil, err
	}
	r := &c.s.ram
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.existsLocked(arn) {
		return nil, errEntityNotExist(notFound, kind, name)
	}
	return policyListResponse{RequestID: c.requestID, Policies: r.policiesLocked(arn)}, nil
}

// handleListPoliciesForGroup: checks ram:ListPoliciesForGroup on the group.
func handleListPoliciesForGroup(c *call) (any, *apiError) {
	name, arn, err := c.ramEntity("GroupName", "group", "ram:ListPoliciesForGroup")
	if err != nil {
		return nil, err
	}
	r := &c.s.ram
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.groups[arn] == nil {
		return nil, errEntityNotExist(codeNoSuchGroup, "group", name)
	}
	return policyListResponse{RequestID: c.requestID, Policies: r.policiesLocked(arn)}, nil
}

type groupOut struct {
	GroupName string `json:"GroupName"`
	GroupID   string `json:"GroupId"`
	Comments  string `json:"Comments"`
	JoinDate  string `json:"JoinDate"`
}

type groupList struct {
	Group []groupOut `json:"Group"`
}

// handleListGroupsForUser: checks ram:ListGroupsForUser on the user.
func handleListGroupsForUser(c *call) (any, *apiError) {
	name, arn, err := c.ramEntity("UserName", "user", "ram:ListGroupsForUser")
	if err != nil {
		return nil, err
	}
	r := &c.s.ram
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.existsLocked(arn) {
		return nil, errEntityNotExist(codeNoSuchUser, "user", name)
	}
	out := groupList{Group: []groupOut{}}
	for garn, g := range r.groups {
		joined, ok := g.members[name]
		if !ok || g.account != c.id.cred.AccountID {
			continue
		}
		sum := sha256.Sum256([]byte(garn))
		out.Group = append(out.Group, groupOut{GroupName: g.name, GroupID: "g-" + hex.EncodeToString(sum[:10]), JoinDate: formatTime(joined)})
	}
	sort.Slice(out.Group, func(i, j int) bool { return out.Group[i].GroupName < out.Group[j].GroupName })
	return struct {
		RequestID string    `json:"RequestId"`
		Groups    groupList `json:"Groups"`
	}{c.requestID, out}, nil
}

type userOut struct {
	UserName    string `json:"UserName"`
	UserID      string `json:"UserId"`
	DisplayName string `json:"DisplayName"`
	Comments    string `json:"Comments"`
	CreateDate  string `json:"CreateDate"`
	UpdateDate  string `json:"UpdateDate"`
}

// handleGetUser: checks ram:GetUser on the user.
func handleGetUser(c *call) (any, *apiError) {
	name, arn, err := c.ramEntity("UserName", "user", "ram:GetUser")
	if err != nil {
		return nil, err
	}
	r := &c.s.ram
	r.mu.Lock()
	created, ok := r.entities[arn]
	r.mu.Unlock()
	if !ok {
		return nil, errEntityNotExist(codeNoSuchUser, "user", name)
	}
	return struct {
		RequestID string  `json:"RequestId"`
		User      userOut `json:"User"`
	}{c.requestID, userOut{
		UserName: name, UserID: ramEntityID(arn, '2'), DisplayName: name,
		CreateDate: formatTime(created), UpdateDate: formatTime(created),
	}}, nil
}

// ramPolicy is a custom policy as RAM sees it: one name in one account,
// with the document most recently attached under that name.
type ramPolicy struct {
	name, document   string
	created, updated time.Time
	attachments      int
}

// lookupPolicy reads PolicyName and PolicyType, checks action on
// acs:ram::<uid>:policy/<name> and finds the policy in the caller's account.
// Only custom policies exist: a System policy is never found.
func (c *call) lookupPolicy(action string) (*ramPolicy, *apiError) {
	name, err := c.required("PolicyName")
	if err != nil {
		return nil, err
	}
	if !validRAMName(name) {
		return nil, errInvalidParam("PolicyName", "not a valid RAM policy name")
	}
	ptype, err := c.required("PolicyType")
	if err != nil {
		return nil, err
	}
	if ptype != policyTypeCustom && ptype != policyTypeSystem {
		return nil, errInvalidParam("PolicyType", `must be "Custom" or "System"`)
	}
	account := c.id.cred.AccountID
	if err := c.authorize(action, authzTarget{arn: ramEntityARN(account, "policy", name)}); err != nil {
		return nil, err
	}
	if ptype == policyTypeSystem {
		return nil, errEntityNotExist(codeNoSuchPolicy, "policy", name)
	}
	r := &c.s.ram
	r.mu.Lock()
	defer r.mu.Unlock()
	var (
		p      *ramPolicy
		latest uint64
	)
	prefix := "acs:ram::" + account + ":"
	for target, byName := range r.attached {
		a, ok := byName[name]
		if !ok || !strings.HasPrefix(target, prefix) {
			continue
		}
		if p == nil {
			p = &ramPolicy{name: name, created: a.attached}
		}
		p.attachments++
		if a.attached.Before(p.created) {
			p.created = a.attached
		}
		if a.seq > latest {
			latest, p.document, p.updated = a.seq, a.document, a.attached
		}
	}
	if p == nil {
		return nil, errEntityNotExist(codeNoSuchPolicy, "policy", name)
	}
	return p, nil
}

type policyOut struct {
	PolicyName      string `json:"PolicyName"`
	PolicyType      string `json:"PolicyType"`
	Description     string `json:"Description"`
	DefaultVersion  string `json:"DefaultVersion"`
	CreateDate      string `json:"CreateDate"`
	UpdateDate      string `json:"UpdateDate"`
	AttachmentCount int    `json:"AttachmentCount"`
}

type policyVersionOut struct {
	VersionID        string `json:"VersionId"`
	IsDefaultVersion bool   `json:"IsDefaultVersion"`
	PolicyDocument   string `json:"PolicyDocument"`
	CreateDate       string `json:"CreateDate"`
}

func (p *ramPolicy) version() policyVersionOut {
	return policyVersionOut{VersionID: policyVersionID, IsDefaultVersion: true, PolicyDocument: p.document, CreateDate: formatTime(p.updated)}
}

// handleGetPolicy: checks ram:GetPolicy on the policy.
func handleGetPolicy(c *call) (any, *apiError) {
	p, err := c.lookupPolicy("ram:GetPolicy")
	if err != nil {
		return nil, err
	}
	return struct {
		RequestID            string           `json:"RequestId"`
		Policy               policyOut        `json:"Policy"`
		DefaultPolicyVersion policyVersionOut `json:"DefaultPolicyVersion"`
	}{
		RequestID: c.requestID,
		Policy: policyOut{
			PolicyName: p.name, PolicyType: policyTypeCustom, DefaultVersion: policyVersionID,
			CreateDate: formatTime(p.created), UpdateDate: formatTime(p.updated), AttachmentCount: p.attachments,
		},
		DefaultPolicyVersion: p.version(),
	}, nil
}

// handleGetPolicyVersion: checks ram:GetPolicyVersion on the policy. Only
// version v1 exists.
func handleGetPolicyVersion(c *call) (any, *apiError) {
	v, err := c.required("VersionId")
	if err != nil {
		return nil, err
	}
	p, err := c.lookupPolicy("ram:GetPolicyVersion")
	if err != nil {
		return nil, err
	}
	if v != policyVersionID {
		return nil, newError(http.StatusNotFound, codeNoSuchPolicyVersion, "The policy version does not exist: %s of %s.", v, p.name)
	}
	return struct {
		RequestID     string           `json:"RequestId"`
		PolicyVersion policyVersionOut `json:"PolicyVersion"`
	}{c.requestID, p.version()}, nil
}
