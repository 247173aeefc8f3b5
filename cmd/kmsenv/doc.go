// Command kmsenv is the command-line companion of the kmsenvelope SDK:
// envelope encryption of files and streams, header inspection, rewrapping,
// secrets, a live permission preflight, and offline policy tools.
//
//	kmsenv encrypt --key-id KEY [--context K=V]... [-r] [-o PATH] [--frame-size N] FILE|DIR|-...
//	kmsenv decrypt (--context K=V... | --no-context-check) \
//	    (--key-id KEY [--allowed-key PATTERN]... | --discovery-account ACCOUNT...) [-r] [-o PATH] FILE|DIR|-...
//	kmsenv inspect [--json] FILE|-...
//	kmsenv rewrap --key-id NEW (--context K=V... | --no-context-check) \
//	    [--allowed-key PATTERN]... [--discovery-account ACCOUNT]... FILE|-...
//	kmsenv secret get NAME [--stage S | --version V] [--field F]
//	kmsenv secret exec --env VAR=NAME[:FIELD]... -- COMMAND [ARG]...
//	kmsenv preflight [--key-id KEY]... [--secret NAME]... [--manifest FILE] [--json]
//	kmsenv policy test|lint|explain|check ...
//	kmsenv emulator [--listen ADDR] [--tls --ca-out FILE] [--seed FILE] [--save FILE] [--enforce] ...
//	kmsenv version
//	kmsenv completion bash|zsh|fish|powershell
//
// Every command has -h (exit 0). Flags may come before or after arguments;
// "--" ends them.
//
// # Exit status
//
// 0 success; 1 a check failed (a failing case, a lint error, a denial, a
// tampered or truncated message, a context or key-trust refusal, a KMS
// error, an output that exists without --force); 2 a usage error or an
// input that cannot be read (missing, unreadable, over its size limit).
// secret exec exits with the child's status instead (128+N for signal N,
// 127 when the command is not found, 126 when it cannot be started).
//
// # Connecting to KMS
//
// The commands that call KMS share --region (default $ALIBABA_CLOUD_REGION_ID),
// --endpoint (default $KMSENV_ENDPOINT, else kms.<region>.aliyuncs.com; a
// KMS instance gateway works for encrypt, decrypt and secrets),
// --management-endpoint (default $KMSENV_MANAGEMENT_ENDPOINT: management
// calls and ReEncrypt when --endpoint is an instance gateway), --ca-file
// (default $KMSENV_CA_FILE: the instance's private CA, PEM) and
// --instance-gateway. Credentials come from the library's default chain,
// kmsclient.DefaultCredentials: the ALIBABA_CLOUD_ACCESS_KEY_ID,
// ALIBABA_CLOUD_ACCESS_KEY_SECRET and ALIBABA_CLOUD_SECURITY_TOKEN
// variables, OIDC role assumption (RRSA), the aliyun CLI profile, the
// credentials file, the ECS RAM role, ALIBABA_CLOUD_CREDENTIALS_URI.
//
// # encrypt and decrypt
//
// Messages are package envelope's format (see its documentation), written
// and read with the streaming kmsenvelope.Client.NewWriter and NewReader, so
// memory stays bounded by the frame size (64 KiB by default) whatever the
// input: a 1 GiB file round-trips in under 20 MiB of resident memory.
//
// Naming: FILE is encrypted to FILE.kmsenv (--suffix); decrypt strips the
// suffix (a name without it gets ".decrypted"). With --output DIR (an
// existing directory) outputs go there, keeping the paths relative to each
// argument's parent (-r tree/ writes DIR/tree/...); with one input --output
// may name the output file, or - for stdout. "-" as input reads stdin and
// writes stdout unless --output names a file. -r walks directories: regular
// files only (symbolic links and devices are skipped with a note); encrypt
// skips files that already have the suffix, decrypt and rewrap take only
// those. An existing output is never overwritten without --force.
//
// Atomicity: each output file is written to a temporary file in the target
// directory (mode 0600) and moved into place only when complete: for
// decrypt, after the last frame has authenticated. Any failure (tampering,
// truncation, a KMS refusal, a signal) removes the temporary file and leaves
// no output. Without --force the move is a hard link, which fails rather
// than replace a file that appeared meanwhile. Output to stdout cannot be
// withdrawn: decrypt releases each frame only after it authenticates, but a
// later frame may still fail, so what was written is then incomplete and the
// exit status is 1.
//
// Encryption context: decrypt (and rewrap) require every --context pair of
// each message (the message may carry more), and refuse to run without
// --context unless --no-context-check says that any context will do, so a
// message made for another tenant or purpose is never accepted by omission.
// (aws-encryption-cli makes the same choice optional; here it is required.)
//
// Key trust is the library's (envelope.Config): strict by default, a
// message decrypts only under --key-id or a key whose ARN matches an
// --allowed-key pattern (RAM wildcards); --discovery-account ACCOUNT (or *)
// trusts any key of that account that KMS unwraps for the caller. A message
// under another key is refused before anything is sent to KMS. Discovery
// without --key-id picks the first wrapped key of an admitted account from
// the header; the library then checks that KMS used that very key.
//
// --metadata-output FILE|- writes one JSON object per file and line:
//
//	{"mode":"encrypt|decrypt|rewrap","input":…,"output":…,"messageId":"<hex>","keyArns":[…],
//	 "context":{…},"frameSize":65536,"plaintextBytes":N,"ciphertextBytes":N,"error":"…"}
//
// (error only for a failed file; plaintextBytes not for rewrap).
//
// Progress: when stderr is a terminal, inputs of 8 MiB or more (and stdin)
// show a progress bar with bytes done, rate and ETA; nothing is drawn when
// stderr is redirected, or with --quiet (which also drops the notes about
// skipped files).
//
// # inspect
//
// Prints a message's header (version, suite, message id, frame size,
// encryption context, the wrapped keys' provider, key ARN and blob size)
// without decrypting and without any KMS call; --json prints one object per
// message. The header is not authenticated until a decrypt.
//
// # rewrap
//
// Moves each message to --key-id NEW with envelope.Client.RewrapStream
// (KMS ReEncrypt): the authenticated header and the body are copied
// unchanged, the file is replaced atomically (its mode kept). The message is
// checked as decrypt checks it (context, trust of its current key: NEW, an
// --allowed-key pattern or a --discovery-account); the body is not verified.
//
// # secret
//
// secret get prints a secret's value exactly as stored (no newline added);
// --field takes one top-level field of a JSON secret (a string as it is,
// anything else as compact JSON). secret exec reads every --env secret
// first (nothing runs if one fails) and starts COMMAND with VAR=value added
// to its environment, never on its command line or on disk; SIGINT and
// SIGTERM are passed on. NAME may be a secret ARN; its :FIELD then follows
// the "secret/<name>" part.
//
// # preflight
//
// Runs kmsenvelope.Client.Preflight with live policies, as the caller: for
// each --key-id GenerateDataKey and Decrypt, for each --secret
// GetSecretValue, and for a --manifest (the policy check schema below) its
// GenerateDataKey, Decrypt and Encrypt operations on keys and its
// GetSecretValue operations (secrets by name, in the caller's region and
// account). Other manifest operations are listed as not checked, which is
// not OK, and so is a manifest whose principal is not the caller. Exit 1
// unless every report is OK (denied, conditional, not checked and DryRun
// disagreements are not).
//
// # policy
//
// The policy group is built on package localauthz. It speaks two
// dialects: Alibaba Cloud (RAM identity policies, KMS key and secret
// policies) and Huawei Cloud (IAM identity policies 5.0 and 1.1,
// Organizations SCPs, KMS resource policies):
//
//	kmsenv policy test [--json] [--dialect auto|alibaba|huawei] FILE|DIR|-...
//	kmsenv policy lint [--json] [--dialect auto|alibaba|huawei] \
//	    [--kind auto|ram|key|secret|identity|scp|resource] FILE|-...
//	kmsenv policy explain --policy FILE... [--key-policy KEY_ARN=FILE]... \
//	    --principal ARN (--action ACTION | --operation API [--fact K=V]...) \
//	    --resource ARN [--context KEY=VALUE]... [--unknown KEY]... [--in-instance] [--json]
//	kmsenv policy explain [--dialect huawei] --policy FILE... [--scp [TARGET=]FILE]... \
//	    [--resource-policy KEY_URN=FILE]... --principal URN \
//	    (--action ACTION --resource URN... | --api "METHOD PATH" [--resource URN... | \
//	     --region R --account ID [--key-id K] [--alias A] [--keystore-id S]]) \
//	    [--org-path root,ou:<id>,account:<id>] [--management-account] \
//	    [--context KEY=VALUE]... [--unknown KEY]... [--json]
//	kmsenv policy check --manifest FILE [--policy FILE]... \
//	    [--key-policy KEY_ARN=FILE]... [--secret-policy SECRET_ARN=FILE]... [--json]
//
// Every FILE may be "-" for stdin (once per command; --key-policy
// ARN=- too). Every input is read through a 4 MiB limit, so a wrong
// argument (/dev/zero, a disk image) fails at once with "input too large"
// instead of exhausting memory. A missing required flag is named in one
// line. The dialect defaults to
// auto: Huawei Cloud for Version "5.0" or "1.1" policies, Huawei-style
// actions (kms:cmk:decryptData), Huawei principals (iam::..., sts::...),
// case policies of type identity, scp or resource, and for explain any
// --scp or --resource-policy; Alibaba Cloud otherwise.
//
// # policy test
//
// Runs conformance cases (the schema of authz-cases/README.md: policies,
// request, expect, missing; for Huawei Cloud the variant of
// authz-cases/huawei-notes.md). A directory stands for the *.json files in
// it. Each case runs in its detected dialect unless --dialect names one; a
// case whose policies belong to the other dialect fails. An input without
// a case (an empty directory, a file holding null or []) is an error (exit
// 2), so that an emptied case file does not pass CI.
// With --json it prints one object per case and line,
//
//	{"name":…,"decision":"Allow|ImplicitDeny|ExplicitDeny|Conditional","missing":[{"action","resource","where"}],"denied":[{"action","resource","policy","statement"}],"conditionKeys":[…],"pass":true|false}
//
// otherwise "PASS name: decision" or "FAIL name: decision: why". The last
// line is always "N passed, N failed". The exit status is 0 only when every
// case passes.
//
// A case's request may list "unknownContext": ["acs:SourceIp"], condition
// keys the client cannot know but KMS sees (KMS's "Policy condition keys"
// page, https://www.alibabacloud.com/help/en/kms/security-and-compliance/condition-key:
// acs:SourceIp holds the public address only, acs:SourceVpc is set only
// for requests from a VPC). A decision that hinges on one is
// "Conditional"; a case may then also expect "conditionKeys" (compared
// as a set). conditionKeys appears in the JSON line only when not empty.
//
// # policy lint
//
// Prints findings as "FILE: severity code path: message" (see
// localauthz.Lint for the codes). The kind defaults to auto: the dialect
// is detected per file (or set with --dialect), then a key (Huawei:
// resource) policy when any statement has a Principal, else a RAM (Huawei:
// identity) policy; an SCP must be named with --kind scp. Exit status 1
// when any finding is an error.
//
// # policy explain
//
// Decides one request and prints the decision, the deciding statement (as
// canonical JSON), the missing pairs and where to grant them, absent
// condition keys and the assumptions made. With --operation the API is
// expanded into every (action, resource) pair it needs. Exit status 0 when
// allowed, 1 when denied or Conditional.
//
// --unknown KEY (repeatable) marks a request condition key whose value the
// client cannot know but KMS sees, such as acs:SourceIp behind a NAT or
// acs:SourceVpc. A condition on it is neither met nor failed: when the
// decision hinges on it, explain prints "Conditional" and "conditional on
// KEY (the client does not know it; KMS decides)", and suggests no grant.
// A key may not have a --context value as well. Without --unknown a key
// the request lacks is absent, and a statement that allows the request
// only under a condition it does not meet is named ("Statement[0] allows
// it when acs:SecureTransport is true (Bool); the request has false")
// instead of a grant that would drop the condition.
//
// For Huawei Cloud, --policy files are identity policies, --scp attaches an
// SCP at root, ou:<id> or account:<id> (default: the caller's account) and
// --resource-policy a resource policy to a key. --org-path places the
// caller's account in the organization and --management-account exempts it
// from SCPs. Several --resource values are units that must all be allowed
// (the key and the alias of kms:alias:create). --api "POST
// /v1.0/<project_id>/kms/decrypt-data" derives the action from the API
// table; the resources are then --resource, or built from --region,
// --account and the request's --key-id, --alias or --keystore-id.
//
// # policy check
//
// Preflights every operation of an application manifest and prints, per
// operation, the decision, the missing pairs, the explicit denials with the
// denying statement, and the minimal policy that grants what is missing
// (never one that drops a condition of an existing statement).
// Exit status 1 when any operation is not allowed, Conditional ones
// included (they are counted apart: "N conditional (KMS decides)"). The
// manifest is JSON:
//
//	{
//	  "principal": "acs:ram::<uid>:role/<name>",    // the application's identity (required)
//	  "context": {"acs:SourceIp": "203.0.113.7"},   // condition keys of every call (optional)
//	  "unknownContext": ["acs:SourceVpc"],           // keys KMS sees but the client cannot know (optional)
//	  "policies": [                                  // optional; paths relative to the manifest
//	    {"type": "ram", "file": "app-ram.json"},
//	    {"type": "key", "file": "key-policy.json", "target": "acs:kms:<region>:<uid>:key/<id>"}
//	  ],
//	  "operations": [                                // required, at least one
//	    {
//	      "operation": "GetSecretValue",             // KMS API name
//	      "resource": "acs:kms:<region>:<uid>:secret/<name>",
//	      "facts": {                                 // optional
//	        "encryptionKey": "acs:kms:<region>:<uid>:key/<id>",
//	        "encryptionKeyType": "self-managed",     // or "service-managed"
//	        "aliasTargetKey": "acs:kms:<region>:<uid>:key/<id>",
//	        "destinationKey": "acs:kms:<region>:<uid>:key/<id>",
//	        "keyInKmsInstance": true
//	      },
//	      "context": {"kms:tag/Project": "Apollo"}   // overrides the top-level context
//	    }
//	  ]
//	}
//
// Context values are strings, numbers or booleans, or arrays of them; a
// null value marks the key unknown, as unknownContext does.
// Unknown fields are errors, and so is anything after the JSON object. Policies given with --policy are RAM identity
// policies of the manifest's principal.
//
// # emulator
//
// kmsenv emulator runs the KMS emulator that kmsenvelope's own tests use
// (internal/testkms) as a server for other processes and other languages'
// Alibaba SDKs: KMS (2016-01-20), STS GetCallerIdentity and the RAM read
// calls, signed with signature v1 (HMAC-SHA1 RPC: the v1 Go SDK,
// @alicloud/pop-core, @alicloud/kms20160120) or v3 (ACS3-HMAC-SHA256 with the
// x-acs-* headers: the Go V2 SDK github.com/alibabacloud-go/kms-20160120/v3,
// @alicloud/openapi-client), each checked for its signature, time (15
// minutes, --max-skew) and nonce. It is a test double, not a KMS.
//
//	kmsenv emulator --seed cmd/kmsenv/testdata/emulator-seed.yaml --enforce > emulator.env &
//	set -a; . ./emulator.env; set +a   # once the "# kmsenv emulator ready" line is there
//	kmsenv secret get app/db-password
//
// It listens on --listen (default 127.0.0.1:0, a free loopback port) and
// refuses an address beyond loopback (an empty host, 0.0.0.0, a LAN address,
// a host name) unless --allow-non-loopback is given. --tls serves HTTPS
// under a CA generated at start (in memory, valid a week) whose certificate
// --ca-out writes (needed with --tls); the certificate names 127.0.0.1, ::1,
// localhost, the --listen host (unless it is 0.0.0.0 or ::) and every
// --tls-name.
//
// Once listening it prints, on stdout, shell-quoted environment lines
// (with --export, each starts with "export "), then "# kmsenv emulator
// ready; ...":
//
//	ALIBABA_CLOUD_ACCESS_KEY_ID=...        the credential (see below)
//	ALIBABA_CLOUD_ACCESS_KEY_SECRET=...
//	ALIBABA_CLOUD_SECURITY_TOKEN=...       for a role session's credential only
//	ALIBABA_CLOUD_REGION_ID=cn-hangzhou    --region
//	ALIBABA_CLOUD_ECS_METADATA_DISABLED=true   so that no SDK asks an ECS metadata service
//	KMS_ENDPOINT=127.0.0.1:PORT            an SDK's Endpoint (Go V2, Node openapi-client)
//	KMS_PROTOCOL=HTTP                      or HTTPS; the SDK's Protocol
//	KMSENV_ENDPOINT=http://127.0.0.1:PORT  the URL, for kmsenv's own commands and @alicloud/pop-core
//	KMS_CA_FILE=/abs/ca.pem                with --tls: the CA to trust (and KMSENV_CA_FILE, for kmsenv)
//
// The credential is --credential ACCESS_KEY_ID (from the seed), else the
// seed's first enabled access key (per account: root keys, users' keys, role
// sessions), else a new root access key of account 1234567890123456.
//
// On stderr it logs one line per request: method, action, principal,
// signature (1.0 or ACS3-HMAC-SHA256), HTTP status, decision (allowed,
// denied by a policy, unauthenticated, error) with the error code, and the
// time taken; never a parameter value, key, secret or signature (--quiet:
// none). SIGINT or SIGTERM stops it: it closes its connections, writes
// --save (YAML, or JSON for a name ending in .json; mode 0600, through a
// temporary file renamed into place) and exits 0. A saved file seeds the
// next run, keys included, so what was encrypted still decrypts.
//
// Without --enforce every authenticated call is allowed; with it the RAM
// policies of users (and their groups) and roles, and the key and secret
// policies of keys and secrets in a KMS instance, decide, as at KMS (the
// account root needs no policy). --clock-offset shifts the emulator's clock,
// to see how a client handles IllegalTimestamp.
//
// Exit status: 0 after a signal; 1 if it cannot listen or save; 2 for a
// usage error, an unreadable seed or one that does not load.
//
// # Seed file
//
// --seed reads JSON (a file starting with "{") or YAML, with the same field
// names; unknown fields are refused and errors name the place
// (accounts[0].keys[1].state). cmd/kmsenv/testdata/emulator-seed.yaml is a
// complete example. Everything is optional except the ids and names that
// identify things:
//
//	accounts:
//	- id: "1234567890123456"            # the account uid
//	  accessKeys:                       # root access keys
//	  - {id: LTAI..., secret: ..., disabled: false}
//	  policies:                         # RAM custom policies: name and document
//	  - name: app-kms                   # (a JSON or YAML object, or its JSON text;
//	    document: {Version: "1", Statement: [...]}   # quote Version: "1")
//	  groups:
//	  - {name: apps, policies: [app-kms]}
//	  users:
//	  - name: app
//	    accessKeys: [{id: LTAI..., secret: ...}]
//	    groups: [apps]
//	    policies: [app-kms]             # names from the account's policies
//	  roles:
//	  - name: worker
//	    policies: [app-kms]
//	    sessions:                       # STS credentials of role sessions
//	    - {name: batch, accessKeyId: STS..., accessKeySecret: ..., securityToken: ...}  # token generated when empty
//	  keys:
//	  - id: key-...                     # generated when empty
//	    region: cn-hangzhou             # --region when empty
//	    state: Enabled                  # Enabled | Disabled | PendingDeletion
//	    description: ...
//	    instanceId: kst-...             # in a KMS instance: its key policy applies
//	    protectionLevel: SOFTWARE       # or HSM
//	    automaticRotation: false
//	    rotationInterval: 365d
//	    tags: {team: payments}
//	    policy: {...}                   # the key policy; KMS's default when empty
//	    aliases: [alias/app]
//	    versions:                       # oldest first, the last is primary; one random when empty
//	    - {id: <uuid>, material: <base64 of 32 bytes>}
//	  secrets:
//	  - name: app/db-password
//	    region: cn-hangzhou
//	    description: ...
//	    encryptionKeyId: alias/app      # a key (id, ARN or alias) of the account; the service key when empty
//	    binary: false                   # values are base64 when true
//	    tags: {team: payments}
//	    policy: {...}                   # the secret policy
//	    value: ...                      # one version "v1", ACSCurrent ...
//	    versions:                       # ... or every version, exactly one ACSCurrent
//	    - {id: v1, value: ..., stages: [ACSPrevious]}
//	    - {id: v2, value: ..., stages: [ACSCurrent]}
//
// A saved file has the same shape, with every generated id, key material,
// secret value and session token written out: treat it as you would the keys.
// Creation and rotation dates are not kept.
package main
