// Package verify checks providers' work and acts on what it finds.
//
// A Checker (a route.Auditor) re-runs a random fraction of remote results
// (2% by default) — on this node when it holds the layers, else on a second
// provider — and compares: bit for bit when both ran on the CPU backend
// (fed exactly the values the provider decoded and rounded to the result's
// wire dtype, the re-run must equal the claim), within a tolerance of 1% of
// each row's range otherwise. A provider that disagrees with a local re-run,
// or with two others, is banned in a persistent BanList, its session is
// aborted unpaid and its unpaid work written off, and a fraud report is
// published.
//
// A Report is self-contained proof: the provider's signature over its result
// statement (node/shard), the output, and the inputs it received (inline, or
// by hash and served on request over InputsProtocol). The Fraud service
// publishes reports on FraudTopic and judges other nodes' reports by
// re-running the accused layers itself: it bans the provider only when it
// reproduces the wrong result, and distrusts a reporter whose report carries
// a bad signature, inputs that are not the signed ones, or a right result.
//
// ChallengeWeights checks at session open that a provider holds the weights
// it claims to serve: digests of random slices of the layers' tensors under
// a fresh nonce, compared with this node's copy.
package verify
