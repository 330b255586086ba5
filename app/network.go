package app

import (
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// networkView is the Network tab: this node's status, live throughput
// and latency, the shards it serves, the peers it uses and what each
// serving session earned.
type networkView struct {
	u    *UI
	root fyne.CanvasObject

	online     *badge
	peerID     *widget.Label
	addrs      *widget.Label
	reach      *widget.Label
	nat        *widget.Label
	relay      *widget.Label
	throughput *lineChart
	latency    *lineChart
	shards     *fyne.Container
	peers      *fyne.Container
	sessions   *fyne.Container
}

const sampleWindow = 60 // samples on the charts

func newNetworkView(u *UI) *networkView {
	v := &networkView{u: u}
	v.online = newBadge("Offline", colorNoFit)
	v.peerID = &widget.Label{TextStyle: fyne.TextStyle{Monospace: true}, Selectable: true, Truncation: fyne.TextTruncateEllipsis}
	v.addrs = &widget.Label{TextStyle: fyne.TextStyle{Monospace: true}, Wrapping: fyne.TextWrapBreak}
	v.reach, v.nat, v.relay = &widget.Label{}, &widget.Label{}, &widget.Label{}
	node := &widget.Form{Items: []*widget.FormItem{
		{Text: "Peer ID", Widget: v.peerID},
		{Text: "Addresses", Widget: v.addrs},
		{Text: "Reachability", Widget: v.reach},
		{Text: "NAT", Widget: v.nat},
		{Text: "Relay", Widget: v.relay},
	}}
	v.throughput = newLineChart("Throughput", sampleWindow, func(f float64) string { return formatRate(f) },
		series{name: "in", color: colorIn}, series{name: "out", color: colorOut})
	v.latency = newLineChart("Hop latency", sampleWindow, func(f float64) string { return formatFloat1(f) + " ms" },
		series{name: "median", color: colorSettled})
	v.shards = container.NewVBox()
	v.peers = container.NewVBox()
	v.sessions = container.NewVBox()
	status := container.NewBorder(container.NewHBox(heading("This node"), container.NewCenter(v.online)), nil, nil, nil, node)
	charts := container.NewGridWithColumns(2, v.throughput, v.latency)
	lists := container.NewGridWithColumns(2,
		container.NewVBox(heading("Shards I serve"), v.shards),
		container.NewVBox(heading("Peers I use"), v.peers))
	content := container.NewVBox(status, charts, lists, heading("Earnings per session"), v.sessions)
	v.root = container.NewVScroll(container.NewPadded(content))
	return v
}

func (v *networkView) load() { call(v.u, v.u.b.Network, v.show) }

func (v *networkView) show(n NetworkState) {
	nd := n.Node
	switch {
	case !nd.Online:
		v.online.Set("Offline", colorNoFit)
	case nd.Lending:
		v.online.Set("Online · lending", colorLocal)
	default:
		v.online.Set("Online · not lending", colorPeers)
	}
	v.peerID.SetText(nd.PeerID)
	v.addrs.SetText(strings.Join(nd.Addrs, "\n"))
	v.reach.SetText(orDash(nd.Reachability))
	v.nat.SetText(orDash(nd.NAT))
	v.relay.SetText(orText(nd.Relay, "none (directly reachable)"))

	v.shards.RemoveAll()
	v.shards.Add(row(3, bold("Model"), bold("Layers"), bold("Sessions · tok/s")))
	for _, s := range n.Shards {
		v.shards.Add(row(3, label(s.Model), label(fmt.Sprintf("%d–%d", s.From, s.To-1)),
			label(fmt.Sprintf("%d · %s", s.Sessions, formatFloat1(s.TokensPerSec)))))
	}
	if len(n.Shards) == 0 {
		v.shards.Add(caption("Not serving any shard. Turn lending on in Settings."))
	}
	v.peers.RemoveAll()
	v.peers.Add(row(4, bold("Peer"), bold("Layers"), bold("Latency"), bold("Trust")))
	for _, p := range n.Peers {
		trust := "untrusted"
		if p.Trusted {
			trust = "trusted"
		}
		v.peers.Add(row(4, mono(shortID(p.PeerID)), label(fmt.Sprintf("%d–%d", p.From, p.To-1)),
			label(formatFloat1(p.LatencyMs)+" ms"), label(trust)))
	}
	if len(n.Peers) == 0 {
		v.peers.Add(caption("No peers in use: every conversation runs locally."))
	}
	v.sessions.RemoveAll()
	v.sessions.Add(row(5, bold("Session"), bold("Peer"), bold("Model"), bold("Token-layers"), bold("Earned")))
	for _, s := range n.Sessions {
		state := " · pending"
		if s.Settled {
			state = " · settled"
		}
		v.sessions.Add(row(5, mono(s.Session), mono(shortID(s.Peer)), label(s.Model),
			label(fmt.Sprintf("%d", s.Units)), label(formatSOL(s.Amount)+state)))
	}
	v.throughput.Reset()
	v.latency.Reset()
	for _, s := range n.Samples {
		v.addSample(s)
	}
}

// addSample puts a live sample on the charts.
func (v *networkView) addSample(s NetSample) {
	v.throughput.Push(s.InBps, s.OutBps)
	v.latency.Push(s.LatencyMs)
}

func row(cols int, objs ...fyne.CanvasObject) fyne.CanvasObject {
	return container.NewGridWithColumns(cols, objs...)
}

func label(s string) *widget.Label {
	return &widget.Label{Text: s, Truncation: fyne.TextTruncateEllipsis}
}

func bold(s string) *widget.Label {
	return &widget.Label{Text: s, TextStyle: fyne.TextStyle{Bold: true}, Truncation: fyne.TextTruncateEllipsis}
}

func mono(s string) *widget.Label {
	return &widget.Label{Text: s, TextStyle: fyne.TextStyle{Monospace: true}, Truncation: fyne.TextTruncateEllipsis}
}

func orDash(s string) string { return orText(s, "–") }

func orText(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}
