package testkms

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Limits on request parameters, as documented for KMS.
const (
	maxContextBytes   = 8192
	maxPlaintextBytes = 6144
	maxSecretBytes    = 30720
	maxPolicyBytes    = 32768
	maxTagsPerObject  = 20
	maxDataKeyBytes   = 1024
)

// param returns the value of a request parameter ("" when absent).
func (c *call) param(name string) string { return c.params.Get(name) }

// required returns a parameter that must be present and non-empty.
func (c *call) required(name string) (string, *apiError) {
	v := c.params.Get(name)
	if v == "" {
		return "", errMissingParam(name)
	}
	return v, nil
}

// boolParam parses an optional "true"/"false" parameter.
func (c *call) boolParam(name string) (bool, *apiError) {
	switch v := c.params.Get(name); strings.ToLower(v) {
	case "":
		return false, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	default:
		return false, errInvalidParam(name, "must be true or false")
	}
}

// intParam parses an optional integer parameter in [lo, hi], def when absent.
func (c *call) intParam(name string, def, lo, hi int) (int, *apiError) {
	v := c.params.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, errInvalidParam(name, "must be an integer from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi))
	}
	return n, nil
}

// dryRun parses the DryRun parameter.
func (c *call) dryRun() (bool, *apiError) { return c.boolParam("DryRun") }

// page parses PageNumber (default 1) and PageSize (default 10, at most 100).
func (c *call) page() (number, size int, err *apiError) {
	if number, err = c.intParam("PageNumber", 1, 1, 1<<30); err != nil {
		return 0, 0, err
	}
	if size, err = c.intParam("PageSize", 10, 1, 100); err != nil {
		return 0, 0, err
	}
	return number, size, nil
}

// paginate returns page number (1-based) of size items.
func paginate[T any](items []T, number, size int) []T {
	start := (number - 1) * size
	if start >= len(items) {
		return []T{}
	}
	return items[start:min(start+size, len(items))]
}

// refuseFlattened refuses parameters named name.<anything>: a client that
// flattened a map or list (as the Tea RPC client under
// @alicloud/kms20160120 1.x does with an EncryptionContext map, sending
// EncryptionContext.tenant=a) instead of sending the JSON string KMS
// documents for these parameters. Ignoring them would drop an encryption
// context without a word, so that Decrypt accepts any context; how real
// KMS answers such a request is not documented, so the emulator errs
// toward refusal.
func (c *call) refuseFlattened(name string) *apiError {
	prefix := name + "."
	for k := range c.params {
		if strings.HasPrefix(k, prefix) {
			return errInvalidParam(name, "must be one parameter holding JSON; parameters like "+truncate(k, 64)+
				" (a flattened map or list) are not accepted")
		}
	}
	return nil
}

// contextParam parses an optional encryption context: a JSON object of
// string values. It returns nil when absent.
func (c *call) contextParam(name string) (map[string]string, *apiError) {
	if err := c.refuseFlattened(name); err != nil {
		return nil, err
	}
	v := c.params.Get(name)
	if v == "" {
		return nil, nil
	}
	if len(v) > maxContextBytes {
		return nil, errInvalidParam(name, "longer than 8192 bytes")
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(v), &raw); err != nil || raw == nil {
		return nil, errInvalidParam(name, "must be a JSON object of string values")
	}
	ctx := make(map[string]string, len(raw))
	for k, val := range raw {
		s, ok := val.(string)
		if !ok {
			return nil, errInvalidParam(name, "must be a JSON object of string values")
		}
		ctx[k] = s
	}
	return ctx, nil
}

// tagJSON is one element of a Tags parameter.
type tagJSON struct {
	TagKey   string `json:"TagKey"`
	TagValue string `json:"TagValue"`
}

// tagsParam parses an optional Tags parameter, a JSON array of
// {"TagKey","TagValue"} objects.
func (c *call) tagsParam(name string) (map[string]string, *apiError) {
	if err := c.refuseFlattened(name); err != nil {
		return nil, err
	}
	v := c.params.Get(name)
	if v == "" {
		return nil, nil
	}
	var list []tagJSON
	if err := json.Unmarshal([]byte(v), &list); err != nil || list == nil {
		return nil, errInvalidParam(name, `must be a JSON array like [{"TagKey":"k","TagValue":"v"}]`)
	}
	tags := make(map[string]string, len(list))
	for _, t := range list {
		if err := validateTag(name, t.TagKey, t.TagValue); err != nil {
			return nil, err
		}
		tags[t.TagKey] = t.TagValue
	}
	if len(tags) > maxTagsPerObject {
		return nil, errInvalidParam(name, "more than 20 tags")
	}
	return tags, nil
}

func validateTag(param, k, v string) *apiError {
	switch {
	case k == "" || len(k) > 128:
		return errInvalidParam(param, "TagKey must be 1 to 128 characters")
	case strings.HasPrefix(strings.ToLower(k), "aliyun") || strings.HasPrefix(strings.ToLower(k), "acs:"):
		return errInvalidParam(param, `TagKey must not start with "aliyun" or "acs:"`)
	case len(v) > 128:
		return errInvalidParam(param, "TagValue must be at most 128 characters")
	}
	return nil
}

// stringListParam parses an optional JSON array of strings.
func (c *call) stringListParam(name string) ([]string, *apiError) {
	v := c.params.Get(name)
	if v == "" {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal([]byte(v), &list); err != nil || list == nil {
		return nil, errInvalidParam(name, `must be a JSON array of strings like ["a","b"]`)
	}
	return list, nil
}

// policyParam validates a policy document: a JSON object of at most 32 KiB.
// The emulator stores it as given; enforcement is the Authorizer's job.
func policyParam(name, v string) *apiError {
	if len(v) > maxPolicyBytes {
		return errInvalidParam(name, "longer than 32768 bytes")
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(v), &obj); err != nil || obj == nil {
		return errInvalidParam(name, "must be a JSON object")
	}
	return nil
}

// policyName checks the PolicyName parameter: only "default" exists.
func (c *call) policyName() *apiError {
	if n := c.params.Get("PolicyName"); n != "" && n != "default" {
		return errInvalidParam("PolicyName", `the only policy name is "default"`)
	}
	return nil
}

// tagList is the wire form of tags, sorted by key.
type tagList struct {
	Tag []tagOut `json:"Tag"`
}

type tagOut struct {
	TagKey   string `json:"TagKey"`
	TagValue string `json:"TagValue"`
	KeyID    string `json:"KeyId,omitempty"`
}

func sortedTags(tags map[string]string, keyID string) tagList {
	out := tagList{Tag: make([]tagOut, 0, len(tags))}
	for k, v := range tags {
		out.Tag = append(out.Tag, tagOut{TagKey: k, TagValue: v, KeyID: keyID})
	}
	sort.Slice(out.Tag, func(i, j int) bool { return out.Tag[i].TagKey < out.Tag[j].TagKey })
	return out
}

// formatTime formats t the way KMS answers dates.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timestampLayout)
}
