package llamaref

import (
	"os"
	"testing"
)

// RequireEnv, when set (CI sets it), turns a missing reference tool into a
// test failure instead of a skip.
const RequireEnv = "HEARTH_REQUIRE_TOOLS"

// Require skips the test when the reference tools are unavailable, or fails
// it when $HEARTH_REQUIRE_TOOLS is set.
func Require(t testing.TB) {
	t.Helper()
	err := Available()
	if err == nil {
		return
	}
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("%v (%s is set)", err, RequireEnv)
	}
	t.Skipf("%v (set %s to fail instead)", err, RequireEnv)
}
