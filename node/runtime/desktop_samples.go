package runtime

import (
	"context"
	"encoding/hex"
	"slices"
	"sort"
	"time"

	"github.com/hearth-p2p/hearth/node/route"
	"github.com/hearth-p2p/hearth/node/shard"
	"github.com/hearth-p2p/hearth/wallet/ledger"
)

// Live measurements: every SampleInterval the desktop samples traffic and
// hop latency, follows the sessions the lending node serves, and notices
// settlements in its ledger.

// initSettled records what the ledger had settled when the node started.
func (n *netState) initSettled(l *ledger.Ledger) {
	s := settledSOL(l)
	n.mu.Lock()
	n.settled = s
	n.mu.Unlock()
}

// settledSOL is the lamports the ledger has seen settled.
func settledSOL(l *ledger.Ledger) uint64 {
	es, err := l.Earnings()
	if err != nil {
		return 0
	}
	for _, e := range es {
		if e.Mint.IsZero() {
			return e.Settled
		}
	}
	return 0
}

// sampleLoop takes a live sample every SampleInterval.
func (d *Desktop) sampleLoop(ctx context.Context) {
	t := time.NewTicker(d.cfg.SampleInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			d.takeSample(now)
		}
	}
}

// takeSample measures traffic and latency, follows the served sessions and
// payouts, and publishes what changed.
func (d *Desktop) takeSample(now time.Time) {
	n := &d.net
	n.refreshPipes()
	n.mu.Lock()
	node := n.node
	segs := make([][]route.Segment, 0, len(n.pipes))
	for _, u := range n.pipes {
		segs = append(segs, u.segs)
	}
	n.mu.Unlock()

	var st shard.Stats
	var price uint64
	if node != nil {
		st = node.Server().Stats()
		price = node.cfg.Shard.Price.PerKiloUnit
	}
	in, out := st.Totals.BytesIn, st.Totals.BytesOut
	var rtts []float64
	for _, sg := range segs {
		pi, po, r := pipeTraffic(sg)
		in, out = in+pi, out+po
		rtts = append(rtts, r...)
	}
	var models map[[32]byte]string
	if node != nil {
		models = map[[32]byte]string{}
		for _, sm := range node.ServedModels() {
			models[sm.Hash] = sm.Name
		}
	}

	n.mu.Lock()
	in, out = in+n.closedIn, out+n.closedOt
	sample := NetSample{At: now, LatencyMs: median(rtts)}
	if dt := now.Sub(n.lastAt).Seconds(); !n.lastAt.IsZero() && dt > 0 {
		sample.InBps = float64(sub0(in, n.lastIn)) / dt
		sample.OutBps = float64(sub0(out, n.lastOut)) / dt
	}
	changed := n.followSessions(st.Sessions, models, price, now)
	n.lastIn, n.lastOut, n.lastAt = in, out, now
	n.samples = append(n.samples, sample)
	if len(n.samples) > keptSamples {
		n.samples = slices.Delete(n.samples, 0, len(n.samples)-keptSamples)
	}
	n.mu.Unlock()

	if node != nil && node.Ledger() != nil {
		d.receipted(node.Ledger())
		d.checkPayouts(node.Ledger(), now)
	}
	d.publish(NetSampleTaken{Sample: sample})
	if changed {
		d.publish(NetworkChanged{})
	}
	d.publishStatus()
}

func sub0(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Clone(xs)
	sort.Float64s(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

// followSessions updates the served sessions and per-model rates; it
// reports whether a session opened or closed. n.mu must be held.
func (n *netState) followSessions(open []shard.SessionStats, models map[[32]byte]string, price uint64, now time.Time) bool {
	changed := false
	dt := now.Sub(n.lastAt).Seconds()
	rates := map[[32]byte]float64{}
	live := map[[16]byte]bool{}
	for _, s := range open {
		live[s.ID] = true
		rec := n.sessions[s.ID]
		if rec == nil {
			rec = &SessionEarning{Session: hex.EncodeToString(s.ID[:]), Peer: s.Peer.String(), Model: models[s.Model], Started: s.Opened}
			n.sessions[s.ID] = rec
			changed = true
		}
		rec.Open, rec.Units = true, s.Units
		if price > 0 && rec.Amount < s.Units*price/1000 && s.Receipted == 0 {
			rec.Amount = s.Units * price / 1000 // owed; replaced by the receipt once there is one
		}
		if prev, ok := n.tokens[s.ID]; ok && dt > 0 && !n.lastAt.IsZero() {
			rates[s.Model] += float64(sub0(s.Tokens, prev)) / dt
		}
		n.tokens[s.ID] = s.Tokens
	}
	for id, rec := range n.sessions {
		if rec.Open && !live[id] {
			rec.Open = false
			delete(n.tokens, id)
			changed = true
		}
	}
	if len(n.sessions) > keptSessions {
		var closedIDs [][16]byte
		for id, rec := range n.sessions {
			if !rec.Open {
				closedIDs = append(closedIDs, id)
			}
		}
		sort.Slice(closedIDs, func(i, j int) bool {
			return n.sessions[closedIDs[i]].Started.Before(n.sessions[closedIDs[j]].Started)
		})
		for _, id := range closedIDs[:min(len(closedIDs), len(n.sessions)-keptSessions)] {
			delete(n.sessions, id)
		}
	}
	n.rates = rates
	return changed
}

// receipted fills the sessions' amounts from the receipts in the ledger.
func (d *Desktop) receipted(l *ledger.Ledger) {
	n := &d.net
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, rec := range n.sessions {
		if r, err := l.Receipted(id); err == nil {
			rec.Amount = r.Amount
		}
	}
}

// checkPayouts publishes the settlements the ledger saw since last time.
func (d *Desktop) checkPayouts(l *ledger.Ledger, now time.Time) {
	s := settledSOL(l)
	n := &d.net
	n.mu.Lock()
	prev := n.settled
	n.settled = max(s, prev)
	n.mu.Unlock()
	if s <= prev {
		return
	}
	d.publish(PayoutReceived{Transfer: Transfer{Time: now, Kind: TransferPayout, Symbol: "SOL", Amount: s - prev,
		Decimals: 9, Confirmed: true, Memo: "settlement of served shards"}})
	d.publish(WalletChanged{})
}
