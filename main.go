// Command hearth is the Hearth desktop app and its headless CLI: with no
// arguments it opens the window; with a subcommand it runs headless on the
// same runtime.
package main

import (
	"os"

	"github.com/hearth-p2p/hearth/app/bridge"
	"github.com/hearth-p2p/hearth/app/launch"
	"github.com/hearth-p2p/hearth/node/runtime/cli"
)

func main() {
	launch.OpenBackend = bridge.Open // the window runs on the desktop runtime
	cli.SetGUI(launch.Main)
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
