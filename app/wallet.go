package app

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// walletView is the Wallet tab. Without a wallet it offers to create or
// import one; with one it shows the address and its QR code, balances,
// the cluster, a send form, paying peers, the history and earnings per
// day.
type walletView struct {
	u    *UI
	root *fyne.Container // holds the body of the current state

	info  WalletInfo
	setup *walletSetup

	address  *widget.Label
	qr       *canvas.Image
	copy     *widget.Button
	balances *fyne.Container
	cluster  *widget.Select
	rpcURL   *widget.Entry
	apply    *widget.Button
	send     *sendForm
	pay      *payPanel
	history  *fyne.Container
	earnings *barChart
	totals   *widget.Label
	ready    fyne.CanvasObject
}

const earningsDays = 14

var clusters = []string{"devnet", "testnet", "mainnet-beta", "custom"}

func newWalletView(u *UI) *walletView {
	v := &walletView{u: u, root: container.NewStack()}
	v.setup = newWalletSetup(v)
	v.address = &widget.Label{TextStyle: fyne.TextStyle{Monospace: true}, Selectable: true, Wrapping: fyne.TextWrapBreak}
	v.qr = &canvas.Image{ScaleMode: canvas.ImageScalePixels, FillMode: canvas.ImageFillContain}
	v.qr.SetMinSize(fyne.NewSize(168, 168))
	v.copy = &widget.Button{Text: "Copy address", Icon: theme.ContentCopyIcon(), OnTapped: v.copyAddress}
	v.balances = container.NewVBox()
	v.rpcURL = &widget.Entry{PlaceHolder: "https://my-rpc.example:8899", Validator: rpcURLValidator}
	v.cluster = &widget.Select{Options: clusters, OnChanged: v.pickCluster}
	v.apply = &widget.Button{Text: "Use", OnTapped: v.applyCluster}
	v.send = newSendForm(v)
	v.pay = newPayPanel(v)
	v.history = container.NewVBox()
	v.earnings = newBarChart("Earnings per day", func(f float64) string { return formatSOL(uint64(f)) })
	v.totals = caption("")

	qrCard := container.NewBorder(nil, nil, container.NewCenter(newPanel(theme.ColorNameInputBackground, v.qr)), nil,
		container.NewVBox(heading("Address"), v.address, container.NewHBox(v.copy), caption("Scan to pay this wallet (Solana Pay).")))
	clusterRow := container.NewBorder(nil, nil, &widget.Label{Text: "Cluster", TextStyle: fyne.TextStyle{Bold: true}}, v.apply, container.NewBorder(nil, nil, v.cluster, nil, v.rpcURL))
	left := container.NewVBox(qrCard, widget.NewSeparator(), heading("Balances"), v.balances, widget.NewSeparator(), clusterRow)
	right := container.NewVBox(heading("Send"), v.send.form, v.send.result, widget.NewSeparator(), v.pay.box)
	top := container.NewGridWithColumns(2, left, right)
	v.ready = container.NewVScroll(container.NewPadded(container.NewVBox(
		top, widget.NewSeparator(),
		container.NewBorder(nil, nil, heading("Earnings"), v.totals), v.earnings,
		heading("History"), v.history)))
	v.root.Add(v.setup.welcome)
	return v
}

func (v *walletView) load() {
	call(v.u, v.u.b.Wallet, func(w WalletInfo) {
		v.info = w
		if !w.Exists {
			if !v.setup.active() {
				v.show(v.setup.welcome)
			}
			return
		}
		if v.setup.active() {
			return // the confirmation step finishes the flow
		}
		v.showReady(w)
	})
}

// show replaces the tab's body.
func (v *walletView) show(o fyne.CanvasObject) {
	v.root.Objects = []fyne.CanvasObject{o}
	v.root.Refresh()
}

