package testkms_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
)

const seedYAML = `
accounts:
- id: "1234567890123456"
  accessKeys:
  - {id: LTAIrootkey0000000001, secret: rootsecret000000000000000000001}
  policies:
  - name: kms-use
    document:
      Version: "1"
      Statement:
      - {Effect: Allow, Action: ["kms:GenerateDataKey", "kms:Decrypt", "kms:GetSecretValue"], Resource: ["*"]}
  groups:
  - {name: devs, policies: [kms-use]}
  users:
  - name: app
    accessKeys: [{id: LTAIappkey00000000001, secret: appsecret0000000000000000000001}]
    groups: [devs]
  - name: nobody
    accessKeys: [{id: LTAInobody0000000001, secret: nobodysecret000000000000000001}]
  roles:
  - name: worker
    policies: [kms-use]
    sessions:
    - {name: s1, accessKeyId: STS.worker000000000001, accessKeySecret: workersecret00000000000000001}
  keys:
  - id: key-seeded0000000000000001
    description: seeded
    aliases: [alias/app]
    tags: {team: a}
    versions:
    - {id: 11111111-1111-4111-8111-111111111111, material: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=}
  - id: key-disabled000000000000001
    state: Disabled
  secrets:
  - name: db-password
    encryptionKeyId: alias/app
    value: hunter2
  - name: rotated
    versions:
    - {id: v1, value: old, stages: [ACSPrevious]}
    - {id: v2, value: new, stages: [ACSCurrent]}
  - name: blob
    binary: true
    value: AAEC
`

func TestStateFileSeedsAServer(t *testing.T) {
	st, err := testkms.ParseStateFile([]byte(seedYAML))
	require.NoError(t, err)
	srv := testkms.Start(t)
	require.NoError(t, srv.LoadState(st))
	srv.EnforcePolicies()

	app := testkms.Credential{AccessKeyID: "LTAIappkey00000000001", AccessKeySecret: "appsecret0000000000000000000001"}
	c := newClient(t, srv, app)
	req := kms.CreateGenerateDataKeyRequest()
	req.KeyId = "alias/app"
	req.EncryptionContext = `{"k":"v"}`
	gdk, err := c.GenerateDataKey(req)
	require.NoError(t, err, "the group's policy allows the user")
	assert.Equal(t, "key-seeded0000000000000001", gdk.KeyId)
	assert.Equal(t, "11111111-1111-4111-8111-111111111111", gdk.KeyVersionId)

	sv := kms.CreateGetSecretValueRequest()
	sv.SecretName = "db-password"
	got, err := c.GetSecretValue(sv)
	require.NoError(t, err)
	assert.Equal(t, "hunter2", got.SecretData)
	sv.SecretName = "rotated"
	got, err = c.GetSecretValue(sv)
	require.NoError(t, err)
	assert.Equal(t, "new", got.SecretData)
	assert.Equal(t, "v2", got.VersionId)

	nobody := newClient(t, srv, testkms.Credential{AccessKeyID: "LTAInobody0000000001", AccessKeySecret: "nobodysecret000000000000000001"})
	_, err = nobody.GenerateDataKey(req)
	requireAPIError(t, err, 403, "Forbidden.NoPermission")

	worker := newClient(t, srv, seededSession(t, srv, "STS.worker000000000001"))
	d := kms.CreateDecryptRequest()
	d.CiphertextBlob = gdk.CiphertextBlob
	d.EncryptionContext = `{"k":"v"}`
	dec, err := worker.Decrypt(d)
	require.NoError(t, err, "the role's policy allows its session")
	assert.Equal(t, gdk.Plaintext, dec.Plaintext)

	// Saved and loaded into a new server, the state still decrypts what the
	// old one encrypted, and says the same things.
	saved, err := srv.SaveState()
	require.NoError(t, err)
	for _, asJSON := range []bool{false, true} {
		data, err := saved.Marshal(asJSON)
		require.NoError(t, err)
		again, err := testkms.ParseStateFile(data)
		require.NoError(t, err, "%s", data)
		srv2 := testkms.Start(t)
		require.NoError(t, srv2.LoadState(again))
		d2 := kms.CreateDecryptRequest() // a request object keeps the SecurityToken it once sent
		d2.CiphertextBlob, d2.EncryptionContext = d.CiphertextBlob, d.EncryptionContext
		dec, err := newClient(t, srv2, app).Decrypt(d2)
		require.NoError(t, err)
		assert.Equal(t, gdk.Plaintext, dec.Plaintext)
		resaved, err := srv2.SaveState()
		require.NoError(t, err)
		assert.Equal(t, saved, resaved)
	}
	assert.Contains(t, saved.Accounts[0].Secrets[2].Versions[0].Value, "AAEC")
	assert.True(t, saved.Accounts[0].Secrets[2].Binary)
}

