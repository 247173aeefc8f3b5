package testkms

import (
	"net/http"
	"slices"
)

// taggable is the resource a tag call names: a key or a secret.
type taggable struct {
	k      *key
	sec    *secret
	target authzTarget
}

// tagsLocked returns the live tag map of the resource. Call with Server.mu
// held.
func (t *taggable) tagsLocked() map[string]string {
	if t.k != nil {
		return t.k.tags
	}
	return t.sec.tags
}

// lookupTaggable resolves exactly one of KeyId and SecretName.
func (c *call) lookupTaggable() (*taggable, *apiError) {
	if c.param("CertificateId") != "" {
		return nil, errInvalidParam("CertificateId", "certificates are not emulated")
	}
	hasKey, hasSecret := c.param("KeyId") != "", c.param("SecretName") != ""
	switch {
	case hasKey && hasSecret:
		return nil, errInvalidParam("KeyId", "give only one of KeyId and SecretName")
	case hasKey:
		ref, err := c.lookupKey("KeyId", false)
		if err != nil {
			return nil, err
		}
		return &taggable{k: ref.k, target: ref.target()}, nil
	case hasSecret:
		sec, err := c.lookupSecret()
		if err != nil {
			return nil, err
		}
		c.s.mu.Lock()
		t := &taggable{sec: sec, target: sec.target()}
		c.s.mu.Unlock()
		return t, nil
	default:
		return nil, errMissingParam("KeyId")
	}
}

// handleTagResource: checks kms:TagResource on the key or secret.
func handleTagResource(c *call) (any, *apiError) {
	if _, err := c.required("Tags"); err != nil {
		return nil, err
	}
	tags, err := c.tagsParam("Tags")
	if err != nil {
		return nil, err
	}
	t, err := c.lookupTaggable()
	if err != nil {
		return nil, err
	}
	if err := c.authorize("kms:TagResource", t.target); err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	live := t.tagsLocked()
	merged := cloneTags(live)
	for k, v := range tags {
		merged[k] = v
	}
	if len(merged) > maxTagsPerObject {
		return nil, newError(http.StatusBadRequest, codeLimitExceeded, "A resource can have at most 20 tags.")
	}
	for k, v := range tags {
		live[k] = v
	}
	return okResponse{RequestID: c.requestID}, nil
}

// handleUntagResource: checks kms:UntagResource on the key or secret.
func handleUntagResource(c *call) (any, *apiError) {
	if _, err := c.required("TagKeys"); err != nil {
		return nil, err
	}
	keys, err := c.stringListParam("TagKeys")
	if err != nil {
		return nil, err
	}
	t, err := c.lookupTaggable()
	if err != nil {
		return nil, err
	}
	if err := c.authorize("kms:UntagResource", t.target); err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	live := t.tagsLocked()
	for _, k := range keys {
		delete(live, k)
	}
	return okResponse{RequestID: c.requestID}, nil
}

// handleListResourceTags: checks kms:ListResourceTags on the key or secret.
func handleListResourceTags(c *call) (any, *apiError) {
	t, err := c.lookupTaggable()
	if err != nil {
		return nil, err
	}
	if err := c.authorize("kms:ListResourceTags", t.target); err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	keyID := ""
	if t.k != nil {
		keyID = t.k.id
	}
	return struct {
		RequestID string  `json:"RequestId"`
		Tags      tagList `json:"Tags"`
	}{c.requestID, sortedTags(t.tagsLocked(), keyID)}, nil
}

type policyResponse struct {
	RequestID string `json:"RequestId"`
	Policy    string `json:"Policy"`
}

// handleGetKeyPolicy: checks kms:GetKeyPolicy on the key.
func handleGetKeyPolicy(c *call) (any, *apiError) {
	if err := c.policyName(); err != nil {
		return nil, err
	}
	ref, err := c.lookupKey("KeyId", false)
	if err != nil {
		return nil, err
	}
	if err := c.authorizeKey("kms:GetKeyPolicy", ref); err != nil {
		return nil, err
	}
	return policyResponse{RequestID: c.requestID, Policy: ref.target().policy}, nil
}

// handleSetKeyPolicy: checks kms:SetKeyPolicy on the key.
func handleSetKeyPolicy(c *call) (any, *apiError) {
	if err := c.policyName(); err != nil {
		return nil, err
	}
	policy, err := c.required("Policy")
	if err != nil {
		return nil, err
	}
	if err := policyParam("Policy", policy); err != nil {
		return nil, err
	}
	ref, err := c.lookupKey("KeyId", false)
	if err != nil {
		return nil, err
	}
	if err := c.authorizeKey("kms:SetKeyPolicy", ref); err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	ref.k.policy = policy
	return okResponse{RequestID: c.requestID}, nil
}

// handleGetSecretPolicy: checks kms:GetSecretPolicy on the secret.
func handleGetSecretPolicy(c *call) (any, *apiError) {
	if err := c.policyName(); err != nil {
		return nil, err
	}
	sec, err := c.lookupSecret()
	if err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	target := sec.target()
	c.s.mu.Unlock()
	if err := c.authorize("kms:GetSecretPolicy", target); err != nil {
		return nil, err
	}
	return policyResponse{RequestID: c.requestID, Policy: target.policy}, nil
}

// handleSetSecretPolicy: checks kms:SetSecretPolicy on the secret.
func handleSetSecretPolicy(c *call) (any, *apiError) {
	if err := c.policyName(); err != nil {
		return nil, err
	}
	policy, err := c.required("Policy")
	if err != nil {
		return nil, err
	}
	if err := policyParam("Policy", policy); err != nil {
		return nil, err
	}
	sec, err := c.lookupSecret()
	if err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	target := sec.target()
	c.s.mu.Unlock()
	if err := c.authorize("kms:SetSecretPolicy", target); err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	sec.policy = policy
	return okResponse{RequestID: c.requestID}, nil
}

// knownRegions are the regions DescribeRegions reports, besides the
// server's default region. Requests may name any well-formed region.
var knownRegions = []string{
	"ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-3", "ap-southeast-5",
	"cn-beijing", "cn-chengdu", "cn-hangzhou", "cn-hongkong", "cn-huhehaote",
	"cn-qingdao", "cn-shanghai", "cn-shenzhen", "cn-zhangjiakou",
	"eu-central-1", "eu-west-1", "me-east-1", "us-east-1", "us-west-1",
}

// handleDescribeRegions: no permission check. KMS's authorization page says
// DescribeRegions "does not require access control": any authenticated
// caller may list regions.
func handleDescribeRegions(c *call) (any, *apiError) {
	ids := slices.Clone(knownRegions)
	if !slices.Contains(ids, c.s.region) {
		ids = append(ids, c.s.region)
	}
	slices.Sort(ids)
	type region struct {
		RegionID string `json:"RegionId"`
	}
	type regions struct {
		Region []region `json:"Region"`
	}
	out := regions{Region: make([]region, 0, len(ids))}
	for _, id := range ids {
		out.Region = append(out.Region, region{id})
	}
	return struct {
		RequestID string  `json:"RequestId"`
		Regions   regions `json:"Regions"`
	}{c.requestID, out}, nil
}
