// Package swarm simulates a Hearth swarm in one process, to measure how it
// holds up: a dozen or more providers on their own loopback libp2p hosts
// serve overlapping layer ranges of a small model (placed with
// route.ChooseRange), announced in a shared discovery registry with their
// live load; clients — each with its own ban list, latency book and spot
// checker — run many greedy generations at once through route.FailoverChain
// pipelines while providers are killed and restarted (churn), one is slow
// and one cheats by nudging its outputs.
//
// Run reports completed generations and whether their ids equal the
// single-machine run, failovers with their recovery times, checks, how many
// clients exposed to a cheater caught it and after how many of its results
// (about 1/rate), fraud reports and the bans they led to, and the swarm's
// throughput. BenchmarkSwarm prints these figures; a short run is a test.
package swarm
