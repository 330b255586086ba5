package runtime

import (
	"sync"
	"time"

	"github.com/hearth-p2p/hearth/inference/catalog"
	"github.com/hearth-p2p/hearth/node/hardware"
)

// MachineBenchChanged: the machine benchmark started or finished, so the
// earnings estimate changed.
type MachineBenchChanged struct{}

func (MachineBenchChanged) desktopEvent() {}

// benchState is the desktop's machine benchmark.
type benchState struct {
	mu      sync.Mutex // guards everything below
	result  MachineBench
	ok      bool   // result holds a measurement
	running bool   // a benchmark runs now
	threads int    // the threads of the running (or last) one
	err     string // the last run's failure
}

// BenchStatus is the machine benchmark's state.
type BenchStatus struct {
	Bench   MachineBench
	Ready   bool   // Bench holds a measurement
	Running bool   // a (new) measurement runs now
	Err     string // why the last one failed
}

// MachineBench reports the machine benchmark: the cached or last result,
// and whether one runs now.
func (d *Desktop) MachineBench() BenchStatus {
	b := &d.bench
	b.mu.Lock()
	defer b.mu.Unlock()
	return BenchStatus{Bench: b.result, Ready: b.ok, Running: b.running, Err: b.err}
}

// RunMachineBench measures the machine in the background on the lending
// threads of the settings, unless a result for this machine and thread
// count is cached in the data directory and force is false. It returns at
// once; MachineBenchChanged reports the start and the result.
func (d *Desktop) RunMachineBench(force bool) {
	threads := d.Settings().MaxThreads
	b := &d.bench
	b.mu.Lock()
	if b.running || (!force && b.ok && b.result.Threads == threads) {
		b.mu.Unlock()
		return
	}
	// A cached result is shown at once, without a "measuring" state.
	if cached, ok := LoadMachineBench(d.dataDir, MachineKeyFor(d.life, threads)); ok && !force {
		b.result, b.ok, b.err, b.threads = cached, true, "", threads
		b.mu.Unlock()
		d.publish(MachineBenchChanged{})
		return
	}
	b.running, b.threads = true, threads
	b.mu.Unlock()
	started := d.goBackground(func() {
		d.waitQuiet()
		res, _, err := MachineBenchFor(d.life, d.dataDir, threads, true)
		b.mu.Lock()
		b.running = false
		if err != nil {
			b.err = err.Error()
		} else {
			b.result, b.ok, b.err = res, true, ""
		}
		b.mu.Unlock()
		if err != nil {
			if d.life.Err() == nil {
				d.log.Warn("machine benchmark", "err", err)
			}
		} else {
			d.log.Info("machine benchmark", "layer_tok_s", res.LayerTokS, "model_1b_tok_s", res.Model1BTokS,
				"threads", res.Threads, "kernels", res.Kernels, "took_ms", res.TookMs)
		}
		d.publish(MachineBenchChanged{})
	})
	if !started {
		b.mu.Lock()
		b.running = false
		b.mu.Unlock()
		return
	}
	d.publish(MachineBenchChanged{})
}

// quietPoll is how often a waiting speed test looks again.
const quietPoll = 250 * time.Millisecond

// waitQuiet waits until no reply is being generated and the lending node
// serves no session, or the desktop closes: the speed test would be
// skewed by that work, and would slow it down.
func (d *Desktop) waitQuiet() {
	for d.busy() {
		select {
		case <-d.life.Done():
			return
		case <-time.After(quietPoll):
		}
	}
}

// busy reports whether a reply is being generated or a shard session served.
func (d *Desktop) busy() bool {
	d.chat.mu.Lock()
	replying := len(d.chat.turns) > 0
	d.chat.mu.Unlock()
	if replying {
		return true
	}
	d.net.mu.Lock()
	node := d.net.node
	d.net.mu.Unlock()
	return node != nil && len(node.Server().Stats().Sessions) > 0
}

// ReferenceModel names the model an estimate is for when no model is
// installed: the benchmark's 1B reference.
const ReferenceModel = "a 1B reference model"

// EarningsEstimate is what lending could earn a day on this machine, from
// the machine benchmark: the layers the RAM cap holds of the model lending
// serves run at the measured speed for the hours the schedule allows, at
// the price, with peers keeping it busy.
type EarningsEstimate struct {
	BenchStatus
	// Model is the model the estimate serves (ReferenceModel when none is
	// installed); Layers how many of its layers the RAM cap holds.
	Model  string
	Layers int
	// TokS is tokens per second through those layers.
	TokS        float64
	HoursPerDay float64
	Price       uint64 // lamports per 1,000 token-layers
	PerDay      uint64 // lamports
}

// EstimateEarnings estimates what lending under settings s (stored or
// not: the GUI asks while the user edits) could earn a day.
func (d *Desktop) EstimateEarnings(s DesktopSettings) EarningsEstimate {
	e := EarningsEstimate{BenchStatus: d.MachineBench(), Price: s.Price,
		HoursPerDay: hardware.Schedule(s.Schedule).HoursPerDay()}
	if !e.Ready {
		return e
	}
	name, layers, layerBytes, ok := d.lendShape(s)
	if !ok { // the reference model: as many 1B layers as the cap holds
		layerBytes = e.Bench.LayerBytes
		layers = min(benchLayers, int(uint64(s.MaxRAMGiB*gib)/max(layerBytes, 1)))
	}
	e.Model, e.Layers = name, layers
	if layers <= 0 {
		return e
	}
	e.TokS = e.Bench.LayerTokSFor(layerBytes) / float64(layers)
	e.PerDay = hardware.EstimateEarnings(e.TokS, layers, s.Price, e.HoursPerDay)
	return e
}

// lendShape is the model lending under s serves: its name, the layers
// the RAM cap holds (0 or more) and one layer's weight bytes; ok is false
// (the reference model) when no model is installed or it cannot be read.
func (d *Desktop) lendShape(s DesktopSettings) (name string, layers int, layerBytes uint64, ok bool) {
	ms, err := d.installedModels()
	if err != nil || len(ms) == 0 {
		return ReferenceModel, 0, 0, false
	}
	m := ms[0]
	if i := indexOf(ms, s.LendModel); s.LendModel != "" && i >= 0 {
		m = ms[i]
	}
	info, err := catalog.ReadInfo(m.Path)
	if err != nil || info.Layers <= 0 || info.WeightBytes == 0 {
		return ReferenceModel, 0, 0, false
	}
	perLayer := info.WeightBytes / uint64(info.Layers)
	capacity := int(uint64(s.MaxRAMGiB*gib) / max(perLayer, 1))
	name = m.Name
	if name == "" {
		name = m.ID
	}
	return name, min(capacity, info.Layers), perLayer, true
}
