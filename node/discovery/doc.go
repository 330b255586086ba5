// Package discovery finds peers and shard providers over mDNS and the Kademlia DHT.
//
// A provider describes a shard it serves with an Announcement (model hash,
// layer range [From,To), backend, throughput, price, payout address, load,
// expiry, sequence number), signed with its libp2p key under a dedicated
// signature domain and encoded canonically (Sign, DecodeAnnouncement).
// Receivers accept an announcement only if the signature, the signer's peer
// ID, the fields and the expiry check out.
//
// Service (New, then Serve(ctx)) runs three mechanisms, each switchable in
// Config:
//
//   - GossipSub: announcements travel on the topic /hearth/shards/<hex model
//     hash>, published only by the announcing peer itself, re-signed and
//     re-published every Config.Refresh and expiring after Config.TTL.
//     Withdraw publishes a signed withdrawal so clients fail over at once.
//   - Kademlia DHT: providers are recorded under ProviderKey(model) (a CIDv1,
//     raw codec, sha256 multihash); Find looks them up and fetches each
//     provider's signed announcement with the /hearth/announce/1
//     request/response protocol.
//   - mDNS: peers on the local network are found and connected to. Tests
//     must not enable it outside a network namespace of their own
//     (p2ptest.InNetNS), since it multicasts on every interface.
//
// Everything received lands in a Registry, which keeps the newest valid
// announcement per (peer, model), drops expired ones and answers Providers
// and Coverage (per-layer provider counts and gaps) for the router.
package discovery