// seededSession finds the generated session token of a seeded STS access
// key through SaveState (the file gave only the id and secret).
func seededSession(t *testing.T, srv *testkms.Server, id string) testkms.Credential {
	st, err := srv.SaveState()
	require.NoError(t, err)
	for _, a := range st.Accounts {
		for _, r := range a.Roles {
			for _, s := range r.Sessions {
				if s.AccessKeyID == id {
					return testkms.Credential{AccessKeyID: s.AccessKeyID, AccessKeySecret: s.AccessKeySecret, SecurityToken: s.SecurityToken}
				}
			}
		}
	}
	t.Fatalf("no session %s", id)
	return testkms.Credential{}
}

func TestStateFileJSONAndEmpty(t *testing.T) {
	st, err := testkms.ParseStateFile([]byte(`{"accounts":[{"id":"42","keys":[{"id":"key-j","policy":{"Version":"1","Statement":[]}}]}]}`))
	require.NoError(t, err)
	assert.Equal(t, testkms.PolicyDocument(`{"Version":"1","Statement":[]}`), st.Accounts[0].Keys[0].Policy)
	for _, empty := range []string{"", "\n# nothing\n"} {
		st, err = testkms.ParseStateFile([]byte(empty))
		require.NoError(t, err)
		assert.Empty(t, st.Accounts)
	}
}

func TestStateFileErrors(t *testing.T) {
	material := base64.StdEncoding.EncodeToString(make([]byte, 32))
	tests := []struct {
		name, file string
		parse      string // error of ParseStateFile, part of the message
		path       string // StateError.Path of LoadState
	}{
		{name: "unknown YAML field", file: "accounts:\n- id: \"1\"\n  colour: red\n", parse: "line 3"},
		{name: "unknown JSON field", file: `{"accounts":[{"id":"1","colour":"red"}]}`, parse: "line 1"},
		{name: "JSON syntax", file: "{\"accounts\":\n[}", parse: "line 2"},
		{name: "policy not an object", file: "accounts:\n- id: \"1\"\n  keys:\n  - policy: [1]\n", parse: "line 4"},
		{name: "bad account id", file: "accounts:\n- id: \"a/b\"\n", path: "accounts[0].id"},
		{name: "account twice", file: "accounts:\n- id: \"1\"\n- id: \"1\"\n", path: "accounts[1].id"},
		{name: "access key without secret", file: "accounts:\n- id: \"1\"\n  accessKeys: [{id: LTAIx}]\n", path: "accounts[0].accessKeys[0].secret"},
		{name: "bad access key id", file: "accounts:\n- id: \"1\"\n  accessKeys: [{id: 'a b', secret: s}]\n", path: "accounts[0].accessKeys[0].id"},
		{name: "access key twice", file: "accounts:\n- id: \"1\"\n  accessKeys: [{id: LTAIx, secret: s}]\n  users: [{name: u, accessKeys: [{id: LTAIx, secret: t}]}]\n", path: "accounts[0].users[0].accessKeys[0].id"},
		{name: "unknown policy", file: "accounts:\n- id: \"1\"\n  users: [{name: u, policies: [nope]}]\n", path: "accounts[0].users[0].policies[0]"},
		{name: "malformed RAM policy", file: "accounts:\n- id: \"1\"\n  policies: [{name: p, document: {Version: \"1\", Statement: [{Effect: Maybe}]}}]\n", path: "accounts[0].policies[0].document"},
		{name: "unknown group", file: "accounts:\n- id: \"1\"\n  users: [{name: u, groups: [g]}]\n", path: "accounts[0].users[0].groups[0]"},
		{name: "bad key state", file: "accounts:\n- id: \"1\"\n  keys: [{state: Sleeping}]\n", path: "accounts[0].keys[0].state"},
		{name: "short material", file: "accounts:\n- id: \"1\"\n  keys: [{versions: [{id: v, material: AAAA}]}]\n", path: "accounts[0].keys[0].versions[0].material"},
		{name: "key id twice", file: "accounts:\n- id: \"1\"\n  keys: [{id: key-a}, {id: key-a}]\n", path: "accounts[0].keys[1].id"},
		{name: "bad alias", file: "accounts:\n- id: \"1\"\n  keys: [{aliases: [app]}]\n", path: "accounts[0].keys[0].aliases[0]"},
		{name: "key policy not JSON", file: "accounts:\n- id: \"1\"\n  keys: [{policy: 'not json'}]\n", path: "accounts[0].keys[0].policy"},
		{name: "secret without value", file: "accounts:\n- id: \"1\"\n  secrets: [{name: s}]\n", path: "accounts[0].secrets[0]"},
		{name: "secret with both", file: "accounts:\n- id: \"1\"\n  secrets: [{name: s, value: a, versions: [{id: v1, value: b, stages: [ACSCurrent]}]}]\n", path: "accounts[0].secrets[0]"},
		{name: "no current version", file: "accounts:\n- id: \"1\"\n  secrets: [{name: s, versions: [{id: v1, value: b}]}]\n", path: "accounts[0].secrets[0].versions"},
		{name: "two current versions", file: "accounts:\n- id: \"1\"\n  secrets: [{name: s, versions: [{id: v1, value: a, stages: [ACSCurrent]}, {id: v2, value: b, stages: [ACSCurrent]}]}]\n", path: "accounts[0].secrets[0].versions"},
		{name: "binary not base64", file: "accounts:\n- id: \"1\"\n  secrets: [{name: s, binary: true, value: '!!'}]\n", path: "accounts[0].secrets[0].value.value"},
		{name: "unknown encryption key", file: "accounts:\n- id: \"1\"\n  secrets: [{name: s, value: a, encryptionKeyId: key-none}]\n", path: "accounts[0].secrets[0].encryptionKeyId"},
		{name: "secret twice", file: "accounts:\n- id: \"1\"\n  secrets: [{name: s, value: a}, {name: s, value: b}]\n", path: "accounts[0].secrets[1].name"},
		{name: "good key then bad", file: "accounts:\n- id: \"1\"\n  keys: [{id: key-ok, versions: [{id: v, material: " + material + "}]}, {state: x}]\n", path: "accounts[0].keys[1].state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := testkms.ParseStateFile([]byte(tt.file))
			if tt.parse != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.parse)
				return
			}
			require.NoError(t, err)
			srv := testkms.Start(t)
			before, err := srv.SaveState()
			require.NoError(t, err)
			err = srv.LoadState(st)
			var se *testkms.StateError
			require.Truef(t, errors.As(err, &se), "want *StateError, got %v", err)
			assert.Equal(t, tt.path, se.Path, "%v", err)
			after, err := srv.SaveState()
			require.NoError(t, err)
			assert.Equal(t, before, after, "a failed load changes nothing")
		})
	}
}

