// Package kmsenvelope is an Alibaba Cloud KMS SDK for envelope encryption
// with an enforced access policy.
//
// The root package composes the sub-packages into one Client: envelope
// encryption (package envelope) backed by a data-key cache (package keycache),
// secrets retrieval (package secrets), and local policy evaluation
// (package localauthz) in front of every KMS call made through package
// kmsclient. The Client arrives in a later milestone; today the packages are
// usable on their own, starting with kmsclient.
package kmsenvelope
