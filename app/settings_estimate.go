package app

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// The earnings estimate under the lending switch: the machine's measured
// speed and what lending with the form's values could earn a day. The
// backend computes it; the view asks again when the price, schedule, RAM
// cap, threads or model to lend change, and when a speed test finishes.

// estimateSettings are the saved settings with the form's values that the
// estimate depends on, where they are valid.
func (v *settingsView) estimateSettings() Settings {
	s := v.saved
	if p, err := strconv.ParseUint(strings.TrimSpace(v.price.Text), 10, 64); err == nil {
		s.Price = p
	}
	if ram, err := strconv.ParseFloat(strings.TrimSpace(v.ram.Text), 64); err == nil && ram > 0 {
		s.MaxRAMGiB = ram
	}
	if sched, err := v.schedule.windows(); err == nil {
		s.Schedule = sched
	}
	s.MaxThreads = int(v.threads.Value)
	s.LendModel = v.lendModelID()
	return s
}

// loadEstimate asks the backend for the estimate of the form's values; a
// reply to an older question is dropped.
func (v *settingsView) loadEstimate() {
	if !v.loaded || v.filling {
		return
	}
	v.estimateSeq++
	seq, s := v.estimateSeq, v.estimateSettings()
	callErr(v.u, func(ctx context.Context) (EarningsEstimate, error) { return v.u.b.EstimateEarnings(ctx, s) },
		func(e EarningsEstimate) {
			if seq == v.estimateSeq {
				v.estimateTxt.SetText(estimateText(e))
			}
		},
		func(err error) {
			if seq == v.estimateSeq {
				v.estimateTxt.SetText("No earnings estimate: " + err.Error())
			}
		})
}

// estimateText says what e means in a sentence or two.
func estimateText(e EarningsEstimate) string {
	switch {
	case e.Running && !e.Ready:
		return "Measuring this machine's speed (a few seconds)…"
	case !e.Ready && e.Err != "":
		return "The speed test failed: " + e.Err
	case !e.Ready:
		return "This machine's speed is not measured yet."
	}
	speed := fmt.Sprintf("Speed test: ~%s tok/s on a 1B model (%.0f tok/s per layer, %d threads).",
		formatFloat1(e.Model1BTokS), e.LayerTokS, e.Threads)
	var earn string
	switch {
	case e.Layers == 0:
		earn = fmt.Sprintf("The RAM cap holds no layer of %s: lending would earn nothing.", e.Model)
	case e.Price == 0:
		earn = "Lending for free earns nothing; set a price below to see what this machine could earn."
	default:
		amount := formatSOL(e.PerDay)
		if e.PerDay < 100_000 { // under 0.0001 SOL: 4 decimals would say 0
			amount = fmt.Sprintf("%d lamports", e.PerDay)
		}
		earn = fmt.Sprintf("Lending %s h/day at %d lamports per 1,000 token-layers could earn ~%s a day (%d layers of %s at %s tok/s, if peers keep it busy).",
			formatFloat1(e.HoursPerDay), e.Price, amount, e.Layers, e.Model, formatFloat1(e.TokS))
	}
	return speed + " " + earn
}

// measureMachine asks for the speed test again; the estimate follows when
// it reports (EstimateChanged).
func (v *settingsView) measureMachine() {
	callErr(v.u, func(ctx context.Context) (struct{}, error) { return struct{}{}, v.u.b.MeasureMachine(ctx) },
		func(struct{}) {},
		func(err error) { v.estimateTxt.SetText("The speed test did not start: " + err.Error()) })
}