func TestStateFileNeverQuotesSecrets(t *testing.T) {
	st, err := testkms.ParseStateFile([]byte("accounts:\n- id: \"1\"\n  accessKeys: [{id: LTAIx, secret: 'has space secret'}]\n"))
	require.NoError(t, err)
	err = testkms.Start(t).LoadState(st)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "has space secret")
}

func TestLoadStateConflictsWithExistingState(t *testing.T) {
	srv := testkms.Start(t)
	_, _, err := srv.CreateKey(srv.DefaultAccount(), testkms.KeyOptions{KeyID: "key-taken"})
	require.NoError(t, err)
	_, err = srv.CreateSecret(srv.DefaultAccount(), "taken", []byte("x"), testkms.SecretOptions{})
	require.NoError(t, err)
	for _, file := range []string{
		"accounts:\n- id: \"1234567890123456\"\n  keys: [{id: key-taken}]\n",
		"accounts:\n- id: \"1234567890123456\"\n  keys: [{id: key-new}]\n  secrets: [{name: taken, value: y}]\n",
	} {
		st, err := testkms.ParseStateFile([]byte(file))
		require.NoError(t, err)
		err = srv.LoadState(st)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "already exists")
	}
	saved, err := srv.SaveState()
	require.NoError(t, err)
	var ids []string
	for _, k := range saved.Accounts[0].Keys {
		ids = append(ids, k.ID)
	}
	assert.Equal(t, []string{"key-taken"}, ids, "nothing was loaded")
}

// FuzzStateFile: any file is parsed and loaded or refused with an error,
// never a panic; whatever loads saves and loads again.
func FuzzStateFile(f *testing.F) {
	f.Add([]byte(seedYAML))
	f.Add([]byte(`{"accounts":[{"id":"1","secrets":[{"name":"s","value":"v"}]}]}`))
	f.Add([]byte("accounts:\n- id: \"1\"\n  keys: [{aliases: [alias/a]}, {aliases: [alias/a]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		st, err := testkms.ParseStateFile(data)
		if err != nil {
			return
		}
		srv, err := testkms.New(testkms.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		if err := srv.LoadState(st); err != nil {
			if !strings.HasPrefix(err.Error(), "testkms: state file: ") {
				t.Fatalf("error %q", err)
			}
			return
		}
		saved, err := srv.SaveState()
		if err != nil {
			t.Fatal(err)
		}
		out, err := saved.Marshal(false)
		if err != nil {
			t.Fatal(err)
		}
		again, err := testkms.ParseStateFile(out)
		if err != nil {
			t.Fatalf("saved state does not parse: %v\n%s", err, out)
		}
		srv2, err := testkms.New(testkms.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer srv2.Close()
		if err := srv2.LoadState(again); err != nil {
			t.Fatalf("saved state does not load: %v\n%s", err, out)
		}
	})
}
