package localauthz

import (
	"strings"

	"github.com/kmsenvelope/kmsenvelope/localauthz/core"
)

// arn is a parsed Alibaba Cloud resource name
// acs:<service>:<region>:<account>:<relative>. Its strings point into the
// original, so parsing does not allocate.
type arn struct {
	service, region, account, relative string
}

func parseARN(s string) (arn, bool) {
	if !strings.HasPrefix(s, "acs:") {
		return arn{}, false
	}
	rest := s[4:]
	var parts [3]string
	for i := range parts {
		j := strings.IndexByte(rest, ':')
		if j < 0 {
			return arn{}, false
		}
		parts[i], rest = rest[:j], rest[j+1:]
	}
	if parts[0] == "" || rest == "" {
		return arn{}, false
	}
	return arn{service: parts[0], region: parts[1], account: parts[2], relative: rest}, true
}

// kmsType is the KMS resource type named by an ARN.
type kmsType uint8

const (
	kmsOther kmsType = iota
	kmsKeyContainer
	kmsKey
	kmsAliasContainer
	kmsAlias
	kmsSecretContainer
	kmsSecret
)

// kmsType classifies a KMS ARN by its relative part.
func (a arn) kmsType() kmsType {
	if a.service != "kms" {
		return kmsOther
	}
	typ, name, hasName := strings.Cut(a.relative, "/")
	if hasName && name == "" {
		return kmsOther
	}
	switch typ {
	case "key":
		if hasName {
			return kmsKey
		}
		return kmsKeyContainer
	case "alias":
		if hasName {
			return kmsAlias
		}
		return kmsAliasContainer
	case "secret":
		if hasName {
			return kmsSecret
		}
		return kmsSecretContainer
	}
	return kmsOther
}

// container returns the container ARN (acs:kms:<region>:<account>:key)
// for a key, alias or secret ARN, or the ARN itself for a container.
func (a arn) container() string {
	typ, _, _ := strings.Cut(a.relative, "/")
	return "acs:" + a.service + ":" + a.region + ":" + a.account + ":" + typ
}

func (a arn) concrete() bool {
	return !core.ContainsAnyByte(a.region, "*?") && !core.ContainsAnyByte(a.account, "*?")
}
