package testkms

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms/refpolicy"
)

// A StateFile is the emulated cloud state as a file: what [Server.LoadState]
// seeds and [Server.SaveState] writes, in JSON or YAML
// ([ParseStateFile], [StateFile.Marshal]). Field names are the same in
// both. Everything is optional but the ids and names that identify things;
// what is left out is generated (access keys need both id and secret, so
// that clients can be configured with them). The schema, with its rules:
//
//	accounts:                        # accounts, by 16-digit uid (any id without * ? / :)
//	- id: "1234567890123456"
//	  accessKeys:                    # root access keys (principal acs:ram::<uid>:root)
//	  - {id: LTAIroot, secret: s3cret, disabled: false}
//	  policies:                      # RAM custom policies of the account
//	  - name: kms-use
//	    document: {Version: "1", Statement: [...]}   # or the JSON text as a string
//	  groups:
//	  - {name: devs, policies: [kms-use]}
//	  users:                         # RAM users (acs:ram::<uid>:user/<name>)
//	  - name: app
//	    accessKeys: [{id: LTAIapp, secret: s3cret}]
//	    groups: [devs]
//	    policies: [kms-use]          # names from the account's policies
//	  roles:                         # RAM roles; sessions are STS credentials
//	  - name: worker
//	    policies: [kms-use]
//	    sessions:
//	    - {name: s1, accessKeyId: STS.abc, accessKeySecret: s3cret, securityToken: CAIS...}
//	  keys:                          # symmetric Aliyun_AES_256 keys
//	  - id: key-hzz6...              # generated when empty
//	    region: cn-hangzhou          # the server's region when empty
//	    state: Enabled               # Enabled | Disabled | PendingDeletion
//	    description: "..."
//	    instanceId: kst-...          # a KMS instance (key policies apply there)
//	    protectionLevel: SOFTWARE    # SOFTWARE | HSM
//	    automaticRotation: false
//	    rotationInterval: 365d
//	    tags: {team: a}
//	    policy: {...}                # key policy; KMS's default when empty
//	    aliases: [alias/app]
//	    versions:                    # key material, oldest first, the last is primary;
//	    - {id: 0b3c..., material: <base64 of 32 bytes>}   # one random version when empty
//	  secrets:                       # Generic secrets
//	  - name: db-password
//	    region: cn-hangzhou
//	    description: "..."
//	    encryptionKeyId: key-hzz6... # a key of the account; the service key when empty
//	    binary: false                # values are base64 when true
//	    tags: {team: a}
//	    policy: {...}                # secret policy
//	    value: hunter2               # shorthand: one version "v1", ACSCurrent
//	    versions:                    # or every version, oldest first; exactly one ACSCurrent
//	    - {id: v1, value: old, stages: [ACSPrevious]}
//	    - {id: v2, value: new, stages: [ACSCurrent]}
//
// Unknown fields are refused, and every error names the place in the file
// (accounts[0].keys[1].versions[0].material). Policies are parsed as RAM,
// key and secret policies would be. A YAML policy document written as a
// mapping is converted to JSON: quote values that must stay strings
// (Version: "1").
//
// A saved file holds key material, secret values and access key secrets
// in the clear: it is as sensitive as the keys it describes (the emulator
// writes it with mode 0600). Creation and rotation dates are not kept.
type StateFile struct {
	Accounts []AccountState `json:"accounts,omitempty" yaml:"accounts,omitempty"`
}

// AccountState is one account of a [StateFile].
type AccountState struct {
	ID         string           `json:"id" yaml:"id"`
	AccessKeys []AccessKeyState `json:"accessKeys,omitempty" yaml:"accessKeys,omitempty"`
	Policies   []RAMPolicyState `json:"policies,omitempty" yaml:"policies,omitempty"`
	Groups     []GroupState     `json:"groups,omitempty" yaml:"groups,omitempty"`
	Users      []UserState      `json:"users,omitempty" yaml:"users,omitempty"`
	Roles      []RoleState      `json:"roles,omitempty" yaml:"roles,omitempty"`
	Keys       []KeyState       `json:"keys,omitempty" yaml:"keys,omitempty"`
	Secrets    []SecretState    `json:"secrets,omitempty" yaml:"secrets,omitempty"`
}

// AccessKeyState is a long-term access key.
type AccessKeyState struct {
	ID       string `json:"id" yaml:"id"`
	Secret   string `json:"secret" yaml:"secret"`
	Disabled bool   `json:"disabled,omitempty" yaml:"disabled,omitempty"`
}

// RAMPolicyState is a RAM custom policy of an account.
type RAMPolicyState struct {
	Name     string         `json:"name" yaml:"name"`
	Document PolicyDocument `json:"document" yaml:"document"`
}

// GroupState is a RAM user group and the policies attached to it.
type GroupState struct {
	Name     string   `json:"name" yaml:"name"`
	Policies []string `json:"policies,omitempty" yaml:"policies,omitempty"`
}

