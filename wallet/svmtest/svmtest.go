// Package svmtest exposes the LiteSVM RPC test server
// (wallet/internal/svmtest) to tests outside wallet/, such as the CLI's.
package svmtest

import (
	"testing"

	"github.com/hearth-p2p/hearth/wallet/internal/svmtest"
)

// Server is a running LiteSVM JSON-RPC server on 127.0.0.1.
type Server = svmtest.Server

// RequireEnv, when set, makes a missing node or npm tools fail the test
// instead of skipping it.
const RequireEnv = svmtest.RequireEnv

// Start launches the server for the test's lifetime.
func Start(t testing.TB) *Server {
	t.Helper()
	return svmtest.Start(t)
}
