// Package route plans a chain of stages covering a model's layers [0,N) from
// the layers this node runs itself and the ranges peers serve, keeps the
// chain running when providers fail, and says which layers a provider
// should serve.
//
// Planning is a pure function (PlanChain): a shortest path over the layer
// boundaries 0…N, where a hop from boundary i to j is this node running
// layers [i,j) or a provider serving them (any sub-range of what it
// advertises). A hop costs its per-token time — round trip, the layers'
// compute at the provider's measured throughput slowed by its load, and a
// fixed penalty that makes fewer hops win ties — plus its price converted to
// time by a weight. Uncovered layers are reported as gaps; each hop of the
// plan keeps its alternatives (other providers able to serve exactly its
// range, best first) for failover. Spread re-draws each hop among the
// near-best replicas, weighted by cost, so that clients seeing the same
// announcements do not all pile onto one provider; LatencyBook feeds the
// round trips this node measured into the costs.
//
// FailoverChain runs a plan: it keeps every remote hop's inputs, detects a
// provider that fails, stalls (a deadline of K × the p95 of the hop's recent
// round trips, see Deadline) or is found cheating by an Auditor, re-plans
// the hop's layers over the remaining providers (one or several), replays
// the inputs as one batch to rebuild their caches and re-sends the step.
// Each failover is reported as an Event with its detection and recovery
// times.
//
// ChooseRange and Rebalance are the provider's side: which window of layers
// adds a replica where the swarm has fewest, and when a serving node should
// move there (with hysteresis, so nodes do not chase each other).
package route
