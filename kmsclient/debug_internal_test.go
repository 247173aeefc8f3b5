package kmsclient

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRefusesSDKDebugSetAtProcessStart: the SDK reads DEBUG once, at
// package initialisation, so DEBUG=sdk in the process's initial
// environment keeps its debug output on even after the variable is unset.
// New must refuse then too. The test needs a process started with
// DEBUG=sdk, so it runs in a child.
func TestRefusesSDKDebugSetAtProcessStart(t *testing.T) {
	for _, debug := range []string{"sdk", "tls,sdk", "credential"} {
		t.Run(debug, func(t *testing.T) {
			if !inSubprocess(t) {
				runInSubprocess(t, "DEBUG="+debug)
				return
			}
			require.Equal(t, debug, os.Getenv("DEBUG"), "the child started with DEBUG set")
			require.NoError(t, os.Unsetenv("DEBUG"))
			_, err := New(Config{Region: "cn-hangzhou", Credentials: StaticCredentials("a", "b")})
			var ce *ConfigError
			require.ErrorAs(t, err, &ce, "DEBUG=%s at start is refused although unset now", debug)
			assert.Equal(t, "AllowSDKDebug", ce.Field)
			_, err = New(Config{Region: "cn-hangzhou", Credentials: StaticCredentials("a", "b"), AllowSDKDebug: true})
			assert.NoError(t, err)
		})
	}
}
