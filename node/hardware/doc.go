// Package hardware reads hardware telemetry and decides when this machine may lend its resources.
//
// Telemetry: a Sampler reads CPU, memory, disk, temperatures and power through gopsutil and
// /sys, NVIDIA GPUs through an NVMLSource (the only NVML user in Hearth; with no driver it
// reports "no NVIDIA driver" and never touches NVML again) and user input idleness through
// an IdleSource (InputIdle on Linux). Missing sensors, drivers or batteries are normal
// states, reported as such.
//
// Policy: Decide is a pure function from (Policy, State, Reading, running sessions) to a
// Decision and the next State. Lending starts only after HoldIdle of continuous idleness,
// stops on the first busy sample (Draining: no new sessions, running ones get until the
// drain deadline), and uses separate enter and exit levels so values near a threshold do
// not flap.
//
// Service: a Monitor samples every second, applies Decide and publishes each result to
// subscribers on the sample it was taken, so the runtime can stop accepting sessions at once.
package hardware