// UserState is a RAM user.
type UserState struct {
	Name       string           `json:"name" yaml:"name"`
	AccessKeys []AccessKeyState `json:"accessKeys,omitempty" yaml:"accessKeys,omitempty"`
	Groups     []string         `json:"groups,omitempty" yaml:"groups,omitempty"`
	Policies   []string         `json:"policies,omitempty" yaml:"policies,omitempty"`
}

// RoleState is a RAM role, its policies and its sessions' STS credentials.
type RoleState struct {
	Name     string         `json:"name" yaml:"name"`
	Policies []string       `json:"policies,omitempty" yaml:"policies,omitempty"`
	Sessions []SessionState `json:"sessions,omitempty" yaml:"sessions,omitempty"`
}

// SessionState is a role session's STS credential. The security token is
// generated when empty.
type SessionState struct {
	Name            string `json:"name" yaml:"name"`
	AccessKeyID     string `json:"accessKeyId" yaml:"accessKeyId"`
	AccessKeySecret string `json:"accessKeySecret" yaml:"accessKeySecret"`
	SecurityToken   string `json:"securityToken,omitempty" yaml:"securityToken,omitempty"`
	Disabled        bool   `json:"disabled,omitempty" yaml:"disabled,omitempty"`
}

// KeyState is a customer master key.
type KeyState struct {
	ID                string            `json:"id,omitempty" yaml:"id,omitempty"`
	Region            string            `json:"region,omitempty" yaml:"region,omitempty"`
	State             string            `json:"state,omitempty" yaml:"state,omitempty"`
	Description       string            `json:"description,omitempty" yaml:"description,omitempty"`
	InstanceID        string            `json:"instanceId,omitempty" yaml:"instanceId,omitempty"`
	ProtectionLevel   string            `json:"protectionLevel,omitempty" yaml:"protectionLevel,omitempty"`
	AutomaticRotation bool              `json:"automaticRotation,omitempty" yaml:"automaticRotation,omitempty"`
	RotationInterval  string            `json:"rotationInterval,omitempty" yaml:"rotationInterval,omitempty"`
	Tags              map[string]string `json:"tags,omitempty" yaml:"tags,omitempty"`
	Policy            PolicyDocument    `json:"policy,omitempty" yaml:"policy,omitempty"`
	Aliases           []string          `json:"aliases,omitempty" yaml:"aliases,omitempty"`
	Versions          []KeyVersionState `json:"versions,omitempty" yaml:"versions,omitempty"`
}

// KeyVersionState is one version of key material.
type KeyVersionState struct {
	ID       string `json:"id" yaml:"id"`
	Material string `json:"material" yaml:"material"` // base64 of 32 bytes
}

// SecretState is a Generic secret: either Value (one version "v1",
// ACSCurrent) or Versions.
type SecretState struct {
	Name            string               `json:"name" yaml:"name"`
	Region          string               `json:"region,omitempty" yaml:"region,omitempty"`
	Description     string               `json:"description,omitempty" yaml:"description,omitempty"`
	EncryptionKeyID string               `json:"encryptionKeyId,omitempty" yaml:"encryptionKeyId,omitempty"`
	Binary          bool                 `json:"binary,omitempty" yaml:"binary,omitempty"`
	Tags            map[string]string    `json:"tags,omitempty" yaml:"tags,omitempty"`
	Policy          PolicyDocument       `json:"policy,omitempty" yaml:"policy,omitempty"`
	Value           *string              `json:"value,omitempty" yaml:"value,omitempty"`
	Versions        []SecretVersionState `json:"versions,omitempty" yaml:"versions,omitempty"`
}

// SecretVersionState is one version of a secret.
type SecretVersionState struct {
	ID     string   `json:"id" yaml:"id"`
	Value  string   `json:"value" yaml:"value"` // base64 when the secret is binary
	Stages []string `json:"stages,omitempty" yaml:"stages,omitempty"`
}

// PolicyDocument is a policy's JSON text. In a file it may be written as
// that text (a string) or as a JSON or YAML object.
type PolicyDocument string

// UnmarshalJSON accepts a JSON string (the text) or object.
func (p *PolicyDocument) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*p = PolicyDocument(s)
	case len(b) > 0 && b[0] == '{':
		var out bytes.Buffer
		if err := json.Compact(&out, b); err != nil {
			return err
		}
		*p = PolicyDocument(out.String())
	case string(b) == "null":
		*p = ""
	default:
		return errors.New("a policy document must be a JSON object or a string holding one")
	}
	return nil
}

// UnmarshalYAML accepts a string (the JSON text) or a mapping.
func (p *PolicyDocument) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		var s string
		if err := n.Decode(&s); err != nil {
			return err
		}
		*p = PolicyDocument(s)
	case yaml.MappingNode:
		var v map[string]any
		if err := n.Decode(&v); err != nil {
			return err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("line %d: the policy document cannot be written as JSON: %w", n.Line, err)
		}
		*p = PolicyDocument(b)
	default:
		return fmt.Errorf("line %d: a policy document must be a mapping or a string holding JSON", n.Line)
	}
	return nil
}

