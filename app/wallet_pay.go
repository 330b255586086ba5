package app

import (
	"context"
	"errors"
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// payPanel is the Wallet tab's part about paying peers: unlocking the
// wallet lets offloading conversations use peers that charge (up to the
// most set in Settings); Pay now pays what their receipts owe.
type payPanel struct {
	v      *walletView
	box    *fyne.Container
	state  *widget.Label
	unlock *widget.Button
	lock   *widget.Button
	owed   *widget.Label
	payNow *widget.Button
	result *widget.Label

	password *widget.Entry // the unlock dialog's
}

func newPayPanel(v *walletView) *payPanel {
	p := &payPanel{v: v}
	p.state = &widget.Label{Wrapping: fyne.TextWrapWord}
	p.unlock = &widget.Button{Text: "Unlock to pay peers", Icon: theme.LoginIcon(), OnTapped: p.askPassword}
	p.lock = &widget.Button{Text: "Lock", Icon: theme.LogoutIcon(), OnTapped: p.lockPayments}
	p.owed = &widget.Label{TextStyle: fyne.TextStyle{Bold: true}, Wrapping: fyne.TextWrapWord}
	p.payNow = &widget.Button{Text: "Pay now", Icon: theme.ConfirmIcon(), OnTapped: p.pay}
	p.result = &widget.Label{Wrapping: fyne.TextWrapWord}
	p.password = &widget.Entry{Password: true, PlaceHolder: "Wallet password"}
	p.box = container.NewVBox(heading("Paying peers"), p.state, p.owed,
		container.NewHBox(p.unlock, p.lock, p.payNow), p.result)
	return p
}

// show renders the payments' state.
func (p *payPanel) show(ps Payments) {
	if ps.Unlocked {
		p.state.SetText("Unlocked: conversations that offload may pay peers up to the most set in Settings.")
		p.unlock.Hide()
		p.lock.Show()
	} else {
		p.state.SetText("Locked: conversations offload to free peers only.")
		p.lock.Hide()
		p.unlock.Show()
	}
	owed := "Owed to providers: " + formatAmount(ps.Owed, 9) + " SOL"
	switch ps.Providers {
	case 0:
	case 1:
		owed += " (1 provider)"
	default:
		owed += fmt.Sprintf(" (%d providers)", ps.Providers)
	}
	p.owed.SetText(owed)
	if ps.Unlocked && ps.Owed > 0 {
		p.payNow.Enable()
	} else {
		p.payNow.Disable()
	}
}

// askPassword opens the unlock dialog.
func (p *payPanel) askPassword() {
	p.password.SetText("")
	if p.v.u.win == nil {
		return
	}
	dialog.ShowForm("Unlock to pay peers", "Unlock", "Cancel", []*widget.FormItem{{
		Text: "Password", Widget: p.password,
		HintText: "Until you lock it or quit, conversations may pay peers up to the most set in Settings.",
	}}, func(ok bool) {
		if ok {
			p.submit()
		}
	}, p.v.u.win)
	p.v.u.win.Canvas().Focus(p.password)
}

// submit unlocks with the dialog's password.
func (p *payPanel) submit() {
	pw := p.password.Text
	p.password.SetText("")
	p.setResult("Unlocking…", widget.MediumImportance)
	callErr(p.v.u, func(ctx context.Context) (struct{}, error) { return struct{}{}, p.v.u.b.UnlockPayments(ctx, pw) },
		func(struct{}) { p.setResult("", widget.MediumImportance) },
		func(err error) {
			msg := err.Error()
			if errors.Is(err, ErrWrongPassword) {
				msg = "Wrong password."
			}
			p.setResult("Not unlocked: "+msg, widget.DangerImportance)
		})
}

func (p *payPanel) lockPayments() {
	p.v.u.do("lock", func(context.Context) error {
		p.v.u.b.LockPayments()
		return nil
	}, nil)
}

// pay pays what is owed.
func (p *payPanel) pay() {
	p.payNow.Disable()
	p.setResult("Paying…", widget.MediumImportance)
	callErr(p.v.u, p.v.u.b.PayProviders,
		func(sigs []string) {
			switch len(sigs) {
			case 0:
				p.setResult("Nothing was owed.", widget.MediumImportance)
			case 1:
				p.setResult("Paid. Signature "+shortID(sigs[0]), widget.SuccessImportance)
			default:
				p.setResult(fmt.Sprintf("Paid %d providers.", len(sigs)), widget.SuccessImportance)
			}
		},
		func(err error) {
			msg := err.Error()
			if errors.Is(err, ErrInsufficientFunds) {
				msg = "Not enough SOL to cover what is owed and the network fees."
			}
			p.setResult("Not paid: "+msg, widget.DangerImportance)
			p.payNow.Enable()
		})
}

func (p *payPanel) setResult(text string, imp widget.Importance) {
	p.result.Text, p.result.Importance = text, imp
	p.result.Refresh()
}
