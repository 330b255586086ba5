package gpu

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// EnvMemory overrides the device memory budget that automatic placement
// fills, e.g. "6GiB", "5500MiB" or a byte count.
const EnvMemory = "HEARTH_GPU_MEMORY"

// MemoryBudget is how much device memory Hearth may use, and where the
// number came from.
type MemoryBudget struct {
	Bytes  int64  `json:"bytes"`
	Source string `json:"source"` // env, sysfs, system-ram, caller, or unknown
}

// ParseSize parses sizes like "6GiB", "512MiB", "8GB", "1.5G" or plain
// bytes (binary multiples for K/M/G/T with or without "iB").
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	unit := int64(1)
	lower := strings.ToLower(s)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"tib", 1 << 40}, {"gib", 1 << 30}, {"mib", 1 << 20}, {"kib", 1 << 10},
		{"tb", 1 << 40}, {"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10},
		{"t", 1 << 40}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}, {"b", 1}} {
		if strings.HasSuffix(lower, u.suffix) {
			unit, s = u.mult, strings.TrimSpace(s[:len(s)-len(u.suffix)])
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || v*float64(unit) > 1<<62 {
		return 0, fmt.Errorf("gpu: bad size %q", s)
	}
	return int64(v * float64(unit)), nil
}

// MemoryBudget estimates the free memory of the device, without vendor
// libraries: HEARTH_GPU_MEMORY if set; the free VRAM the amdgpu driver
// reports in sysfs; for integrated and CPU adapters (which share system
// memory) half the available RAM; otherwise unknown (0). Callers that read
// NVML (node/hardware) pass its figure to Plan instead.
func (d *Device) MemoryBudget() MemoryBudget {
	if v := os.Getenv(EnvMemory); v != "" {
		if n, err := ParseSize(v); err == nil {
			return MemoryBudget{n, "env"}
		}
	}
	if n, ok := sysfsFreeVRAM("/sys/class/drm", d.info.VendorID, d.info.DeviceID); ok {
		return MemoryBudget{n, "sysfs"}
	}
	if d.info.Type == "integrated" || d.info.Type == "cpu" {
		if n, ok := availableRAM("/proc/meminfo"); ok {
			return MemoryBudget{n / 2, "system-ram"}
		}
	}
	return MemoryBudget{0, "unknown"}
}

// sysfsFreeVRAM reads total minus used VRAM of the DRM card whose PCI ids
// match (amdgpu exposes mem_info_vram_total/used).
func sysfsFreeVRAM(root string, vendor, device uint32) (int64, bool) {
	cards, _ := filepath.Glob(filepath.Join(root, "card[0-9]*", "device"))
	for _, dir := range cards {
		if readHex(filepath.Join(dir, "vendor")) != int64(vendor) {
			continue
		}
		if device != 0 && readHex(filepath.Join(dir, "device")) != int64(device) {
			continue
		}
		total, err1 := readInt(filepath.Join(dir, "mem_info_vram_total"))
		used, err2 := readInt(filepath.Join(dir, "mem_info_vram_used"))
		if err1 == nil && err2 == nil && total > used {
			return total - used, true
		}
	}
	return 0, false
}

func readHex(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	v, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(string(b)), "0x"), 16, 64)
	if err != nil {
		return -1
	}
	return v
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// availableRAM reads MemAvailable from /proc/meminfo.
func availableRAM(path string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemAvailable:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}
