// Package kmsenvelope is an Alibaba Cloud KMS SDK for envelope encryption
// with an enforced access policy. Start with [New]:
//
//	client, err := kmsenvelope.New(ctx, kmsenvelope.Config{
//		Region:       "cn-hangzhou",
//		KeyID:        "alias/orders",
//		SecretNames:  []string{"orders-db-password"},
//		LivePolicies: true,                        // read the caller's own RAM policies
//		PolicyMode:   kmsenvelope.PolicyEnforce,   // check every KMS call locally first
//	})
//	report, err := client.Preflight(ctx)           // before serving: is everything allowed?
//	msg, err := client.Encrypt(ctx, record, map[string]string{"tenant": "acme"})
//	pw, err := client.Secret(ctx, "orders-db-password")
//
// The Client composes the sub-packages, each usable on its own:
// [github.com/kmsenvelope/kmsenvelope/envelope] (the message format and
// streams), [github.com/kmsenvelope/kmsenvelope/keycache] (data keys),
// [github.com/kmsenvelope/kmsenvelope/secrets] (GetSecretValue with caching
// and stale-on-outage), [github.com/kmsenvelope/kmsenvelope/localauthz]
// (policy evaluation, the operation catalogue, preflight) and
// [github.com/kmsenvelope/kmsenvelope/kmsclient] (the KMS calls).
//
// # Policy modes
//
// With [PolicyEnforce], every KMS call is first checked by localauthz
// against the policy set ([Config.Policies], or the caller's live policies
// with [Config.LivePolicies]); a call the policies do not allow fails before
// any request leaves the process, with an error that names the missing
// action and resource and unwraps to kmsclient.ErrAccessDenied. [PolicyWarn]
// logs the same report and makes the call; [PolicyOff] (the default) checks
// nothing. Local checks are predictions: KMS still decides.
//
// # Preflight
//
// [Client.Preflight] checks the operations the Client will perform
// (GenerateDataKey and Decrypt with [Config.KeyID], GetSecretValue of each of
// [Config.SecretNames], including kms:Decrypt on a secret's self-managed
// key) and reports the exact missing (action, resource) pairs and the
// statement that would grant them. When the caller may not read its own
// policies it says so and falls back to KMS DryRun probes.
package kmsenvelope
