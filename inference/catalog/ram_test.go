package catalog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type fixedMemory struct {
	n   uint64
	err error
}

func (m fixedMemory) AvailableMemory() (uint64, error) { return m.n, m.err }

func TestEstimateRAM(t *testing.T) {
	c := Builtin()
	qwen7, _ := c.Lookup("qwen2.5-7b-instruct-q4_k_m")
	smol, _ := c.Lookup("smollm2-135m-instruct-q8_0")
	cases := []struct {
		name    string
		shape   Shape
		ctx     int
		mem     MemoryReader
		kv      uint64
		context int
		fits    bool
		known   bool
	}{
		// 2 × 28 layers × 4096 × 4 kv heads × 128 × 4 bytes
		{"qwen 7B at 4096, 8 GiB free", qwen7.Shape(), 4096, fixedMemory{n: 8 << 30}, 2 * 28 * 4096 * 4 * 128 * 4, 4096, true, true},
		{"qwen 7B at 4096, 4 GiB free", qwen7.Shape(), 4096, fixedMemory{n: 4 << 30}, 2 * 28 * 4096 * 4 * 128 * 4, 4096, false, true},
		{"default context is capped", qwen7.Shape(), 0, fixedMemory{n: 64 << 30}, 2 * 28 * DefaultContext * 4 * 128 * 4, DefaultContext, true, true},
		{"smollm2 at 8192", smol.Shape(), 8192, fixedMemory{n: 1 << 30}, 2 * 30 * 8192 * 3 * 64 * 4, 8192, true, true},
		{"short trained context wins", Shape{WeightBytes: 1 << 20, Layers: 5, KVHeads: 4, HeadDim: 8, ContextLength: 512}, 0, fixedMemory{n: 1 << 30}, 2 * 5 * 512 * 4 * 8 * 4, 512, true, true},
		{"memory unknown", smol.Shape(), 2048, fixedMemory{err: ErrMemoryUnknown}, 2 * 30 * 2048 * 3 * 64 * 4, 2048, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := EstimateRAM(tc.shape, tc.ctx, tc.mem)
			if err != nil {
				t.Fatal(err)
			}
			if e.KVCache != tc.kv || e.Context != tc.context || e.Fits != tc.fits || e.Known != tc.known {
				t.Errorf("estimate %+v; want kv %d ctx %d fits %v known %v", e, tc.kv, tc.context, tc.fits, tc.known)
			}
			if e.Total != e.Weights+e.KVCache+e.Overhead || e.Weights != tc.shape.WeightBytes || e.Overhead < 64<<20 {
				t.Errorf("total %d ≠ %d + %d + %d", e.Total, e.Weights, e.KVCache, e.Overhead)
			}
			s := e.String()
			switch {
			case !tc.known && !strings.Contains(s, "unknown"),
				tc.known && tc.fits && !strings.Contains(s, ": fits"),
				tc.known && !tc.fits && !strings.Contains(s, "does not fit"):
				t.Errorf("summary %q", s)
			}
		})
	}
	if _, err := EstimateRAM(Shape{WeightBytes: 1}, 10, fixedMemory{}); err == nil {
		t.Error("estimate without a shape succeeded")
	}
	if _, err := EstimateRAM(smol.Shape(), -1, fixedMemory{}); err == nil {
		t.Error("negative context accepted")
	}
}

func TestSystemMemory(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, content string
		want          uint64
		ok            bool
	}{
		{"modern", "MemTotal:       24576000 kB\nMemFree:         1000000 kB\nMemAvailable:   12288000 kB\nBuffers:  10 kB\n", 12288000 * 1024, true},
		{"old kernel", "MemTotal: 100 kB\nMemFree: 50 kB\nBuffers: 10 kB\nCached: 20 kB\n", 80 * 1024, true},
		{"garbage", "hello\nMemAvailable: lots\n", 0, false},
	}
	for _, tc := range cases {
		got, err := SystemMemory{Path: write(tc.name, tc.content)}.AvailableMemory()
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%s: %d, %v; want %d ok=%v", tc.name, got, err, tc.want, tc.ok)
		}
	}
	if _, err := (SystemMemory{Path: filepath.Join(dir, "missing")}).AvailableMemory(); err == nil {
		t.Error("missing meminfo gave no error")
	}
	if _, err := os.Stat("/proc/meminfo"); err == nil {
		n, err := SystemMemory{}.AvailableMemory()
		if err != nil || n == 0 {
			t.Errorf("this machine's memory: %d, %v", n, err)
		}
	}
}

func FuzzParseMeminfo(f *testing.F) {
	f.Add("MemAvailable: 100 kB\n")
	f.Add("MemFree: 1\nCached: 18446744073709551615 kB\n")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = parseMeminfo(strings.NewReader(s))
	})
}

func TestDataDirFor(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	home := func() (string, error) { return "/home/ada", nil }
	noHome := func() (string, error) { return "", errors.New("no home") }
	cases := []struct {
		goos string
		env  map[string]string
		home func() (string, error)
		want string
		err  bool
	}{
		{"linux", nil, home, "/home/ada/.local/share/hearth", false},
		{"linux", map[string]string{"XDG_DATA_HOME": "/data/xdg"}, home, "/data/xdg/hearth", false},
		{"linux", map[string]string{"XDG_DATA_HOME": "relative"}, home, "/home/ada/.local/share/hearth", false},
		{"freebsd", nil, home, "/home/ada/.local/share/hearth", false},
		{"darwin", nil, home, "/home/ada/Library/Application Support/Hearth", false},
		{"windows", map[string]string{"LocalAppData": `C:\Users\ada\AppData\Local`}, home, filepath.Join(`C:\Users\ada\AppData\Local`, "Hearth"), false},
		{"windows", nil, home, filepath.Join("/home/ada", "AppData", "Local", "Hearth"), false},
		{"linux", nil, noHome, "", true},
		{"darwin", nil, noHome, "", true},
	}
	for _, tc := range cases {
		got, err := dataDirFor(tc.goos, env(tc.env), tc.home)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%s %v: %q, %v; want %q", tc.goos, tc.env, got, err, tc.want)
		}
	}
	if d, err := DefaultDataDir(); err != nil || d == "" {
		t.Errorf("DefaultDataDir: %q, %v", d, err)
	}
}
