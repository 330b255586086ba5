// Package p2p runs the libp2p host: identity, transports, NAT traversal and relays.
//
// A node loads (or creates) its ed25519 identity with LoadOrCreateIdentity,
// then starts a Host with New(ctx, cfg, key, logger) from a Config built on
// Default(). The Host speaks TCP and QUIC (TCP only in a private swarm, since
// libp2p's pre-shared-key protection does not cover QUIC), secures
// connections with Noise or TLS and multiplexes them with yamux. It keeps a
// connection manager (low/high watermarks, grace period), a resource manager
// (rcmgr defaults scaled to the machine plus explicit stream caps for
// Hearth's own protocols, see Config.Limits), circuit relay v2 (as client,
// and as a service on well-connected nodes), DCUtR hole punching and
// AutoNAT.
//
// Protocols built on the Host register handlers on Host.Raw() and open
// streams with Raw().NewStream. A peer reached only through a relay has a
// limited connection: streams on it need network.WithAllowLimitedConn, and
// relays cap their duration and volume, so bulk traffic should wait for the
// DCUtR upgrade to a direct connection. ShardProtocol and AnnounceProtocol
// are the IDs whose stream counts Default() caps.
//
// Serve keeps the node connected to its bootstrap peers; Reachability,
// Reservations and HolePunchStats report NAT status for the UI. Package
// p2ptest has helpers for tests with real hosts on 127.0.0.1 and inside
// network namespaces.
package p2p
