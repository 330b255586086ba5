package hardware

import "time"

// Reading is one sample of the machine's state. Every field is telemetry, not policy:
// Decide interprets it. Zero values mean "not known"; Warnings says what could not be read.
type Reading struct {
	Time      time.Time `json:"time"`
	CPU       CPU       `json:"cpu"`
	Mem       Mem       `json:"mem"`
	Disk      Disk      `json:"disk"`
	Temps     []Temp    `json:"temps,omitempty"` // may be empty: no sensors is a normal state
	Power     Power     `json:"power"`
	GPUs      []GPU     `json:"gpus,omitempty"`
	GPUStatus string    `json:"gpu_status"` // "no NVIDIA driver", "1 NVIDIA GPU", …
	UserIdle  UserIdle  `json:"user_idle"`
	// Err is set when the sample could not be taken at all; Decide treats it as busy.
	Err string `json:"err,omitempty"`
	// Warnings lists the parts that could not be read (the rest of the reading is valid).
	Warnings []string `json:"warnings,omitempty"`
}

// CPU is the processor and how busy it is. Percentages are of the whole machine (0–100).
type CPU struct {
	Model     string  `json:"model"`
	Cores     int     `json:"cores"`   // physical cores (logical threads where unknown)
	Threads   int     `json:"threads"` // logical CPUs
	UsagePct  float64 `json:"usage_pct"`
	OthersPct float64 `json:"others_pct"` // UsagePct minus this process's share
	Load1     float64 `json:"load1"`
}

// Mem is system memory in bytes.
type Mem struct {
	Total     uint64 `json:"total"`
	Available uint64 `json:"available"`
	OurRSS    uint64 `json:"our_rss"` // resident memory of this process
}

// Disk is the free space of the file system holding Path (the data dir).
type Disk struct {
	Path  string `json:"path"`
	Free  uint64 `json:"free"`
	Total uint64 `json:"total"`
}

// Temp is one temperature sensor.
type Temp struct {
	Sensor    string  `json:"sensor"`
	C         float64 `json:"c"`
	HighC     float64 `json:"high_c,omitempty"`
	CriticalC float64 `json:"critical_c,omitempty"`
}

// Power is the machine's power source. Known is false where there is no battery
// information (desktops, containers); then OnBattery is false.
type Power struct {
	Known      bool    `json:"known"`
	OnBattery  bool    `json:"on_battery"`
	BatteryPct float64 `json:"battery_pct"`
}

// GPU is one NVIDIA device. Fields the driver does not support stay zero.
type GPU struct {
	Index       int       `json:"index"`
	Name        string    `json:"name"`
	UUID        string    `json:"uuid"`
	VRAMTotal   uint64    `json:"vram_total"`
	VRAMUsed    uint64    `json:"vram_used"`
	UtilPct     float64   `json:"util_pct"`
	TempC       float64   `json:"temp_c"`
	PowerW      float64   `json:"power_w"`
	PowerLimitW float64   `json:"power_limit_w"`
	SMClockMHz  int       `json:"sm_clock_mhz"`
	MemClockMHz int       `json:"mem_clock_mhz"`
	Processes   []GPUProc `json:"processes,omitempty"`
	// OthersUsing is true when a process other than this one runs on the device
	// (desktop compositors included; the policy decides which of them matter).
	OthersUsing bool `json:"others_using"`
}

// GPUProc is a process running on a GPU.
type GPUProc struct {
	PID     int    `json:"pid"`
	Name    string `json:"name"`
	UsedMem uint64 `json:"used_mem"`
	Ours    bool   `json:"ours"` // this process
}

// UserIdle is how long since the user last touched an input device. Known is false when
// this cannot be observed (no readable input devices): the policy then relies on load.
type UserIdle struct {
	Known bool          `json:"known"`
	For   time.Duration `json:"for"`
}
