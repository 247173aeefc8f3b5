// Command kmsenv is the command-line companion of the kmsenvelope SDK.
//
// Today it has one command group, policy, built on package localauthz. It
// speaks two dialects: Alibaba Cloud (RAM identity policies, KMS key and
// secret policies) and Huawei Cloud (IAM identity policies 5.0 and 1.1,
// Organizations SCPs, KMS resource policies):
//
//	kmsenv policy test [--json] [--dialect auto|alibaba|huawei] FILE|DIR...
//	kmsenv policy lint [--json] [--dialect auto|alibaba|huawei] \
//	    [--kind auto|ram|key|secret|identity|scp|resource] FILE...
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
// Flags may come before or after file arguments. The dialect defaults to
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
// case whose policies belong to the other dialect fails.
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
// Unknown fields are errors. Policies given with --policy are RAM identity
// policies of the manifest's principal.
//
// Exit status 2 reports a usage error or unreadable input.
package main
