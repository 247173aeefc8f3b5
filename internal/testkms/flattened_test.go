package testkms_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// A client that flattens a map into name.key parameters (the Tea RPC client
// under @alicloud/kms20160120 1.x does so with an EncryptionContext map)
// must not have its context dropped silently: then Decrypt would accept
// any context. The emulator refuses such parameters.
func TestFlattenedJSONParametersAreRefused(t *testing.T) {
	f := newFixture(t)
	keyID := f.createKey(t)
	tests := []struct {
		name, action string
		params       map[string]string
	}{
		{"GenerateDataKey context", "GenerateDataKey", map[string]string{"KeyId": keyID, "EncryptionContext.tenant": "a"}},
		{"Encrypt context", "Encrypt", map[string]string{"KeyId": keyID, "Plaintext": "aGk=", "EncryptionContext.tenant": "a"}},
		{"Decrypt context", "Decrypt", map[string]string{"CiphertextBlob": "AAAA", "EncryptionContext.tenant": "a"}},
		{"ReEncrypt source context", "ReEncrypt", map[string]string{"CiphertextBlob": "AAAA", "DestinationKeyId": keyID, "SourceEncryptionContext.a": "b"}},
		{"CreateKey tags", "CreateKey", map[string]string{"Tags.1.TagKey": "team", "Tags.1.TagValue": "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := baseParams(f.root, tt.action, time.Now())
			for k, v := range tt.params {
				p[k] = v
			}
			r := sendRaw(t, f.srv, http.MethodPost, f.root.AccessKeySecret, p, true)
			assert.Equal(t, http.StatusBadRequest, r.Status, "%s", r.Raw)
			assert.Equal(t, "InvalidParameter", r.code())
			assert.Contains(t, r.Body["Message"], "flattened")
		})
	}
}
