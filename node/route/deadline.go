package route

import (
	"slices"
	"time"
)

// Deadline decides when a hop's call has stalled: after K × the 95th
// percentile of its recent single-position round trips, times the number of
// positions asked for, and never before Floor. Until MinSamples round trips
// have been measured it allows Initial, or, when seeded with the p95 of the
// provider it replaces, four times the usual multiple of that. A Deadline is
// not safe for concurrent use.
type Deadline struct {
	Floor      time.Duration // shortest deadline (default 250 ms)
	Initial    time.Duration // before any measurement (default 30 s)
	K          float64       // multiple of the p95 (default 4)
	Window     int           // round trips remembered (default 64)
	MinSamples int           // round trips needed before the p95 is used (default 8)

	samples []time.Duration // ring of single-position round trips
	next    int
	seen    int
	seed    time.Duration
}

// DefaultDeadline suits hops over a LAN or a good internet path.
func DefaultDeadline() Deadline {
	return Deadline{Floor: 250 * time.Millisecond, Initial: 30 * time.Second, K: 4, Window: 64, MinSamples: 8}
}

func (d *Deadline) defaults() {
	def := DefaultDeadline()
	if d.Floor <= 0 {
		d.Floor = def.Floor
	}
	if d.Initial <= 0 {
		d.Initial = def.Initial
	}
	if d.K <= 0 {
		d.K = def.K
	}
	if d.Window <= 0 {
		d.Window = def.Window
	}
	if d.MinSamples <= 0 {
		d.MinSamples = def.MinSamples
	}
}

// Fresh returns a deadline with d's settings and no measurements, seeded
// with d's p95 when d has one.
func (d *Deadline) Fresh() Deadline {
	d.defaults()
	f := Deadline{Floor: d.Floor, Initial: d.Initial, K: d.K, Window: d.Window, MinSamples: d.MinSamples}
	if p, ok := d.P95(); ok {
		f.seed = p
	} else {
		f.seed = d.seed
	}
	return f
}

// Observe records a call of n positions that took rtt. Only single-position
// calls (decode steps) are sampled: batches would understate a step.
func (d *Deadline) Observe(n int, rtt time.Duration) {
	if n != 1 || rtt <= 0 {
		return
	}
	d.defaults()
	if len(d.samples) < d.Window {
		d.samples = append(d.samples, rtt)
	} else {
		d.samples[d.next] = rtt
	}
	d.next = (d.next + 1) % d.Window
	d.seen++
}

// P95 is the 95th percentile of the remembered round trips, once there are
// MinSamples of them.
func (d *Deadline) P95() (time.Duration, bool) {
	d.defaults()
	if len(d.samples) < d.MinSamples {
		return 0, false
	}
	s := slices.Clone(d.samples)
	slices.Sort(s)
	return s[(len(s)*95+99)/100-1], true
}

// For returns the deadline of a call of n positions.
func (d *Deadline) For(n int) time.Duration {
	d.defaults()
	n = max(n, 1)
	p, ok := d.P95()
	k := d.K
	if !ok {
		if d.seed <= 0 {
			return max(d.Initial, d.Floor)
		}
		p, k = d.seed, 4*d.K
	}
	return max(d.Floor, time.Duration(k*float64(p)*float64(n)))
}
