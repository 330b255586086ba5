package hardware

import (
	"strconv"
	"time"
)

// testPolicy is the default policy, enabled.
func testPolicy() Policy {
	p := Default()
	p.Enabled = true
	return p
}

// idleReading is a quiet gaming desktop at t: 8 cores / 16 threads, 32 GiB with 24 free,
// an RTX card with only Xorg and Hearth on it, 45 °C, on mains, no input for an hour.
func idleReading(t time.Time) Reading {
	return Reading{
		Time: t,
		CPU:  CPU{Model: "Test CPU", Cores: 8, Threads: 16, UsagePct: 6, OthersPct: 4, Load1: 0.3},
		Mem:  Mem{Total: 32 << 30, Available: 24 << 30, OurRSS: 300 << 20},
		Disk: Disk{Path: "/data", Free: 100 << 30, Total: 500 << 30},
		Temps: []Temp{
			{Sensor: "coretemp_package_id_0", C: 45},
			{Sensor: "nvme_composite", C: 50},
		},
		GPUs: []GPU{{
			Index: 0, Name: "NVIDIA GeForce RTX 4070", UUID: "GPU-test",
			VRAMTotal: 12 << 30, VRAMUsed: 1 << 30, UtilPct: 3, TempC: 45,
			PowerW: 20, PowerLimitW: 200, SMClockMHz: 210, MemClockMHz: 405,
			Processes: []GPUProc{
				{PID: 900, Name: "Xorg", UsedMem: 300 << 20},
				{PID: 4242, Name: "hearth", UsedMem: 512 << 20, Ours: true},
			},
			OthersUsing: true,
		}},
		GPUStatus: "1 NVIDIA GPU",
		UserIdle:  UserIdle{Known: true, For: time.Hour},
	}
}

func itoa(i int) string     { return strconv.Itoa(i) }
func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
