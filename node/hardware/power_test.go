package hardware

import (
	"os"
	"path/filepath"
	"testing"
)

// supply is one /sys/class/power_supply/<name> directory: attribute → content.
type supply map[string]string

func writeSupplies(t *testing.T, supplies map[string]supply) string {
	t.Helper()
	root := t.TempDir()
	for name, attrs := range supplies {
		dir := filepath.Join(root, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for k, v := range attrs {
			if err := os.WriteFile(filepath.Join(dir, k), []byte(v+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func TestReadPowerSupplies(t *testing.T) {
	ac := func(online string) supply { return supply{"type": "Mains", "online": online} }
	bat := func(status, capacity string) supply {
		return supply{"type": "Battery", "status": status, "capacity": capacity, "present": "1", "scope": "System"}
	}
	tests := []struct {
		name     string
		supplies map[string]supply
		want     Power
	}{
		{"no supplies (desktop, container)", map[string]supply{}, Power{}},
		{"mains only", map[string]supply{"AC": ac("1")}, Power{}},
		{"plugged in, charging", map[string]supply{"AC": ac("1"), "BAT0": bat("Charging", "55")}, Power{Known: true, BatteryPct: 55}},
		{"plugged in, full", map[string]supply{"ADP1": ac("1"), "BAT0": bat("Full", "100")}, Power{Known: true, BatteryPct: 100}},
		{"unplugged", map[string]supply{"AC": ac("0"), "BAT0": bat("Discharging", "20")}, Power{Known: true, OnBattery: true, BatteryPct: 20}},
		{"unplugged, no mains entry", map[string]supply{"BAT1": bat("Discharging", "64")}, Power{Known: true, OnBattery: true, BatteryPct: 64}},
		{"USB-C charger online", map[string]supply{"ucsi-source-psy-USBC000:001": {"type": "USB", "online": "1"}, "BAT0": bat("Discharging", "40")},
			Power{Known: true, BatteryPct: 40}},
		{"mouse battery is not the machine's", map[string]supply{"hidpp_battery_0": {"type": "Battery", "scope": "Device", "status": "Discharging", "capacity": "5"}},
			Power{}},
		{"battery slot empty", map[string]supply{"BAT0": {"type": "Battery", "present": "0"}}, Power{}},
		{"two batteries averaged", map[string]supply{"BAT0": bat("Discharging", "30"), "BAT1": bat("Discharging", "50")},
			Power{Known: true, OnBattery: true, BatteryPct: 40}},
		{"energy counters", map[string]supply{"BAT0": {"type": "Battery", "status": "Discharging", "energy_now": "25000000", "energy_full": "50000000"}},
			Power{Known: true, OnBattery: true, BatteryPct: 50}},
		{"charge counters", map[string]supply{"BAT0": {"type": "Battery", "status": "Charging", "charge_now": "3000", "charge_full": "4000"}},
			Power{Known: true, BatteryPct: 75}},
		{"garbage capacity", map[string]supply{"BAT0": {"type": "Battery", "status": "Discharging", "capacity": "lots"}},
			Power{Known: true, OnBattery: true}},
		{"unknown status", map[string]supply{"BAT0": bat("Unknown", "80")}, Power{Known: true, BatteryPct: 80}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readPowerSupplies(writeSupplies(t, tt.supplies))
			if err != nil || got != tt.want {
				t.Fatalf("readPowerSupplies = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestReadPowerMissingOrBadRoot(t *testing.T) {
	if p, err := readPowerSupplies(filepath.Join(t.TempDir(), "absent")); err != nil || p != (Power{}) {
		t.Fatalf("absent root: %+v %v", p, err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readPowerSupplies(file); err == nil {
		t.Fatal("a file as the root must be an error")
	}
}
