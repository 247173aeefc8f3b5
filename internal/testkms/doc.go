// Package testkms is an Alibaba Cloud KMS emulator served over loopback HTTP
// (or HTTPS with a generated CA) that the real alibaba-cloud-sdk-go client
// talks to unchanged. It verifies request signatures, keeps keys, aliases
// and secrets, answers in Alibaba's error format and injects faults on
// demand. It exists for tests and for the offline demo; it is not a KMS.
//
// Start one per test with [Start] (or [New] and [Server.Close] outside
// tests), take a credential from [Server.AddAccount], [Server.AddUser] or
// [Server.AssumeRole], and point an SDK client at it:
//
//	srv := testkms.Start(t)
//	cred := srv.AddUser(srv.DefaultAccount(), "app")
//	cfg := sdk.NewConfig().WithAutoRetry(false).WithScheme(srv.Scheme())
//	c, _ := kms.NewClientWithOptions(srv.Region(), cfg,
//		credentials.NewStaticAKCredentialsProvider(cred.AccessKeyID, cred.AccessKeySecret))
//	c.Domain = srv.Endpoint()
//	c.SetNoProxy("127.0.0.1") // the SDK applies HTTP_PROXY even to loopback
//
// Build one SDK client per goroutine: the SDK client mutates itself on every
// call. Do not reuse an SDK request object after clearing one of its fields
// or across credentials: parameters it once sent (SecurityToken included)
// stay in it.
//
// # Requests
//
// Every request goes through, in order: parameter parsing (query string and
// form body, the form wins) and call counting ([Server.Calls]); network
// faults (FaultLatency, FaultReset); authentication (signature version 1.0
// with HMAC-SHA1 in the parameters, as the v1 SDK and @alicloud/pop-core
// sign, or signature V3, ACS3-HMAC-SHA256 in the Authorization header with
// the x-acs-* headers, as the Darabonba SDKs sign: see signature3.go; then,
// for both, the access key, the STS security token, the request time within
// Options.MaxSkew and a nonce never reused, one cache for both); response faults
// (throttling, 5xx, malformed bodies); routing by Version and Action; the
// handler, which checks parameters, resolves resources, asks for
// permission once per (RAM action, resource) pair it needs (see
// [Authorizer]), checks key states, and honours DryRun.
//
// Resources live in an account and a region. A request's region is its
// RegionId (the server's default region when empty); a key, alias or secret
// of another region is not found. Key parameters accept a key id, a key ARN
// and, for cryptographic calls and DescribeKey, an alias name or alias ARN.
// An ARN may name another account; whether that is allowed is the
// Authorizer's decision (without one, everything is allowed).
//
// # Authorization
//
// Handlers call the installed [Authorizer] for each check and state in their
// code which checks they make: ReEncrypt checks kms:ReEncryptFrom on the
// source key and kms:ReEncryptTo on the destination; GetSecretValue checks
// kms:GetSecretValue on the secret and kms:Decrypt on its key when the key is
// a customer key; a key named by alias is checked on the alias ARN as well.
// Each [AuthzRequest] carries the key or secret policy and the condition keys
// acs:CurrentTime, acs:SecureTransport and, for the actions the KMS
// condition-key reference lists (and the secret actions), kms:tag/<key>.
// acs:SourceIp and acs:SourceVpc are present as KMS's condition-key page
// defines them: acs:SourceIp is "the public IP address of the client" only,
// so the client's loopback address never is; acs:SourceVpc only for a
// request "sent from an Alibaba Cloud VPC". Tests say where a caller is
// with [RequestFacts]: per access key ([Server.SetRequestFacts]) over a
// listener's default ([Server.SetListenerFacts] for the shared endpoint,
// [GatewayOptions].Facts and [Gateway.SetRequestFacts] for an instance
// gateway).
// [Server.Deny] forces denials regardless of the Authorizer.
//
// [Server.EnforcePolicies] decides checks with the emulator's own reference
// evaluator, package refpolicy, written from the seeds and Alibaba's RAM
// documentation and sharing no code with localauthz (a test enforces it):
// explicit Deny wins; the account root needs no policy; key and secret
// policies apply only to keys and secrets in a KMS instance; in the
// resource's own account a RAM or a key (secret) policy Allow suffices,
// across accounts both are needed; the key-policy principal
// acs:ram::<uid>:* names the account (its root), not its RAM users and
// roles. Malformed policies are refused with a *refpolicy.Error naming the
// JSON path.
//
// [Server.Reset] drops all state but the listeners (instance gateways
// included), so that one server can serve many independent scenarios in
// turn.
//
// # State files
//
// [ParseStateFile] reads a [StateFile], JSON or YAML: accounts, root access
// keys, RAM users, groups, roles and their sessions with fixed credentials,
// RAM custom policies and their attachments, keys with their material,
// aliases, secrets with their versions, key and secret policies.
// [Server.LoadState] adds one to a server, all or nothing, with errors
// naming the place in the file ([StateError]); [Server.SaveState] writes
// the state back, so that a standalone emulator (kmsenv emulator) can keep
// its keys, and what they encrypted, across restarts.
//
// # Instance gateways
//
// [Server.StartInstanceGateway] (or [Server.NewInstanceGateway]) adds the
// dedicated gateway of a KMS 3.0 instance, <instance-id>.cryptoservice.kms.aliyuncs.com:
// a second loopback listener, always HTTPS under its own generated CA
// ([Gateway.CertPool] for kmsclient.Config.RootCAs), on the same state. As
// Alibaba's "Classic KMS SDK" guide describes the real one, it serves the
// cryptographic calls (Encrypt, Decrypt, GenerateDataKey,
// GenerateDataKeyWithoutPlaintext) and GetSecretValue, for the keys and
// secrets of its instance only, and refuses ReEncrypt, every management
// call (DescribeKey, DescribeSecret, GetKeyPolicy, GetSecretPolicy,
// ListAliasesByKeyId, ...) and STS and RAM with 400 UnsupportedOperation
// (the code the Decrypt API page and the KMS instance API's common error
// codes list; its message, and the answer to STS and RAM calls, are
// emulator choices). [Gateway.Calls] counts the gateway's requests, which
// [Server.Calls] (the shared endpoint's) does not include;
// [Server.ManagementCalls] counts management requests on every listener,
// so that a test can assert that a data path made none.
//
// # STS and RAM
//
// Requests are routed by their Version parameter (the x-acs-version header
// under signature V3, with x-acs-action for the Action): 2016-01-20 to KMS,
// 2015-04-01 to STS and 2015-05-01 to RAM, all on the same endpoint (point
// an sts.Client or ram.Client's Domain at [Server.Endpoint] too). Every
// product shares signature verification, credentials, faults, call counting
// (by Action name: Calls("GetCallerIdentity")) and the error format; HostId
// is sts.aliyuncs.com or ram.aliyuncs.com.
//
// STS implements GetCallerIdentity, which needs no permission. It answers
// IdentityType Account, RAMUser or AssumedRoleUser with the caller's ARN,
// account id and stable user, role and principal ids; for a role session
// the ARN is acs:ram::<uid>:assumed-role/<role>/<session> and there is no
// UserId, as real STS answers. The emulator reads the older spelling
// acs:sts::<uid>:assumed-role/... wherever it takes a principal.
//
// RAM implements the read calls a permission preflight makes: GetUser,
// ListPoliciesForUser, ListPoliciesForRole, ListGroupsForUser,
// ListPoliciesForGroup, GetPolicy and GetPolicyVersion. Policies are those
// attached with [Server.AttachPolicy] and [Server.AttachGroupPolicy]: custom
// policies named as attached, with the single version "v1". Groups come from
// [Server.AddGroup] and [Server.AddUserToGroup]. A user exists once it has an
// access key, a policy or a group; a role once it was assumed or has a
// policy. Each call checks ram:<Action> (GetUser, ListPoliciesForUser,
// ListGroupsForUser on acs:ram::<uid>:user/<name>, ListPoliciesForRole on
// :role/<name>, ListPoliciesForGroup on :group/<name>, GetPolicy and
// GetPolicyVersion on :policy/<name>) through the same Authorizer as KMS,
// before looking the entity up; unknown entities answer 404
// EntityNotExist.User, .Role, .Group, .Policy (System policies are not
// emulated, so always this) or .PolicyVersion (an emulator choice).
// [Server.EnforcePolicies] applies a user's own policies and its groups'.
//
// # ECS instance metadata
//
// [StartECSMetadata] starts a fake ECS instance metadata service
// (http://100.100.100.200 on a real instance) serving instance-id,
// region-id, zone-id, vpc-id, vswitch-id, private-ipv4 and the instance's
// RAM role credentials (ram/security-credentials/[role], typically from
// [Server.AssumeRole]) under /latest/meta-data/, in security hardening mode
// (IMDSv2): a token from PUT /latest/api/token with
// X-aliyun-ecs-metadata-token-ttl-seconds (1 to 21600), sent as
// X-aliyun-ecs-metadata-token on every read; ECSMetadata.AllowNormalMode
// also answers reads without one. It accepts any Host, so a client that
// insists on dialling 100.100.100.200 can use it as its HTTP proxy
// (credentials-go's HttpOptions.Proxy does).
//
// # Errors
//
// Errors are JSON objects whose RequestId, HostId, Code, Message and
// Recommend are strings (the SDK panics on anything else), with the HTTP
// status KMS uses; 403 permission answers add an AccessDeniedDetail object.
// A disabled access key ([Server.ExpireCredential]) answers 403
// Forbidden.AccessKey, "This AccessKey is not enabled." (Alibaba's common
// error codes, https://www.alibabacloud.com/help/doc-detail/69008.html),
// without one. Messages
// never contain plaintext, secret values or session tokens: the string to
// sign echoed by SignatureDoesNotMatch has the values of Plaintext,
// SecretData and SecurityToken replaced by "REDACTED". Codes the public KMS
// documentation does not pin down are emulator choices: Rejected.ResourceExist
// (409) for an existing alias, secret or secret version,
// Rejected.UnexpectedState (409) for CancelKeyDeletion of a key that is not
// pending deletion, and InvalidSecurityToken.Missing (400).
//
// # Compatibility
//
// Ciphertext blobs use the emulator's own authenticated format (described in
// ciphertext.go); they are not real KMS ciphertexts and only the server that
// made them can decrypt them. Only symmetric Aliyun_AES_256 software keys and
// Generic secrets are emulated. Dates use real KMS's layout
// 2006-01-02T15:04:05Z.
//
// # Security
//
// Key material and secret values are kept in memory only, secret values
// sealed under the secret's key. The generated CA and server key exist only
// in memory and are valid for a week. The server listens on 127.0.0.1 unless
// Options.Addr says otherwise. [Server.SaveState] writes key material and
// secret values in the clear: its output is as sensitive as the keys.
// Nothing here is hardened for production use.
package testkms
