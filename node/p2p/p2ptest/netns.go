package p2ptest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// netnsEnv marks a test process that runs inside the namespace created by
// InNetNS; its value is the name of the test that asked for it.
const netnsEnv = "HEARTH_TEST_NETNS"

// RequireToolsEnv, when set, turns "cannot create a network namespace here"
// from a skip into a test failure (for CI, where the tools must work).
const RequireToolsEnv = "HEARTH_REQUIRE_TOOLS"

// LoopbackMulticast is the namespace setup for mDNS: loopback up, multicast
// on and routed to lo.
var LoopbackMulticast = []string{
	"ip link set lo up",
	"ip link set lo multicast on",
	"ip route add 224.0.0.0/4 dev lo",
}

// InNetNS makes the calling test run inside a fresh network namespace that
// holds only the loopback interface, so it can use multicast or non-loopback
// addresses without touching any real network.
//
// Called from the test itself: outside the namespace it re-executes the test
// binary (os.Args[0] -test.run=<this test>) under `unshare --net
// --map-root-user`, after running setup (shell commands such as
// LoopbackMulticast) in the namespace, relays the child's output, fails the
// test if the child fails, and returns false: the caller must return at once.
// Inside the namespace it returns true and the test does its work.
//
// When namespaces cannot be created here the test is skipped, or fails when
// the HEARTH_REQUIRE_TOOLS environment variable is set.
func InNetNS(t *testing.T, setup []string) bool {
	t.Helper()
	if os.Getenv(netnsEnv) == t.Name() {
		return true
	}
	if err := netnsAvailable(); err != nil {
		msg := fmt.Sprintf("cannot create a network namespace (unshare --net --map-root-user): %v", err)
		if os.Getenv(RequireToolsEnv) != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	script := "set -e\n" + strings.Join(setup, "\n") + "\nexec \"$@\""
	args := []string{"--net", "--map-root-user", "sh", "-c", script, "sh",
		os.Args[0], "-test.run=" + runPattern(t.Name()), "-test.count=1", "-test.v"}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", args...)
	cmd.Env = append(os.Environ(), netnsEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	t.Logf("namespace run of %s:\n%s", t.Name(), out)
	if err != nil {
		t.Fatalf("test inside network namespace failed: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("test inside network namespace did not report a pass (skipped or not found)")
	}
	return false
}

// netnsAvailable checks that unshare and ip exist and that an unprivileged
// network namespace can be created and configured.
func netnsAvailable() error {
	for _, tool := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: %w", tool, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "unshare", "--net", "--map-root-user",
		"ip", "link", "set", "lo", "up").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// runPattern anchors each level of a (sub)test name for -test.run.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}