func (v *walletView) showReady(w WalletInfo) {
	v.address.SetText(w.Address)
	if img, err := qrImage(solanaPayURI(w.Address)); err == nil {
		v.qr.Image = img
		v.qr.Refresh()
	} else {
		fyne.LogError("wallet", err)
	}
	v.balances.RemoveAll()
	for _, b := range w.Balances {
		amount := &widget.Label{Text: formatAmount(b.Amount, b.Decimals) + " " + b.Symbol, TextStyle: fyne.TextStyle{Bold: true}}
		v.balances.Add(amount)
	}
	v.cluster.OnChanged = nil
	v.cluster.SetSelected(w.Cluster.Name)
	v.cluster.OnChanged = v.pickCluster
	v.rpcURL.SetText(w.Cluster.URL)
	v.pickCluster(w.Cluster.Name)
	v.send.setBalances(w.Balances)
	v.pay.show(w.Payments)
	v.show(v.ready)
	call(v.u, v.u.b.History, v.showHistory)
	call(v.u, func(ctx context.Context) ([]DayEarnings, error) { return v.u.b.Earnings(ctx, earningsDays) }, v.showEarnings)
}

func (v *walletView) copyAddress() {
	v.u.app.Clipboard().SetContent(v.info.Address)
	v.copy.SetText("Copied")
}

// pickCluster makes the RPC URL editable only for a custom cluster.
func (v *walletView) pickCluster(name string) {
	if name == "custom" {
		v.rpcURL.Enable()
	} else {
		v.rpcURL.Disable()
	}
}

func (v *walletView) applyCluster() {
	c := Cluster{Name: v.cluster.Selected}
	if c.Name == "custom" {
		if err := v.rpcURL.Validate(); err != nil {
			v.u.showError("cluster", err)
			return
		}
		c.URL = v.rpcURL.Text
	}
	v.u.do("cluster", func(ctx context.Context) error { return v.u.b.SetCluster(ctx, c) }, nil)
}

func rpcURLValidator(s string) error {
	for _, p := range []string{"http://", "https://"} {
		if len(s) > len(p) && s[:len(p)] == p {
			return nil
		}
	}
	return errors.New("an http(s) URL")
}

func (v *walletView) showHistory(ts []Transfer) {
	v.history.RemoveAll()
	if len(ts) == 0 {
		v.history.Add(caption("No transfers yet."))
	}
	for _, t := range ts {
		sign, what := "+", "from "
		switch t.Kind {
		case TransferOut:
			sign, what = "−", "to "
		case TransferPayout:
			what = "payout from "
		}
		state := ""
		if !t.Confirmed {
			state = " · pending"
		}
		amount := &widget.Label{Text: sign + formatAmount(t.Amount, t.Decimals) + " " + t.Symbol, TextStyle: fyne.TextStyle{Bold: true}}
		v.history.Add(row(4, label(t.Time.Local().Format("2 Jan 15:04")), amount,
			label(what+shortID(t.Counterparty)+state), mono(shortID(t.Signature))))
	}
}

func (v *walletView) showEarnings(days []DayEarnings) {
	labels := make([]string, len(days))
	settled := series{name: "settled", color: colorSettled}
	pending := series{name: "pending", color: colorPending}
	var earned, set, pend uint64
	for i, d := range days {
		labels[i] = d.Day.Format("2")
		settled.values = append(settled.values, float64(d.Settled))
		pending.values = append(pending.values, float64(d.Pending))
		earned, set, pend = earned+d.Earned, set+d.Settled, pend+d.Pending
	}
	v.earnings.Set(labels, settled, pending)
	v.totals.SetText(fmt.Sprintf("%d days: earned %s · settled %s · pending %s", len(days), formatSOL(earned), formatSOL(set), formatSOL(pend)))
}

// balance finds the balance of symbol.
func balanceOf(bs []Balance, symbol string) (Balance, bool) {
	i := slices.IndexFunc(bs, func(b Balance) bool { return b.Symbol == symbol })
	if i < 0 {
		return Balance{}, false
	}
	return bs[i], true
}
