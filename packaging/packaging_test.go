package packaging

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const appID = "io.hearth.Hearth"

// iniFile reads a .desktop file or systemd unit: section → key → values
// (a key may repeat).
func iniFile(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			out[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a key=value line in a section: %q", path, n, line)
			}
			out[section][k] = append(out[section][k], v)
		}
	}
	return out
}

// fyneApp reads the keys of FyneApp.toml that packaging depends on.
func fyneApp(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile("../FyneApp.toml")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	section := ""
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			section = strings.Trim(line, "[]") + "."
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			out[section+strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return out
}

func TestFyneAppToml(t *testing.T) {
	m := fyneApp(t)
	for key, want := range map[string]string{
		"Details.ID": appID, "Details.Name": "Hearth", "Migrations.fyneDo": "true",
	} {
		if m[key] != want {
			t.Errorf("%s = %q, want %q", key, m[key], want)
		}
	}
	if !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(m["Details.Version"]) {
		t.Errorf("Version %q is not x.y.z", m["Details.Version"])
	}
	if _, err := os.Stat(filepath.Join("..", m["Details.Icon"])); err != nil {
		t.Errorf("icon: %v", err)
	}
}

func TestDesktopFile(t *testing.T) {
	f := iniFile(t, "linux/"+appID+".desktop")
	e := f["Desktop Entry"]
	if e == nil {
		t.Fatal("no [Desktop Entry]")
	}
	for key, want := range map[string]string{
		"Type": "Application", "Name": "Hearth", "Exec": "hearth", "Icon": appID,
		"Terminal": "false", "StartupWMClass": "Hearth",
	} {
		if got := e[key]; len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	for _, key := range []string{"Categories", "Keywords"} {
		if v := e[key]; len(v) != 1 || !strings.HasSuffix(v[0], ";") {
			t.Errorf("%s = %q: a list ends with ';'", key, v)
		}
	}
	main := []string{"AudioVideo", "Audio", "Video", "Development", "Education", "Game", "Graphics", "Network", "Office", "Science", "Settings", "System", "Utility"}
	cats := strings.Split(strings.TrimSuffix(e["Categories"][0], ";"), ";")
	if !slices.ContainsFunc(cats, func(c string) bool { return slices.Contains(main, c) }) {
		t.Errorf("Categories %v has no main category", cats)
	}
	// The desktop file and FyneApp.toml describe the same app.
	if m := fyneApp(t); e["Comment"][0] != m["LinuxAndBSD.Comment"] || e["GenericName"][0] != m["LinuxAndBSD.GenericName"] {
		t.Errorf("Comment/GenericName differ from FyneApp.toml's")
	}
}

type metainfo struct {
	XMLName         xml.Name `xml:"component"`
	Type            string   `xml:"type,attr"`
	ID              string   `xml:"id"`
	MetadataLicense string   `xml:"metadata_license"`
	ProjectLicense  string   `xml:"project_license"`
	Name            string   `xml:"name"`
	Summary         string   `xml:"summary"`
	Description     struct {
		Paragraphs []string `xml:"p"`
	} `xml:"description"`
	Launchable struct {
		Type  string `xml:"type,attr"`
		Value string `xml:",chardata"`
	} `xml:"launchable"`
	URLs []struct {
		Type  string `xml:"type,attr"`
		Value string `xml:",chardata"`
	} `xml:"url"`
	Categories    []string `xml:"categories>category"`
	Binaries      []string `xml:"provides>binary"`
	Screenshots   []string `xml:"screenshots>screenshot>image"`
	ContentRating struct {
		Type string `xml:"type,attr"`
	} `xml:"content_rating"`
	Releases []struct {
		Version string `xml:"version,attr"`
		Date    string `xml:"date,attr"`
	} `xml:"releases>release"`
}

func TestMetainfo(t *testing.T) {
	path := "linux/" + appID + ".metainfo.xml"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m metainfo
	if err := xml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"type desktop-application", m.Type == "desktop-application"},
		{"id", m.ID == appID},
		{"metadata_license", m.MetadataLicense == "CC0-1.0" || m.MetadataLicense == "FSFAP"},
		{"project_license", m.ProjectLicense != ""},
		{"name", m.Name == "Hearth"},
		{"summary under 80 chars, no final dot", m.Summary != "" && len(m.Summary) < 80 && !strings.HasSuffix(m.Summary, ".")},
		{"description", len(m.Description.Paragraphs) > 0},
		{"launchable desktop file", m.Launchable.Type == "desktop-id" && m.Launchable.Value == appID+".desktop"},
		{"homepage", slices.ContainsFunc(m.URLs, func(u struct {
			Type  string `xml:"type,attr"`
			Value string `xml:",chardata"`
		}) bool {
			return u.Type == "homepage" && strings.HasPrefix(u.Value, "https://")
		})},
		{"provides the hearth binary", slices.Contains(m.Binaries, "hearth")},
		{"content rating", m.ContentRating.Type == "oars-1.1"},
		{"a release", len(m.Releases) > 0},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: missing or wrong: %s", path, c.name)
		}
	}
	if v := fyneApp(t)["Details.Version"]; len(m.Releases) > 0 && m.Releases[0].Version != v {
		t.Errorf("newest release %s, FyneApp.toml says %s", m.Releases[0].Version, v)
	}
	for _, s := range m.Screenshots {
		const prefix = "https://raw.githubusercontent.com/hearth-p2p/hearth/main/"
		if !strings.HasPrefix(s, prefix) {
			t.Errorf("screenshot %s is not in this repository", s)
		} else if _, err := os.Stat(filepath.Join("..", strings.TrimPrefix(s, prefix))); err != nil {
			t.Errorf("screenshot: %v", err)
		}
	}
	cli, err := exec.LookPath("appstreamcli")
	if err != nil {
		requireTool(t, "appstreamcli (apt-get install appstream)")
		return
	}
	out, err := exec.Command(cli, "validate", "--no-net", path).CombinedOutput()
	if err != nil {
		t.Errorf("appstreamcli validate: %v\n%s", err, out)
	}
}

