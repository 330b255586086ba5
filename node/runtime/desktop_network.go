package runtime

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/hearth-p2p/hearth/node/discovery"
	"github.com/hearth-p2p/hearth/node/p2p"
	"github.com/hearth-p2p/hearth/node/route"
	"github.com/hearth-p2p/hearth/node/shard"
)

// NetworkState is what the Network view shows.
type NetworkState struct {
	Node     NodeState
	Shards   []ShardState
	Peers    []PeerUse
	Sessions []SessionEarning
	Samples  []NetSample // oldest first
}

// NodeState describes this machine on the network.
type NodeState struct {
	Online       bool // a host runs (lending, or offloading)
	PeerID       string
	Addrs        []string
	Reachability string // "public", "private" or "unknown"
	NAT          string
	Relay        string // the relay in use, "" if none
	Lending      bool   // the setting
	Accepting    bool   // the node takes sessions now
	Note         string // "starting", why lending is paused or failed
}

// ShardState is a layer range the node serves.
type ShardState struct {
	Model        string
	From, To     int
	Sessions     int
	TokensPerSec float64 // served now
	Price        uint64  // per 1,000 token-layers
}

// PeerUse is a peer running layers for an offloading conversation.
type PeerUse struct {
	PeerID    string
	Model     string
	From, To  int
	LatencyMs float64
	Trusted   bool
}

// SessionEarning is a session the node served since the desktop started.
type SessionEarning struct {
	Session string
	Peer    string
	Model   string
	Started time.Time
	Units   uint64 // token-layers
	Amount  uint64 // receipted (or owed at the price), base units
	Open    bool
}

// NetSample is one live measurement.
type NetSample struct {
	At        time.Time
	InBps     float64
	OutBps    float64
	LatencyMs float64 // median round trip of the hops in use; 0 when none
}

// DesktopStatus is the one-line state for the tray and the status bar.
type DesktopStatus struct {
	Lending      bool
	Serving      int     // sessions served now
	PeersUsed    int     // peers running layers for conversations now
	TokensPerSec float64 // served throughput
	Line         string
}

const (
	keptSamples  = 120
	keptSessions = 50
)

// netState is lending, offloading and the live measurements.
type netState struct {
	lendMu sync.Mutex // serialises starting and stopping the lending node

	mu      sync.Mutex // guards everything below
	serving bool       // Serve runs

	node      *Node
	nodeStop  context.CancelFunc
	nodeDone  chan struct{}
	nodeNote  string
	lendPath  string
	accepting bool

	consumer *Consumer
	pipes    map[*Pipeline]pipeUse
	book     *route.LatencyBook
	closedIn uint64 // bytes of closed pipelines' hops
	closedOt uint64

	samples  []NetSample
	lastIn   uint64
	lastOut  uint64
	lastAt   time.Time
	sessions map[[16]byte]*SessionEarning
	tokens   map[[16]byte]uint64
	rates    map[[32]byte]float64
	settled  uint64
	status   DesktopStatus
}

// pipeUse is an offloading conversation's pipeline and its hops as last
// seen (a pipeline's Route waits for a step in flight, so it is read
// without holding netState.mu and cached here).
type pipeUse struct {
	conv, model string
	segs        []route.Segment
}

func (n *netState) init() {
	n.pipes = map[*Pipeline]pipeUse{}
	n.book = route.NewLatencyBook()
	n.sessions = map[[16]byte]*SessionEarning{}
	n.tokens = map[[16]byte]uint64{}
	n.rates = map[[32]byte]float64{}
}

func (n *netState) setServing() {
	n.mu.Lock()
	n.serving = true
	n.mu.Unlock()
}

func (n *netState) isServing() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.serving
}

// registry is the offloading host's registry, nil when it does not run.
func (n *netState) registry() *discovery.Registry {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.consumer == nil {
		return nil
	}
	return n.consumer.Discovery().Registry()
}

func (n *netState) addPipe(p *Pipeline, u pipeUse) {
	u.segs = p.Route()
	n.mu.Lock()
	n.pipes[p] = u
	n.mu.Unlock()
}

// refreshPipes caches each pipeline's current hops.
func (n *netState) refreshPipes() {
	n.mu.Lock()
	pipes := make([]*Pipeline, 0, len(n.pipes))
	for p := range n.pipes {
		pipes = append(pipes, p)
	}
	n.mu.Unlock()
	segs := make([][]route.Segment, len(pipes))
	for i, p := range pipes {
		segs[i] = p.Route()
	}
	n.mu.Lock()
	for i, p := range pipes {
		if u, ok := n.pipes[p]; ok {
			u.segs = segs[i]
			n.pipes[p] = u
		}
	}
	n.mu.Unlock()
}

// removePipe forgets a pipeline, keeping its traffic in the totals.
func (n *netState) removePipe(p *Pipeline) {
	in, out, _ := pipeTraffic(p.Route())
	n.mu.Lock()
	if _, ok := n.pipes[p]; ok {
		delete(n.pipes, p)
		n.closedIn += in
		n.closedOt += out
	}
	n.mu.Unlock()
}

// peersOf counts the peers running layers for a conversation now.
func (n *netState) peersOf(conv string) int {
	n.mu.Lock()
	var pipes []*Pipeline
	for p, u := range n.pipes {
		if u.conv == conv {
			pipes = append(pipes, p)
		}
	}
	n.mu.Unlock()
	seen := map[string]bool{}
	for _, p := range pipes {
		for _, s := range p.Route() {
			if !s.Local {
				seen[s.Peer] = true
			}
		}
	}
	return len(seen)
}

