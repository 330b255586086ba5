package demo

import (
	"context"
	"strings"

	"github.com/hearth-p2p/hearth/app"
	"github.com/hearth-p2p/hearth/node/hardware"
)

// The fixture machine's speed test: a 16-thread desktop CPU.
const (
	demoLayerTokS = 910.0 // tokens a second through one 1B layer
	demoModel1B   = 38.4  // tokens a second through a whole 1B model
	demoLayers    = 22    // layers of the lend model the RAM cap holds
)

// EstimateEarnings implements app.SettingsBackend with the fixture's
// speed test: the lend model's first 22 layers at 1B-layer speed.
func (b *Backend) EstimateEarnings(_ context.Context, s app.Settings) (app.EarningsEstimate, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	model := "a 1B reference model"
	for _, m := range b.installed {
		if s.LendModel == "" || m.ID == s.LendModel {
			model = m.Name
			break
		}
	}
	var sched hardware.Schedule
	for _, w := range s.Schedule {
		days := make([]string, len(w.Days))
		for i, d := range w.Days {
			days[i] = d.String()[:3]
		}
		hw, err := hardware.ParseWindow(strings.Join(days, ",") + " " + w.Start + "-" + w.End)
		if err != nil {
			return app.EarningsEstimate{}, err
		}
		sched = append(sched, hw)
	}
	e := app.EarningsEstimate{Ready: true, Model1BTokS: demoModel1B, LayerTokS: demoLayerTokS, Threads: s.MaxThreads,
		Model: model, Layers: demoLayers, TokS: demoLayerTokS / demoLayers, HoursPerDay: sched.HoursPerDay(), Price: s.Price}
	e.PerDay = hardware.EstimateEarnings(e.TokS, e.Layers, s.Price, e.HoursPerDay)
	return e, nil
}

// MeasureMachine implements app.SettingsBackend: the fixture's speed test
// is fixed, so it only counts the request and reports a new estimate.
func (b *Backend) MeasureMachine(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.measured++
	b.publish(app.EstimateChanged{})
	return nil
}

// Measured is how many times the speed test was asked for again.
func (b *Backend) Measured() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.measured
}
