// Package p2p runs the libp2p host: identity, transports, NAT traversal and relays.
package p2p
