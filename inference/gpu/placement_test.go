package gpu

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hearth-p2p/hearth/inference/internal/testmodels"
	"github.com/hearth-p2p/hearth/inference/model"
)

func TestParseLayers(t *testing.T) {
	cases := []struct {
		spec     string
		from, to int
		auto, ok bool
	}{
		{"all", 0, 5, false, true},
		{"ALL", 0, 5, false, true},
		{"auto", 0, 0, true, true},
		{"1:3", 1, 3, false, true},
		{" 0 : 5 ", 0, 5, false, true},
		{"3:3", 0, 0, false, false},
		{"4:6", 0, 0, false, false},
		{"-1:2", 0, 0, false, false},
		{"2", 0, 0, false, false},
		{"a:b", 0, 0, false, false},
		{"", 0, 0, false, false},
	}
	for _, c := range cases {
		from, to, auto, err := ParseLayers(c.spec, 5)
		if (err == nil) != c.ok || c.ok && (from != c.from || to != c.to || auto != c.auto) {
			t.Errorf("%q: got %d,%d,%v,%v", c.spec, from, to, auto, err)
		}
	}
}

func TestParseSize(t *testing.T) {
	for s, want := range map[string]int64{"6GiB": 6 << 30, "512MiB": 512 << 20, "8GB": 8 << 30, "1.5G": 3 << 29, "4096": 4096, "2k": 2048} {
		if got, err := ParseSize(s); err != nil || got != want {
			t.Errorf("%q: %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "GiB", "-1G", "lots"} {
		if _, err := ParseSize(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

// TestStageBytes checks the weight estimate against the file: all layers
// plus embeddings and head is every tensor.
func TestStageBytes(t *testing.T) {
	for _, name := range []string{testmodels.Stories260K, testmodels.TinyStoriesQ8} {
		m, err := model.Open(testmodels.Path(t, name))
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, ti := range m.File.Header.Tensors {
			total += int64(ti.Size)
		}
		if got := StageBytes(m, 0, m.NumLayers); got != total {
			t.Errorf("%s: all layers %d bytes, file holds %d", name, got, total)
		}
		split := StageBytes(m, 0, 1) + StageBytes(m, 1, m.NumLayers)
		if m.TiedEmbeddings() {
			ti, _ := m.File.Tensor("token_embd.weight")
			split -= int64(ti.Size) // both ends hold the tied matrix
		}
		if split != total {
			t.Errorf("%s: split stages %d bytes, file holds %d", name, split, total)
		}
		m.Close()
	}
}

func TestPlanLayersAuto(t *testing.T) {
	m, err := model.Open(testmodels.Path(t, testmodels.Stories260K))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	const ctx = 256
	all := StageBytes(m, 0, 5) + SessionBytes(m, 0, 5, ctx)
	reserve := int64(256 << 20)
	// Room for everything.
	p, err := PlanLayers(m, nil, "auto", ctx, MemoryBudget{reserve + all, "caller"})
	if err != nil || p.From != 0 || p.To != 5 {
		t.Fatalf("ample budget: %v, %v", p, err)
	}
	// Room for exactly the last two layers.
	two := StageBytes(m, 3, 5) + SessionBytes(m, 3, 5, ctx)
	p, err = PlanLayers(m, nil, "auto", ctx, MemoryBudget{reserve + two, "caller"})
	if err != nil || p.From != 3 || p.To != 5 {
		t.Fatalf("two-layer budget: %v, %v", p, err)
	}
	if p.Bytes() != two {
		t.Errorf("plan costs %d, want %d", p.Bytes(), two)
	}
	// No room.
	if _, err := PlanLayers(m, nil, "auto", ctx, MemoryBudget{reserve, "caller"}); !errors.Is(err, ErrNoRoom) {
		t.Errorf("tiny budget: %v, want ErrNoRoom", err)
	}
	if _, err := PlanLayers(m, nil, "auto", ctx, MemoryBudget{}); !errors.Is(err, ErrNoRoom) {
		t.Errorf("unknown budget: %v, want ErrNoRoom", err)
	}
	// Explicit ranges pass through.
	if p, err := PlanLayers(m, nil, "1:4", ctx, MemoryBudget{}); err != nil || p.From != 1 || p.To != 4 {
		t.Errorf("1:4: %v, %v", p, err)
	}
}

func TestMemoryBudgetSources(t *testing.T) {
	dir := t.TempDir()
	card := filepath.Join(dir, "card1", "device")
	if err := os.MkdirAll(card, 0o755); err != nil {
		t.Fatal(err)
	}
	for f, v := range map[string]string{"vendor": "0x1002\n", "device": "0x744c\n",
		"mem_info_vram_total": "25753026560\n", "mem_info_vram_used": "1753026560\n"} {
		if err := os.WriteFile(filepath.Join(card, f), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if n, ok := sysfsFreeVRAM(dir, 0x1002, 0x744c); !ok || n != 24000000000 {
		t.Errorf("sysfs: %d, %v", n, ok)
	}
	if _, ok := sysfsFreeVRAM(dir, 0x10de, 0); ok {
		t.Error("an NVIDIA adapter matched an AMD card")
	}
	if n, ok := availableRAM("/proc/meminfo"); !ok || n <= 0 {
		t.Errorf("MemAvailable: %d, %v", n, ok)
	}
	d := testDevice(t)
	t.Setenv(EnvMemory, "3GiB")
	if b := d.MemoryBudget(); b.Bytes != 3<<30 || b.Source != "env" {
		t.Errorf("env budget: %+v", b)
	}
}
