// Package shard implements the /hearth/shard/1 protocol: serving a layer
// range of a model to peers (Server), and the client side of a remote stage
// (Client, RemoteStage), which is a model.Forwarder like a local session.
//
// # Streams and frames
//
// Each stream carries one session. A frame is a big-endian u32 length, a
// type byte and a payload (see frame.go); tensors inside payloads are
// little-endian. Readers check the length against their limit before reading
// and grow buffers only as bytes arrive.
//
//	client                                 server
//	Hello{version}                  →
//	                                ←      Info{models and served ranges, price,
//	                                            payout, limits, load, accepting}
//	Close (an info query ends here)  →
//	Open{session, model hash, layers,
//	     max context, price accepted,
//	     wire dtype, consumer key}   →
//	                                ←      OpenOK{context, price, provider, credit limit}
//	[Receipt{signed, cumulative}]    →
//	Forward{session, pos, n, tokens
//	        or n×dim hidden}         →
//	                                ←      Result{hidden or logits, units, total,
//	                                            provider's signature}
//	[Challenge{nonce, tensor slices}] →
//	                                ←      ChallengeOK{sha256(nonce ‖ slice)…}
//	…
//	Close                            →
//	                                ←      Closed{units served, units receipted}
//
// Every field is validated: dimensions, positions against the cache and the
// context, batch size, token ids against the vocabulary, NaN and Inf. A bad
// frame is answered with an Error frame and ends the stream; the node keeps
// serving everyone else. Error codes: bad request, no capacity, busy
// (draining or shutting down), unknown session (expired after idle), payment
// required (the only one that leaves the session open: send a receipt and
// retry), internal, version.
//
// # Signed results and weight challenges
//
// Every Result is signed with the provider's libp2p peer key over a
// ResultStatement: session, model hash, layers, positions, backend, the
// chained digest of every input the session received up to those positions
// (ChainInput, over the bytes as sent) and the digest of the output bytes.
// The client rebuilds the statement from what it sent and received and keeps
// the last one as Evidence; with the inputs, anyone holding the layers can
// re-run them and prove a wrong result to third parties (node/verify).
//
// A client holding the model file can challenge a session: a fresh nonce and
// up to 16 random byte slices of the session's tensors, answered with
// sha256(nonce ‖ bytes) each (TensorSource on the backend). A wrong answer
// means the provider does not hold the weights it claims to serve.
//
// # Limits
//
// A server bounds sessions, the KV memory they may reserve (counted at the
// session's maximum context), context and batch sizes, and frame size. A
// session that does not forward for IdleTimeout is closed; a frame must
// arrive within FrameTimeout of its first byte and the handshake within
// HandshakeTimeout, so a peer trickling bytes is cut off. SetAccepting(false)
// refuses new sessions at once while open ones go on.
//
// # Metering
//
// A forward of n positions through layers [from,to) is n×(to−from) units. A
// paid server (price > 0) pauses a session whose unreceipted credit exceeds
// its limit; the client signs cumulative receipts (node/meter) when half the
// credit is used, when asked, and at Close. Free servers take no receipts.
//
// # Wire precision
//
// Results and hidden states travel as f32 by default: a pipeline split at
// any boundary, over any number of hosts, gives logits bit-identical to the
// unsplit local model. In f16 mode hidden states travel as IEEE binary16
// (values beyond its range fall back to f32 frame by frame); logits are always
// f32. Tolerance, measured on the shared models (TestF16WireTolerance):
// greedy ids identical to f32, every logit within 1% of the step's logit
// range (stories260K: 0.004 absolute; TinyStories-656K-Q8_0: 0.14, 0.5%).
package shard
