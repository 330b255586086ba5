package runtime

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/hearth-p2p/hearth"

type listedPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// listPackages runs `go list -deps -json` over the whole module, including
// test imports of nothing: the rules apply to what ships.
func listPackages(t *testing.T) map[string]listedPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pkgs := map[string]listedPackage{}
	dec := json.NewDecoder(out)
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	return pkgs
}

func rel(p string) string {
	if p == module {
		return "main"
	}
	return strings.TrimPrefix(p, module+"/")
}

func under(p, prefix string) bool { return p == prefix || strings.HasPrefix(p, prefix+"/") }

// TestImportRules pins the dependency direction of DESIGN.md:
// main → app → node/runtime → {node/*, inference/*, wallet/*} → leaves.
func TestImportRules(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 10 {
		t.Fatalf("only %d packages listed", len(pkgs))
	}
	type rule struct {
		name    string
		applies func(pkg string) bool
		banned  func(dep string) bool
	}
	internal := func(dep string) (string, bool) {
		if !strings.HasPrefix(dep, module) {
			return "", false
		}
		return rel(dep), true
	}
	rules := []rule{
		{"inference never imports node, app or wallet",
			func(p string) bool { return under(p, "inference") },
			func(d string) bool {
				r, ok := internal(d)
				return ok && (under(r, "node") || under(r, "app") || under(r, "wallet"))
			}},
		{"wallet never imports node, app or inference",
			func(p string) bool { return under(p, "wallet") },
			func(d string) bool {
				r, ok := internal(d)
				return ok && (under(r, "node") || under(r, "app") || under(r, "inference"))
			}},
		{"node packages never import app, and only the composition root's CLI imports runtime",
			func(p string) bool { return under(p, "node") && !under(p, "node/runtime") },
			func(d string) bool {
				r, ok := internal(d)
				return ok && (under(r, "app") || under(r, "node/runtime"))
			}},
		{"only app and main import Fyne",
			func(p string) bool { return p != "main" && !under(p, "app") },
			func(d string) bool { return strings.HasPrefix(d, "fyne.io/") }},
		{"only wallet imports solana-go",
			func(p string) bool { return !under(p, "wallet") },
			func(d string) bool { return strings.HasPrefix(d, "github.com/gagliardetto/") }},
		{"only node/hardware imports NVML and gopsutil",
			func(p string) bool { return !under(p, "node/hardware") },
			func(d string) bool {
				return strings.HasPrefix(d, "github.com/NVIDIA/go-nvml") || strings.HasPrefix(d, "github.com/shirou/gopsutil")
			}},
		{"gguf and tensor are leaves",
			func(p string) bool { return p == "inference/gguf" || p == "inference/tensor" },
			func(d string) bool {
				r, ok := internal(d)
				return ok && r != "inference/tensor"
			}},
	}
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			for path, p := range pkgs {
				name := rel(path)
				if !r.applies(name) {
					continue
				}
				// Direct imports are the package's own choice; test-only
				// helpers under internal/ are checked like everything else.
				for _, d := range p.Imports {
					if r.banned(d) {
						t.Errorf("%s imports %s", name, d)
					}
				}
			}
		})
	}
}
