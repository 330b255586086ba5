package hardware

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// powerSupplyRoot is where Linux lists power supplies.
const powerSupplyRoot = "/sys/class/power_supply"

// readPower reads the machine's power state. Off Linux, and where root is absent or lists
// no system battery, it returns Power{Known: false}: not known and not on battery.
func readPower(root string) (Power, error) {
	if runtime.GOOS != "linux" {
		return Power{}, nil
	}
	return readPowerSupplies(root)
}

// readPowerSupplies reads a /sys/class/power_supply-like directory. A supply with
// scope "Device" (a wireless mouse's battery) is not the machine's.
func readPowerSupplies(root string) (Power, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return Power{}, nil
	}
	if err != nil {
		return Power{}, fmt.Errorf("read power supplies: %w", err)
	}
	var (
		mainsOnline, discharging, haveBattery bool
		pctSum                                float64
		pctN                                  int
	)
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		if strings.EqualFold(readAttr(dir, "scope"), "Device") {
			continue
		}
		switch readAttr(dir, "type") {
		case "Mains", "USB", "USB_C", "USB_PD", "Wireless":
			if readAttr(dir, "online") == "1" {
				mainsOnline = true
			}
		case "Battery":
			if readAttr(dir, "present") == "0" {
				continue
			}
			haveBattery = true
			if strings.EqualFold(readAttr(dir, "status"), "Discharging") {
				discharging = true
			}
			if pct, ok := batteryPct(dir); ok {
				pctSum += pct
				pctN++
			}
		}
	}
	if !haveBattery {
		return Power{}, nil
	}
	p := Power{Known: true, OnBattery: discharging && !mainsOnline}
	if pctN > 0 {
		p.BatteryPct = pctSum / float64(pctN)
	}
	return p, nil
}

// batteryPct prefers "capacity"; else energy_now/energy_full or charge_now/charge_full.
func batteryPct(dir string) (float64, bool) {
	if v, err := strconv.ParseFloat(readAttr(dir, "capacity"), 64); err == nil && v >= 0 && v <= 100 {
		return v, true
	}
	for _, pair := range [][2]string{{"energy_now", "energy_full"}, {"charge_now", "charge_full"}} {
		now, err1 := strconv.ParseFloat(readAttr(dir, pair[0]), 64)
		full, err2 := strconv.ParseFloat(readAttr(dir, pair[1]), 64)
		if err1 == nil && err2 == nil && full > 0 && now >= 0 {
			return min(100, now/full*100), true
		}
	}
	return 0, false
}

// readAttr returns a sysfs attribute's trimmed text, or "" when it cannot be read.
func readAttr(dir, name string) string {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