// ParseStateFile decodes a state file, JSON when its first non-blank
// character is "{", YAML otherwise. Unknown fields are errors, which name
// the line.
func ParseStateFile(data []byte) (*StateFile, error) {
	var st StateFile
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&st); err != nil {
			return nil, fmt.Errorf("testkms: state file: %s", jsonErrorAt(data, dec, err))
		}
		if dec.More() {
			return nil, errors.New("testkms: state file: more than one JSON value")
		}
		return &st, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// An empty file (io.EOF) is an empty state.
	if err := dec.Decode(&st); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("testkms: state file: %w", err)
	}
	return &st, nil
}

// jsonErrorAt adds the line and column of a JSON decoding error.
func jsonErrorAt(data []byte, dec *json.Decoder, err error) string {
	off := dec.InputOffset()
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = se.Offset
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		off = te.Offset
	}
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := int(off) - bytes.LastIndexByte(data[:off], '\n')
	return fmt.Sprintf("line %d, column %d: %v", line, col, err)
}

// Marshal encodes the state as YAML, or as indented JSON when asJSON is set.
func (st *StateFile) Marshal(asJSON bool) ([]byte, error) {
	if asJSON {
		b, err := json.MarshalIndent(st, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("testkms: state file: %w", err)
		}
		return append(b, '\n'), nil
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(st); err != nil {
		return nil, fmt.Errorf("testkms: state file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("testkms: state file: %w", err)
	}
	return buf.Bytes(), nil
}

// StateError is a state file that cannot be loaded: Path names the place
// (accounts[0].users[1].accessKeys[0].id), Err what is wrong.
type StateError struct {
	Path string
	Err  error
}

func (e *StateError) Error() string { return "testkms: state file: " + e.Path + ": " + e.Err.Error() }

func (e *StateError) Unwrap() error { return e.Err }

var (
	stateAccessKeyIDPattern = regexp.MustCompile(`^[A-Za-z0-9.]{1,128}$`)
	stateSecretPattern      = regexp.MustCompile(`^[\x21-\x7e]{1,256}$`)
	stateTokenPattern       = regexp.MustCompile(`^[\x21-\x7e]+$`) // and at most 4096 bytes
)

// LoadState adds the accounts, identities, RAM policies, groups, keys,
// aliases and secrets of st to the server (on top of what it has). It is
// all or nothing: st is first loaded into a scratch server, and nothing
// changes when that fails. The error is a *StateError naming the place
// in the file. An access key id, key id, alias or secret that already
// exists is an error.
func (s *Server) LoadState(st *StateFile) error {
	if st == nil {
		return nil
	}
	scratch := newServer(Options{Region: s.region, Now: s.now, MaxSkew: s.maxSkew})
	if err := scratch.load(st); err != nil {
		return err
	}
	// The scratch server was empty; the real one may not be.
	if err := s.conflicts(scratch); err != nil {
		return err
	}
	return s.load(st)
}

// conflicts reports an access key, key, alias or secret of other that s
// already has.
func (s *Server) conflicts(other *Server) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range other.identities {
		if _, dup := s.identities[id]; dup {
			return &StateError{Path: "accounts", Err: fmt.Errorf("access key %q already exists on the server", id)}
		}
	}
	for id := range other.keyIndex {
		if _, dup := s.keyIndex[id]; dup {
			return &StateError{Path: "accounts", Err: fmt.Errorf("key %q already exists on the server", id)}
		}
	}
	for accountID, a := range other.accounts {
		mine := s.accounts[accountID]
		if mine == nil {
			continue
		}
		for region, rs := range a.regions {
			have := mine.regions[region]
			if have == nil {
				continue
			}
			for name := range rs.aliases {
				if _, dup := have.aliases[name]; dup {
					return &StateError{Path: "accounts", Err: fmt.Errorf("alias %q already exists in account %s, %s", name, accountID, region)}
				}
			}
			for name := range rs.secrets {
				if _, dup := have.secrets[name]; dup {
					return &StateError{Path: "accounts", Err: fmt.Errorf("secret %q already exists in account %s, %s", name, accountID, region)}
				}
			}
		}
	}
	return nil
}

// load applies st; on error the server may be partly changed.
func (s *Server) load(st *StateFile) error {
	seenAccount := map[string]bool{}
	for i := range st.Accounts {
		a := &st.Accounts[i]
		at := fmt.Sprintf("accounts[%d]", i)
		if !validAccountID(a.ID) || len(a.ID) > 64 {
			return &StateError{Path: at + ".id", Err: fmt.Errorf("%q is not an account id", a.ID)}
		}
		if seenAccount[a.ID] {
			return &StateError{Path: at + ".id", Err: fmt.Errorf("account %q is listed twice", a.ID)}
		}
		seenAccount[a.ID] = true
		if err := s.loadAccount(a, at); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) loadAccount(a *AccountState, at string) error {
	s.mu.Lock()
	s.accountLocked(a.ID)
	s.mu.Unlock()
	root := "acs:ram::" + a.ID + ":root"
	for j, k := range a.AccessKeys {
		if err := s.importKey(k, root, principalAccount, a.ID, a.ID, fmt.Sprintf("%s.accessKeys[%d]", at, j)); err != nil {
			return err
		}
	}

	policies := map[string]*refpolicy.Policy{}
	documents := map[string]string{}
	for j, p := range a.Policies {
		pt := fmt.Sprintf("%s.policies[%d]", at, j)
		if !validRAMName(p.Name) {
			return &StateError{Path: pt + ".name", Err: fmt.Errorf("%q is not a RAM policy name", p.Name)}
		}
		if _, dup := policies[p.Name]; dup {
			return &StateError{Path: pt + ".name", Err: fmt.Errorf("policy %q is listed twice", p.Name)}
		}
		parsed, err := refpolicy.Parse([]byte(p.Document), refpolicy.RAM)
		if err != nil {
			return &StateError{Path: pt + ".document", Err: err}
		}
		policies[p.Name], documents[p.Name] = parsed, string(p.Document)
	}
	attach := func(target string, names []string, pt string) error {
		for j, n := range names {
			parsed, ok := policies[n]
			if !ok {
				return &StateError{Path: fmt.Sprintf("%s.policies[%d]", pt, j), Err: fmt.Errorf("no policy %q in this account's policies", n)}
			}
			now := s.now()
			s.ram.mu.Lock()
			kind, account, name, _ := parseRAMEntityARN(target)
			if kind != "group" {
				s.ram.registerLocked(kind, account, name, now)
			}
			s.ram.attachLocked(target, n, documents[n], parsed, now)
			s.ram.mu.Unlock()
		}
		return nil
	}

	groups := map[string]bool{}
	for j, g := range a.Groups {
		gt := fmt.Sprintf("%s.groups[%d]", at, j)
		if !validRAMName(g.Name) {
			return &StateError{Path: gt + ".name", Err: fmt.Errorf("%q is not a RAM group name", g.Name)}
		}
		if groups[g.Name] {
			return &StateError{Path: gt + ".name", Err: fmt.Errorf("group %q is listed twice", g.Name)}
		}
		groups[g.Name] = true
		s.AddGroup(a.ID, g.Name)
		if err := attach(ramEntityARN(a.ID, "group", g.Name), g.Policies, gt); err != nil {
			return err
		}
	}
	users := map[string]bool{}
	for j, u := range a.Users {
		ut := fmt.Sprintf("%s.users[%d]", at, j)
		if !validRAMName(u.Name) {
			return &StateError{Path: ut + ".name", Err: fmt.Errorf("%q is not a RAM user name", u.Name)}
		}
		if users[u.Name] {
			return &StateError{Path: ut + ".name", Err: fmt.Errorf("user %q is listed twice", u.Name)}
		}
		users[u.Name] = true
		s.registerEntity("user", a.ID, u.Name)
		principal := "acs:ram::" + a.ID + ":user/" + u.Name
		for k, key := range u.AccessKeys {
			if err := s.importKey(key, principal, principalSubUser, u.Name, a.ID, fmt.Sprintf("%s.accessKeys[%d]", ut, k)); err != nil {
				return err
			}
		}
		for k, g := range u.Groups {
			if !groups[g] {
				return &StateError{Path: fmt.Sprintf("%s.groups[%d]", ut, k), Err: fmt.Errorf("no group %q in this account's groups", g)}
			}
			if err := s.AddUserToGroup(a.ID, u.Name, g); err != nil {
				return &StateError{Path: fmt.Sprintf("%s.groups[%d]", ut, k), Err: err}
			}
		}
		if err := attach(ramEntityARN(a.ID, "user", u.Name), u.Policies, ut); err != nil {
			return err
		}
	}
	roles := map[string]bool{}
	for j, r := range a.Roles {
		rt := fmt.Sprintf("%s.roles[%d]", at, j)
		if !validRAMName(r.Name) {
			return &StateError{Path: rt + ".name", Err: fmt.Errorf("%q is not a RAM role name", r.Name)}
		}
		if roles[r.Name] {
			return &StateError{Path: rt + ".name", Err: fmt.Errorf("role %q is listed twice", r.Name)}
		}
		roles[r.Name] = true
		s.registerEntity("role", a.ID, r.Name)
		for k, sess := range r.Sessions {
			st := fmt.Sprintf("%s.sessions[%d]", rt, k)
			if !validRAMName(sess.Name) {
				return &StateError{Path: st + ".name", Err: fmt.Errorf("%q is not a session name", sess.Name)}
			}
			if sess.SecurityToken == "" {
				sess.SecurityToken = "CAIS" + randomAlnum(120)
			} else if len(sess.SecurityToken) > 4096 || !stateTokenPattern.MatchString(sess.SecurityToken) {
				return &StateError{Path: st + ".securityToken", Err: errors.New("must be 1 to 4096 printable ASCII characters without spaces")}
			}
			principal := "acs:ram::" + a.ID + ":assumed-role/" + r.Name + "/" + sess.Name
			if err := s.importIdentity(Credential{
				AccessKeyID: sess.AccessKeyID, AccessKeySecret: sess.AccessKeySecret, SecurityToken: sess.SecurityToken,
				AccountID: a.ID, Principal: principal,
			}, principalAssumedRole, r.Name+":"+sess.Name, sess.Disabled, st, "accessKeyId", "accessKeySecret"); err != nil {
				return err
			}
		}
		if err := attach(ramEntityARN(a.ID, "role", r.Name), r.Policies, rt); err != nil {
			return err
		}
	}
	for j := range a.Keys {
		if err := s.loadKey(a.ID, &a.Keys[j], fmt.Sprintf("%s.keys[%d]", at, j)); err != nil {
			return err
		}
	}
	for j := range a.Secrets {
		if err := s.loadSecret(a.ID, &a.Secrets[j], fmt.Sprintf("%s.secrets[%d]", at, j)); err != nil {
			return err
		}
	}
	return nil
}

// importKey registers a long-term access key.
func (s *Server) importKey(k AccessKeyState, principal, ptype, display, accountID, at string) error {
	return s.importIdentity(Credential{AccessKeyID: k.ID, AccessKeySecret: k.Secret, AccountID: accountID, Principal: principal},
		ptype, display, k.Disabled, at, "id", "secret")
}

// importIdentity registers c as given.
func (s *Server) importIdentity(c Credential, ptype, display string, disabled bool, at, idField, secretField string) error {
	if !stateAccessKeyIDPattern.MatchString(c.AccessKeyID) {
		return &StateError{Path: at + "." + idField, Err: fmt.Errorf("%q is not an access key id (1 to 128 letters, digits and dots)", truncate(c.AccessKeyID, 64))}
	}
	if !stateSecretPattern.MatchString(c.AccessKeySecret) {
		// The value is never quoted: it is a secret.
		return &StateError{Path: at + "." + secretField, Err: errors.New("must be 1 to 256 printable ASCII characters without spaces")}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.identities[c.AccessKeyID]; dup {
		return &StateError{Path: at + "." + idField, Err: fmt.Errorf("access key %q is listed twice", c.AccessKeyID)}
	}
	s.accountLocked(c.AccountID)
	s.identities[c.AccessKeyID] = &identity{cred: c, principalType: ptype, displayName: display, expired: disabled}
	return nil
}

func (s *Server) loadKey(accountID string, ks *KeyState, at string) error {
	if ks.ID != "" && !seedKeyIDPattern.MatchString(ks.ID) {
		return &StateError{Path: at + ".id", Err: fmt.Errorf("%q is not a key id", truncate(ks.ID, 64))}
	}
	region := s.region
	if ks.Region != "" {
		if !regionPattern.MatchString(ks.Region) {
			return &StateError{Path: at + ".region", Err: fmt.Errorf("%q is not a region id", truncate(ks.Region, 64))}
		}
		region = ks.Region
	}
	state := ks.State
	switch state {
	case "":
		state = stateEnabled
	case stateEnabled, stateDisabled, statePendingDeletion:
	default:
		return &StateError{Path: at + ".state", Err: fmt.Errorf("%q is not Enabled, Disabled or PendingDeletion", truncate(state, 64))}
	}
	switch ks.ProtectionLevel {
	case "", protectionSoftware, protectionHSM:
	default:
		return &StateError{Path: at + ".protectionLevel", Err: fmt.Errorf("%q is not SOFTWARE or HSM", truncate(ks.ProtectionLevel, 64))}
	}
	if ks.RotationInterval != "" && !rotationIntervalPattern.MatchString(ks.RotationInterval) {
		return &StateError{Path: at + ".rotationInterval", Err: fmt.Errorf("%q is not like 365d or 31536000s", truncate(ks.RotationInterval, 64))}
	}
	for k, v := range ks.Tags {
		if e := validateTag("tags", k, v); e != nil {
			return &StateError{Path: at + ".tags", Err: errors.New(e.message)}
		}
	}
	if ks.Policy != "" {
		// As SetKeyPolicy checks it, so that every saved state loads again.
		if e := policyParam("policy", string(ks.Policy)); e != nil {
			return &StateError{Path: at + ".policy", Err: errors.New(e.message)}
		}
	}
	versions := make([]*keyVersion, 0, len(ks.Versions))
	seenVersion := map[string]bool{}
	for j, v := range ks.Versions {
		vt := fmt.Sprintf("%s.versions[%d]", at, j)
		if v.ID == "" || len(v.ID) > 64 || strings.ContainsAny(v.ID, " \t\r\n:/") {
			return &StateError{Path: vt + ".id", Err: errors.New("must be 1 to 64 characters without spaces, : or /")}
		}
		if seenVersion[v.ID] {
			return &StateError{Path: vt + ".id", Err: fmt.Errorf("version %q is listed twice", v.ID)}
		}
		seenVersion[v.ID] = true
		m, err := base64.StdEncoding.DecodeString(v.Material)
		if err != nil || len(m) != 32 {
			return &StateError{Path: vt + ".material", Err: errors.New("must be the standard base64 of 32 bytes")}
		}
		versions = append(versions, &keyVersion{id: v.ID, created: s.now(), material: m})
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	k, e := s.createKeyLocked(accountID, region, accountID, keyParams{
		id: ks.ID, description: ks.Description, instanceID: ks.InstanceID, protectionLevel: ks.ProtectionLevel,
		autoRotation: ks.AutomaticRotation, rotationInterval: ks.RotationInterval, tags: ks.Tags,
		policy: string(ks.Policy), disabled: state == stateDisabled,
	})
	if e != nil {
		return &StateError{Path: at + ".id", Err: errors.New(e.message)}
	}
	if len(versions) > 0 {
		k.versions = versions
	}
	if state == statePendingDeletion {
		k.state = statePendingDeletion
		k.deleteDate = s.now().AddDate(0, 0, 7)
	}
	rs := s.regionLocked(accountID, region)
	for j, name := range ks.Aliases {
		if len(name) > 255 || !aliasPattern.MatchString(name) {
			return &StateError{Path: fmt.Sprintf("%s.aliases[%d]", at, j), Err: fmt.Errorf("%q is not an alias name (alias/...)", truncate(name, 64))}
		}
		if _, dup := rs.aliases[name]; dup {
			return &StateError{Path: fmt.Sprintf("%s.aliases[%d]", at, j), Err: fmt.Errorf("alias %q is listed twice", name)}
		}
		// Aliases of a key pending deletion are kept, as when it was
		// scheduled after the alias was made.
		rs.aliases[name] = &alias{name: name, keyID: k.id, created: s.now()}
	}
	return nil
}

func (s *Server) loadSecret(accountID string, ss *SecretState, at string) error {
	if e := validateSecretName(ss.Name); e != nil {
		return &StateError{Path: at + ".name", Err: errors.New(e.message)}
	}
	region := s.region
	if ss.Region != "" {
		if !regionPattern.MatchString(ss.Region) {
			return &StateError{Path: at + ".region", Err: fmt.Errorf("%q is not a region id", truncate(ss.Region, 64))}
		}
		region = ss.Region
	}
	for k, v := range ss.Tags {
		if e := validateTag("tags", k, v); e != nil {
			return &StateError{Path: at + ".tags", Err: errors.New(e.message)}
		}
	}
	if ss.Policy != "" {
		if e := policyParam("policy", string(ss.Policy)); e != nil {
			return &StateError{Path: at + ".policy", Err: errors.New(e.message)}
		}
	}
	versions := ss.Versions
	switch {
	case ss.Value != nil && len(versions) > 0:
		return &StateError{Path: at, Err: errors.New("has both value and versions; give one")}
	case ss.Value != nil:
		versions = []SecretVersionState{{ID: "v1", Value: *ss.Value, Stages: []string{stageCurrent}}}
	case len(versions) == 0:
		return &StateError{Path: at, Err: errors.New("has neither value nor versions")}
	}
	type decoded struct {
		id, data, dataType string
		stages             []string
	}
	var vs []decoded
	current := 0
	seen := map[string]bool{}
	for j, v := range versions {
		vt := fmt.Sprintf("%s.versions[%d]", at, j)
		if ss.Value != nil {
			vt = at + ".value"
		}
		if e := validateVersionID("id", v.ID); e != nil {
			return &StateError{Path: vt + ".id", Err: errors.New(e.message)}
		}
		if seen[v.ID] {
			return &StateError{Path: vt + ".id", Err: fmt.Errorf("version %q is listed twice", v.ID)}
		}
		seen[v.ID] = true
		value := []byte(v.Value)
		if ss.Binary {
			b, err := base64.StdEncoding.DecodeString(v.Value)
			if err != nil {
				return &StateError{Path: vt + ".value", Err: errors.New("a binary secret's value must be standard base64")}
			}
			value = b
		}
		if len(value) > maxSecretBytes {
			return &StateError{Path: vt + ".value", Err: fmt.Errorf("longer than %d bytes", maxSecretBytes)}
		}
		data, dataType, err := encodeSecret(value, ss.Binary)
		if err != nil {
			return &StateError{Path: vt + ".value", Err: errors.New("a text secret's value must be UTF-8; set binary: true")}
		}
		seenStage := map[string]bool{}
		for k, st := range v.Stages {
			if st == "" || len(st) > 64 || seenStage[st] {
				return &StateError{Path: fmt.Sprintf("%s.stages[%d]", vt, k), Err: errors.New("stages must be distinct names of 1 to 64 characters")}
			}
			seenStage[st] = true
			if st == stageCurrent {
				current++
			}
		}
		vs = append(vs, decoded{id: v.ID, data: data, dataType: dataType, stages: v.Stages})
	}
	if current != 1 {
		return &StateError{Path: at + ".versions", Err: fmt.Errorf("exactly one version must have stage ACSCurrent, %d do", current)}
	}
	// Each stage other than ACSCurrent on at most one version, as
	// UpdateSecretVersionStage keeps it.
	stageOwner := map[string]string{}
	for _, v := range vs {
		for _, st := range v.stages {
			if prev, dup := stageOwner[st]; dup {
				return &StateError{Path: at + ".versions", Err: fmt.Errorf("stage %q is on versions %q and %q", st, prev, v.id)}
			}
			stageOwner[st] = v.id
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	p := secretParams{name: ss.Name, versionID: vs[0].id, data: vs[0].data, dataType: vs[0].dataType,
		description: ss.Description, tags: ss.Tags, policy: string(ss.Policy)}
	if ss.EncryptionKeyID != "" {
		ref, e := s.resolveKeyLocked(accountID, region, "encryptionKeyId", ss.EncryptionKeyID, true)
		if e != nil {
			return &StateError{Path: at + ".encryptionKeyId", Err: errors.New(e.message)}
		}
		p.key = ref.k
	}
	sec, e := s.createSecretLocked(accountID, region, p)
	if e != nil {
		return &StateError{Path: at + ".name", Err: errors.New(e.message)}
	}
	// createSecretLocked made the first version ACSCurrent; lay out every
	// version's stages as the file says.
	for _, v := range vs[1:] {
		if _, e := s.addSecretVersionLocked(sec, v.id, v.data, v.dataType, nil); e != nil {
			return &StateError{Path: at + ".versions", Err: errors.New(e.message)}
		}
	}
	for i, v := range vs {
		sec.versions[i].stages = slices.Clone(v.stages)
	}
	return nil
}

// SaveState returns the server's state as a [StateFile]: every account,
// access key (disabled ones marked), RAM policy, group, user, role session,
// key with its material, alias and secret with its values, as
// [Server.LoadState] reads them back. Forced denials, faults, request facts
// and counters are not state and are left out.
func (s *Server) SaveState() (*StateFile, error) {
	s.ram.mu.Lock()
	attached := map[string][]string{}        // target ARN → policy names
	docs := map[string]map[string]string{}   // account → name → document (most recent)
	docSeq := map[string]map[string]uint64{} // account → name → attachment seq
	for target, byName := range s.ram.attached {
		_, account, _, ok := parseRAMEntityARN(target)
		if !ok {
			continue
		}
		for name, a := range byName {
			attached[target] = append(attached[target], name)
			if docs[account] == nil {
				docs[account], docSeq[account] = map[string]string{}, map[string]uint64{}
			}
			if a.seq >= docSeq[account][name] {
				docs[account][name], docSeq[account][name] = a.document, a.seq
			}
		}
	}
	groupsOf := map[string][]string{} // user ARN → groups
	var groupList []*ramGroup
	for _, g := range s.ram.groups {
		groupList = append(groupList, g)
		for member := range g.members {
			u := ramEntityARN(g.account, "user", member)
			groupsOf[u] = append(groupsOf[u], g.name)
		}
	}
	entities := map[string][]string{} // "account\x00kind" → names
	for arn := range s.ram.entities {
		kind, account, name, ok := parseRAMEntityARN(arn)
		if ok {
			entities[account+"\x00"+kind] = append(entities[account+"\x00"+kind], name)
		}
	}
	s.ram.mu.Unlock()

	s.mu.Lock()
	defer s.mu.Unlock()
	byAccount := map[string]*AccountState{}
	account := func(id string) *AccountState {
		a := byAccount[id]
		if a == nil {
			a = &AccountState{ID: id}
			byAccount[id] = a
		}
		return a
	}
	for id := range s.accounts {
		account(id)
	}
	users := map[string]*UserState{}
	roles := map[string]*RoleState{}
	user := func(accountID, name string) *UserState {
		k := accountID + "\x00" + name
		if users[k] == nil {
			users[k] = &UserState{Name: name}
		}
		return users[k]
	}
	role := func(accountID, name string) *RoleState {
		k := accountID + "\x00" + name
		if roles[k] == nil {
			roles[k] = &RoleState{Name: name}
		}
		return roles[k]
	}
	for key, names := range entities {
		accountID, kind, _ := strings.Cut(key, "\x00")
		account(accountID)
		for _, n := range names {
			if kind == "user" {
				user(accountID, n)
			} else if kind == "role" {
				role(accountID, n)
			}
		}
	}
	ids := make([]string, 0, len(s.identities))
	for id := range s.identities {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		idn := s.identities[id]
		c := idn.cred
		a := account(c.AccountID)
		rest := strings.TrimPrefix(c.Principal, "acs:ram::"+c.AccountID+":")
		switch {
		case idn.principalType == principalAccount:
			a.AccessKeys = append(a.AccessKeys, AccessKeyState{ID: c.AccessKeyID, Secret: c.AccessKeySecret, Disabled: idn.expired})
		case idn.principalType == principalSubUser && strings.HasPrefix(rest, "user/"):
			u := user(c.AccountID, strings.TrimPrefix(rest, "user/"))
			u.AccessKeys = append(u.AccessKeys, AccessKeyState{ID: c.AccessKeyID, Secret: c.AccessKeySecret, Disabled: idn.expired})
		case idn.principalType == principalAssumedRole && strings.HasPrefix(rest, "assumed-role/"):
			rn, sn, _ := strings.Cut(strings.TrimPrefix(rest, "assumed-role/"), "/")
			r := role(c.AccountID, rn)
			r.Sessions = append(r.Sessions, SessionState{Name: sn, AccessKeyID: c.AccessKeyID,
				AccessKeySecret: c.AccessKeySecret, SecurityToken: c.SecurityToken, Disabled: idn.expired})
		}
	}
	for key, u := range users {
		accountID, _, _ := strings.Cut(key, "\x00")
		arn := ramEntityARN(accountID, "user", u.Name)
		u.Groups = sorted(groupsOf[arn])
		u.Policies = sorted(attached[arn])
		a := account(accountID)
		a.Users = append(a.Users, *u)
	}
	for key, r := range roles {
		accountID, _, _ := strings.Cut(key, "\x00")
		r.Policies = sorted(attached[ramEntityARN(accountID, "role", r.Name)])
		a := account(accountID)
		a.Roles = append(a.Roles, *r)
	}
	for _, g := range groupList {
		a := account(g.account)
		a.Groups = append(a.Groups, GroupState{Name: g.name, Policies: sorted(attached[ramEntityARN(g.account, "group", g.name)])})
	}
	for accountID, byName := range docs {
		a := account(accountID)
		for name, doc := range byName {
			a.Policies = append(a.Policies, RAMPolicyState{Name: name, Document: PolicyDocument(doc)})
		}
	}

	var keys []*key
	for _, k := range s.keyIndex {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].seq < keys[j].seq })
	for _, k := range keys {
		ks := KeyState{
			ID: k.id, Region: k.region, State: k.state, Description: k.description, InstanceID: k.instanceID,
			ProtectionLevel: k.protectionLevel, AutomaticRotation: k.autoRotation, RotationInterval: k.rotationInterval,
			Policy: PolicyDocument(k.policy),
		}
		if len(k.tags) > 0 {
			ks.Tags = cloneTags(k.tags)
		}
		for _, v := range k.versions {
			ks.Versions = append(ks.Versions, KeyVersionState{ID: v.id, Material: base64.StdEncoding.EncodeToString(v.material)})
		}
		if rs := s.accounts[k.account].regions[k.region]; rs != nil {
			for name, al := range rs.aliases {
				if al.keyID == k.id {
					ks.Aliases = append(ks.Aliases, name)
				}
			}
			sort.Strings(ks.Aliases)
		}
		a := account(k.account)
		a.Keys = append(a.Keys, ks)
	}

	var secrets []*secret
	for _, a := range s.accounts {
		for _, rs := range a.regions {
			for _, sec := range rs.secrets {
				secrets = append(secrets, sec)
			}
		}
	}
	sort.Slice(secrets, func(i, j int) bool { return secrets[i].seq < secrets[j].seq })
	for _, sec := range secrets {
		ss := SecretState{Name: sec.name, Region: sec.region, Description: sec.description,
			EncryptionKeyID: sec.encryptionKeyID, Policy: PolicyDocument(sec.policy)}
		if len(sec.tags) > 0 {
			ss.Tags = cloneTags(sec.tags)
		}
		for _, v := range sec.versions {
			pt, err := s.openSealedLocked(sec, v)
			if err != nil {
				return nil, fmt.Errorf("testkms: save secret %q version %q: %w", sec.name, v.id, err)
			}
			value := string(pt) // text as stored, or binary's base64 as stored
			ss.Binary = v.dataType == dataTypeBinary
			ss.Versions = append(ss.Versions, SecretVersionState{ID: v.id, Value: value, Stages: slices.Clone(v.stages)})
		}
		a := account(sec.account)
		a.Secrets = append(a.Secrets, ss)
	}

	out := &StateFile{}
	accountIDs := make([]string, 0, len(byAccount))
	for id := range byAccount {
		accountIDs = append(accountIDs, id)
	}
	sort.Strings(accountIDs)
	for _, id := range accountIDs {
		a := byAccount[id]
		sort.Slice(a.Users, func(i, j int) bool { return a.Users[i].Name < a.Users[j].Name })
		sort.Slice(a.Roles, func(i, j int) bool { return a.Roles[i].Name < a.Roles[j].Name })
		sort.Slice(a.Groups, func(i, j int) bool { return a.Groups[i].Name < a.Groups[j].Name })
		sort.Slice(a.Policies, func(i, j int) bool { return a.Policies[i].Name < a.Policies[j].Name })
		out.Accounts = append(out.Accounts, *a)
	}
	return out, nil
}

// openSealedLocked returns the stored form of a secret version (text, or
// base64 for binary) whatever its key's state.
func (s *Server) openSealedLocked(sec *secret, v *secretVersion) ([]byte, error) {
	h, err := parseBlob(v.sealed)
	if err != nil {
		return nil, err
	}
	material := s.serviceKey
	if h.keyID != serviceKeyID {
		k := s.keyIndex[h.keyID]
		if k == nil {
			return nil, fmt.Errorf("key %q is gone", h.keyID)
		}
		kv := k.view().version(h.versionID)
		if kv == nil {
			return nil, fmt.Errorf("key %q has no version %q", h.keyID, h.versionID)
		}
		material = kv.material
	}
	return open(h, material, secretContext(sec, v.id))
}

func sorted(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}
