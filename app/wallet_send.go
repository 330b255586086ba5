package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// sendForm sends SOL or a token. Fields are checked as the user types
// (address format, amount syntax and balance); the backend's answer
// (wrong password, fee not covered) shows under the form.
type sendForm struct {
	v        *walletView
	to       *widget.Entry
	amount   *widget.Entry
	token    *widget.Select
	password *widget.Entry
	form     *widget.Form
	result   *widget.Label
	balances []Balance
}

func newSendForm(v *walletView) *sendForm {
	f := &sendForm{v: v}
	f.to = &widget.Entry{PlaceHolder: "Recipient address", Validator: f.checkTo}
	f.amount = &widget.Entry{PlaceHolder: "0.0", Validator: f.checkAmount}
	f.token = &widget.Select{OnChanged: func(string) {
		if f.amount.Text != "" {
			f.amount.SetValidationError(f.amount.Validate())
		}
	}}
	f.password = &widget.Entry{Password: true, PlaceHolder: "Wallet password", Validator: func(s string) error {
		if s == "" {
			return errors.New("enter your wallet password")
		}
		return nil
	}}
	f.form = &widget.Form{
		Items: []*widget.FormItem{
			{Text: "To", Widget: f.to},
			{Text: "Amount", Widget: f.amount},
			{Text: "Token", Widget: f.token},
			{Text: "Password", Widget: f.password},
		},
		SubmitText: "Send",
		OnSubmit:   f.submit,
	}
	f.result = &widget.Label{Wrapping: fyne.TextWrapWord}
	return f
}

func (f *sendForm) setBalances(bs []Balance) {
	f.balances = bs
	f.token.Options = f.token.Options[:0]
	for _, b := range bs {
		f.token.Options = append(f.token.Options, b.Symbol)
	}
	if f.token.Selected == "" && len(bs) > 0 {
		f.token.SetSelected(bs[0].Symbol)
	}
	f.token.Refresh()
}

func (f *sendForm) checkTo(s string) error {
	if err := checkAddress(s); err != nil {
		return err
	}
	if strings.TrimSpace(s) == f.v.info.Address {
		return errors.New("that is this wallet's own address")
	}
	return nil
}

func (f *sendForm) checkAmount(s string) error {
	b, ok := balanceOf(f.balances, f.token.Selected)
	if !ok {
		return errors.New("pick a token")
	}
	n, err := parseAmount(s, b.Decimals)
	if err != nil {
		return err
	}
	if n > b.Amount {
		return fmt.Errorf("more than your %s %s", formatAmount(b.Amount, b.Decimals), b.Symbol)
	}
	return nil
}

// validate checks every field and reports the first error.
func (f *sendForm) validate() error {
	var first error
	for _, e := range []*widget.Entry{f.to, f.amount, f.password} {
		err := e.Validate()
		e.SetValidationError(err)
		if first == nil && err != nil {
			first = err
		}
	}
	return first
}

func (f *sendForm) submit() {
	if err := f.validate(); err != nil {
		f.result.SetText("Check the form: " + err.Error())
		f.result.Importance = widget.DangerImportance
		f.result.Refresh()
		return
	}
	b, _ := balanceOf(f.balances, f.token.Selected)
	n, _ := parseAmount(f.amount.Text, b.Decimals) // validated
	req := SendRequest{To: strings.TrimSpace(f.to.Text), Symbol: b.Symbol, Amount: n, Password: f.password.Text}
	f.result.SetText("Sending…")
	f.result.Importance = widget.MediumImportance
	f.result.Refresh()
	callErr(f.v.u, func(ctx context.Context) (string, error) { return f.v.u.b.SendFunds(ctx, req) },
		func(sig string) {
			f.result.SetText(fmt.Sprintf("Sent %s %s to %s. Signature %s", formatAmount(n, b.Decimals), b.Symbol, shortID(req.To), sig))
			f.result.Importance = widget.SuccessImportance
			f.result.Refresh()
			f.to.SetText("")
			f.amount.SetText("")
			f.password.SetText("")
		},
		func(err error) {
			msg := err.Error()
			switch {
			case errors.Is(err, ErrWrongPassword):
				msg = "Wrong password."
			case errors.Is(err, ErrInsufficientFunds):
				msg = "Not enough funds to cover the amount and the network fee."
			}
			f.result.SetText("Not sent: " + msg)
			f.result.Importance = widget.DangerImportance
			f.result.Refresh()
		})
}
