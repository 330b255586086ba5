// Package route plans a chain of stages covering a model's layers [0,N) from
// the layers this node runs itself and the ranges peers serve.
//
// Planning is a pure function (PlanChain): a shortest path over the layer
// boundaries 0…N, where a hop from boundary i to j is this node running
// layers [i,j) or a provider serving them (any sub-range of what it
// advertises). A hop costs its per-token time — round trip, the layers'
// compute at the provider's measured throughput slowed by its load, and a
// fixed penalty that makes fewer hops win ties — plus its price converted to
// time by a weight. Uncovered layers are reported as gaps; each hop of the
// plan keeps its alternatives (other providers able to serve exactly its
// range, best first) for failover.
package route
