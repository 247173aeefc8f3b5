// Package kmstest is an Alibaba Cloud KMS emulator for your tests: a real
// HTTP server on loopback that the Alibaba SDK, and so kmsclient and
// kmsenvelope, talk to unchanged, with the accounts, RAM users, roles,
// keys, aliases, secrets and policies your test gives it. It needs no cloud
// account and no network.
//
// Start one per test, take a credential, and build your client on it:
//
//	srv := kmstest.Start(t)
//	cred := srv.AddUser(srv.DefaultAccount(), "app")
//	keyID, _, err := srv.CreateKey(srv.DefaultAccount(), kmstest.KeyOptions{})
//	cfg := srv.ClientConfig(cred) // a kmsenvelope.Config pointed at srv
//	cfg.KeyID = keyID
//	client, err := kmsenvelope.New(ctx, cfg)
//
// [Server.KMSClientConfig] does the same for a kmsclient.Config. Against
// real KMS only the configuration changes.
//
// # Identities
//
// The Server starts with one account, [DefaultAccountID]. [Server.AddAccount]
// returns a root access key, [Server.AddUser] an access key of a RAM user,
// [Server.AssumeRole] STS credentials of a role session, and [Server.AddGroup]
// with [Server.AddUserToGroup] puts users in groups. Each [Credential] names
// its principal ARN; [UserARN], [RoleARN] and [GroupARN] spell the others.
// The Server also answers STS GetCallerIdentity and the RAM read calls a
// preflight makes (ListPoliciesForUser, GetPolicy, ...) on the same endpoint.
//
// # Keys, aliases and secrets
//
// [Server.CreateKey], [Server.CreateAlias], [Server.RotateKey],
// [Server.SetKeyState], [Server.CreateSecret] and [Server.PutSecretValue]
// seed state directly; your code then reaches it through the KMS API
// (GenerateDataKey, Decrypt, ReEncrypt, GetSecretValue, DescribeKey, ...),
// with Alibaba's parameters, answers and error codes, DryRun included.
//
// # Policies
//
// By default every request is allowed. After [Server.EnforcePolicies] the
// RAM policies attached with [Server.AttachPolicy] and
// [Server.AttachGroupPolicy] and the key and secret policies set with
// [Server.SetKeyPolicy] and [Server.SetSecretPolicy] decide, as KMS does,
// and a refusal is 403 Forbidden.NoPermission with an AccessDeniedDetail
// naming the action (kmsclient.ErrAccessDenied). Policies may test
// acs:SourceIp and acs:SourceVpc: say where a caller is with
// [Server.SetRequestFacts] (loopback is never a public address). Whatever
// the policies, [Server.Deny] refuses an action to a principal.
//
// # Faults and counters
//
// [Server.InjectFault] makes chosen calls throttle, fail with 5xx, answer
// garbage, hang or reset the connection, so that you can test retries and
// outages. [Server.Calls], [Server.TotalCalls] and [Server.ManagementCalls]
// count the requests that arrived, so that a test can assert that a cache
// saved a call or that a refused operation sent nothing.
//
// # Instance gateways
//
// [Server.StartInstanceGateway] adds the dedicated gateway of a KMS 3.0
// instance: its own HTTPS listener and CA over the same state, serving the
// cryptographic calls and GetSecretValue for the instance's keys only and
// refusing management calls, as the real one does. [Gateway.ClientConfig]
// points a client at it. [StartECSMetadata] fakes the ECS instance metadata
// service (IMDSv2, VPC id, RAM role credentials) for code that runs on ECS.
//
// # Compatibility
//
// Requests are verified as KMS verifies them: signature version 1.0
// (HMAC-SHA1), access key and STS token, timestamp within 15 minutes, no
// reused nonce. Only symmetric software keys (Aliyun_AES_256) and generic
// secrets are emulated. Ciphertexts are in the emulator's own authenticated
// format: only the Server that made them decrypts them. Where KMS's
// behaviour is not documented (some error codes, the instance gateway's
// answer to calls it does not serve) the emulator makes a choice, listed
// in the module's README; it is a test double, not KMS.
//
// # Security
//
// Keys and secret values live in memory only. The Server listens on
// 127.0.0.1 only, logs no parameters, and its generated CAs exist only in
// memory. It is not hardened for production: use it in tests and demos.
//
// # Stability
//
// This package follows the module's version: its identifiers change only
// with a new major version. The emulator gains APIs and checks over time;
// a test that passes against KMS should keep passing here.
package kmstest