// requireTool reports a missing checker: a failure when HEARTH_REQUIRE_TOOLS
// is set (CI installs every tool), a logged note otherwise.
func requireTool(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("HEARTH_REQUIRE_TOOLS") != "" {
		t.Fatalf("%s is not installed", what)
	}
	t.Logf("%s not installed: that check is skipped", what)
}

func TestFlatpakManifest(t *testing.T) {
	data, err := os.ReadFile("flatpak/" + appID + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		ID         string   `json:"id"`
		Runtime    string   `json:"runtime"`
		SDK        string   `json:"sdk"`
		Command    string   `json:"command"`
		FinishArgs []string `json:"finish-args"`
		Modules    []struct {
			Name          string   `json:"name"`
			BuildCommands []string `json:"build-commands"`
		} `json:"modules"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m.ID != appID || m.Runtime != "org.freedesktop.Platform" || m.SDK != "org.freedesktop.Sdk" || m.Command != "hearth" {
		t.Errorf("id %q runtime %q sdk %q command %q", m.ID, m.Runtime, m.SDK, m.Command)
	}
	for _, arg := range []string{"--share=network", "--device=dri", "--socket=wayland", "--socket=fallback-x11"} {
		if !slices.Contains(m.FinishArgs, arg) {
			t.Errorf("finish-args lack %s", arg)
		}
	}
	if len(m.Modules) != 1 {
		t.Fatalf("%d modules", len(m.Modules))
	}
	// Every file the build installs from the repository exists.
	install := regexp.MustCompile(`^install -Dm\d+ (\S+) (/app/\S+)$`)
	installed := 0
	for _, c := range m.Modules[0].BuildCommands {
		sub := install.FindStringSubmatch(c)
		if sub == nil || sub[1] == "hearth" {
			continue
		}
		installed++
		if _, err := os.Stat(filepath.Join("..", sub[1])); err != nil {
			t.Errorf("build installs %s: %v", sub[1], err)
		}
	}
	if installed < 3 {
		t.Errorf("the build installs %d repository files, want the desktop file, metainfo and icons", installed)
	}
}

func TestSystemdUnit(t *testing.T) {
	const path = "systemd/hearth-node.service"
	u := iniFile(t, path)
	svc := u["Service"]
	if got := svc["ExecStart"]; len(got) != 1 || got[0] != "hearth node" {
		t.Errorf("ExecStart %q, want 'hearth node'", got)
	}
	if got := u["Install"]["WantedBy"]; len(got) != 1 || got[0] != "default.target" {
		t.Errorf("WantedBy %q: a user unit starts with default.target", got)
	}
	for key, want := range map[string]string{
		"NoNewPrivileges": "yes", "PrivateTmp": "yes", "ProtectSystem": "strict",
		"ProtectHome": "read-only", "RestrictSUIDSGID": "yes", "LockPersonality": "yes",
		"Restart": "on-failure",
	} {
		if got := svc[key]; len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if !strings.Contains(strings.Join(svc["ReadWritePaths"], " "), "%h/.local/share/hearth") {
		t.Error("the data directory is not writable")
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		requireTool(t, "systemd-analyze (apt-get install systemd)")
		return
	}
	// verify needs an executable command: point ExecStart at one.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(t.TempDir(), "hearth-node.service")
	data = bytes.Replace(data, []byte("ExecStart=hearth node"), []byte("ExecStart=/bin/true node"), 1)
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", tmp).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestLinuxPackage builds the tarball with package-linux.sh, installs it
// into a temporary prefix with its Makefile and runs the installed binary.
// It builds the whole program, so it runs only with HEARTH_PACKAGING=1.
func TestLinuxPackage(t *testing.T) {
	if os.Getenv("HEARTH_PACKAGING") != "1" {
		t.Skip("set HEARTH_PACKAGING=1 to build and install the Linux package")
	}
	dist, root, unpack := t.TempDir(), t.TempDir(), t.TempDir()
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	run("./package-linux.sh", dist)
	tarballs, _ := filepath.Glob(filepath.Join(dist, "hearth-*-linux-*.tar.xz"))
	if len(tarballs) != 1 {
		t.Fatalf("tarballs %v", tarballs)
	}
	run("tar", "-C", unpack, "-xJf", tarballs[0])
	run("make", "-C", filepath.Join(unpack, "hearth"), "install", "DESTDIR="+root, "PREFIX=/usr")
	for _, f := range []string{"usr/bin/hearth", "usr/share/applications/" + appID + ".desktop", "usr/share/pixmaps/" + appID + ".png"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("installed: %v", err)
		}
	}
	bin := filepath.Join(root, "usr/bin/hearth")
	version := fyneApp(t)["Details.Version"]
	if got := strings.TrimSpace(run(bin, "version")); got != "hearth "+version {
		t.Errorf("hearth version printed %q, want %q", got, "hearth "+version)
	}
	if got := run(bin, "help"); !strings.Contains(got, "usage: hearth") {
		t.Errorf("hearth help printed %q", got)
	}
}
