package kmsclient_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// TestCredentialsNeverPrintTheSecret covers every way a Credentials value
// might be printed or encoded by accident.
func TestCredentialsNeverPrintTheSecret(t *testing.T) {
	c := kmsclient.Credentials{AccessKeyID: "AKID", AccessKeySecret: "SEKRIT-VALUE", SecurityToken: "TOKEN-VALUE"}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		// (Not inside an unexported field: fmt prints those field by field,
		// and these fields are exported strings; see the type's doc.)
		outs = append(outs, fmt.Sprintf(verb, c), fmt.Sprintf(verb, &c), fmt.Sprintf(verb, struct{ C kmsclient.Credentials }{c}))
	}
	j, err := json.Marshal(struct{ C kmsclient.Credentials }{c})
	require.NoError(t, err)
	outs = append(outs, string(j))
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "creds", c)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("m", "creds", c)
	outs = append(outs, buf.String())
	for _, o := range outs {
		assert.NotContains(t, o, "SEKRIT")
		assert.NotContains(t, o, "TOKEN-VALUE")
	}
	assert.Contains(t, string(j), "AKID")
}