// pipeTraffic sums the bytes and round trips of a pipeline's remote hops.
func pipeTraffic(segs []route.Segment) (in, out uint64, rtts []float64) {
	for _, s := range segs {
		rs, ok := s.Session.(*shard.RemoteStage)
		if !ok {
			continue
		}
		st := rs.Stats()
		in += st.BytesIn
		out += st.BytesOut
		if st.RTT > 0 {
			rtts = append(rtts, float64(st.RTT)/float64(time.Millisecond))
		}
	}
	return in, out, rtts
}

// Network reports the node, what it serves, the peers conversations use,
// the sessions served and the recent samples.
func (d *Desktop) Network(ctx context.Context) (NetworkState, error) {
	s := d.Settings()
	trusted := map[string]bool{}
	for _, p := range s.TrustedPeers {
		trusted[p] = true
	}
	n := &d.net
	n.refreshPipes()
	n.mu.Lock()
	defer n.mu.Unlock()
	ns := NetworkState{Node: NodeState{Lending: s.Lending, Accepting: n.accepting, Note: n.nodeNote},
		Samples: slices.Clone(n.samples)}
	switch {
	case n.node != nil:
		n.describeHost(&ns.Node, n.node.Host().ID().String(), n.node.Host().Addrs(), n.node.Host().Reachability(), relayOf(n.node.Host()))
		st := n.node.Server().Stats()
		for _, sm := range n.node.ServedModels() {
			sh := ShardState{Model: sm.Name, From: sm.From, To: sm.To, TokensPerSec: n.rates[sm.Hash], Price: n.node.cfg.Shard.Price.PerKiloUnit}
			for _, ss := range st.Sessions {
				if ss.Model == sm.Hash {
					sh.Sessions++
				}
			}
			ns.Shards = append(ns.Shards, sh)
		}
	case n.consumer != nil:
		h := n.consumer.Host()
		n.describeHost(&ns.Node, h.ID().String(), h.Addrs(), h.Reachability(), relayOf(h))
	}
	for _, u := range n.pipes {
		for _, seg := range u.segs {
			if seg.Local {
				continue
			}
			pu := PeerUse{PeerID: seg.Peer, Model: u.model, From: seg.From, To: seg.To, Trusted: trusted[seg.Peer]}
			if rs, ok := seg.Session.(*shard.RemoteStage); ok {
				pu.LatencyMs = float64(rs.Stats().RTT) / float64(time.Millisecond)
			} else if rtt, ok := n.book.Latency(seg.Peer); ok {
				pu.LatencyMs = float64(rtt) / float64(time.Millisecond)
			}
			ns.Peers = append(ns.Peers, pu)
		}
	}
	for _, rec := range n.sessions {
		ns.Sessions = append(ns.Sessions, *rec)
	}
	sort.Slice(ns.Sessions, func(i, j int) bool { return ns.Sessions[i].Started.After(ns.Sessions[j].Started) })
	return ns, ctx.Err()
}

// describeHost fills a host's identity and reachability.
func (n *netState) describeHost(ns *NodeState, id string, addrs []ma.Multiaddr, r network.Reachability, relay string) {
	ns.Online, ns.PeerID, ns.Relay = true, id, relay
	for _, a := range addrs {
		ns.Addrs = append(ns.Addrs, a.String())
	}
	switch r {
	case network.ReachabilityPublic:
		ns.Reachability, ns.NAT = "public", "directly reachable"
	case network.ReachabilityPrivate:
		ns.Reachability, ns.NAT = "private", "behind NAT"
		if relay != "" {
			ns.NAT = "behind NAT, reached through a relay"
		}
	default:
		ns.Reachability = "unknown"
	}
}

// relayOf names the relay a host holds a reservation on, "" if none.
func relayOf(h *p2p.Host) string {
	if rs := h.Reservations(); len(rs) > 0 {
		return rs[0].Relay.String()
	}
	return ""
}

// Status is the one-line state for the tray and the status bar.
func (d *Desktop) Status() DesktopStatus {
	s := d.Settings()
	n := &d.net
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.statusLocked(s.Lending)
}

func (n *netState) statusLocked(lending bool) DesktopStatus {
	st := DesktopStatus{Lending: lending}
	for _, rec := range n.sessions {
		if rec.Open {
			st.Serving++
		}
	}
	for _, r := range n.rates {
		st.TokensPerSec += r
	}
	peers := map[string]bool{}
	for _, u := range n.pipes {
		for _, seg := range u.segs {
			if !seg.Local {
				peers[seg.Peer] = true
			}
		}
	}
	st.PeersUsed = len(peers)
	var parts []string
	switch {
	case !lending:
		parts = append(parts, "Lending off")
	case n.node == nil && n.nodeNote != "":
		parts = append(parts, "Lending: "+n.nodeNote)
	case n.node == nil:
		parts = append(parts, "Lending: not running")
	case !n.accepting && n.nodeNote != "":
		parts = append(parts, "Lending "+n.nodeNote)
	case !n.accepting:
		parts = append(parts, "Lending: waiting for the machine to be idle")
	default:
		parts = append(parts, fmt.Sprintf("Lending · %d sessions · %.1f tok/s served", st.Serving, st.TokensPerSec))
	}
	if st.PeersUsed > 0 {
		parts = append(parts, fmt.Sprintf("%d peers run layers for your chats", st.PeersUsed))
	} else {
		parts = append(parts, "chat is local")
	}
	st.Line = strings.Join(parts, " · ")
	return st
}

// publishStatus publishes the status when it changed.
func (d *Desktop) publishStatus() {
	s := d.Settings()
	n := &d.net
	n.mu.Lock()
	st := n.statusLocked(s.Lending)
	changed := st != n.status
	n.status = st
	n.mu.Unlock()
	if changed {
		d.publish(StatusChanged{Status: st})
	}
}
