package app

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// walletSetup is the create and import flows. Creating shows the recovery
// phrase once, then asks for three of its words, picked at random, before
// the wallet view opens.
type walletSetup struct {
	v       *walletView
	welcome fyne.CanvasObject
	step    string // "", "create", "phrase", "confirm", "import"

	password, password2 *widget.Entry
	createErr           *widget.Label
	create              *widget.Button

	phrase  []string
	words   *fyne.Container
	written *widget.Button

	confirmIdx []int // 0-based word positions asked for
	confirm    []*widget.Entry
	confirmErr *widget.Label
	done       *widget.Button

	secret     *widget.Entry
	importPass *widget.Entry
	importErr  *widget.Label
	importBtn  *widget.Button
}

const minPassword = 8

func newWalletSetup(v *walletView) *walletSetup {
	s := &walletSetup{v: v}
	createBtn := &widget.Button{Text: "Create a new wallet", Icon: theme.ContentAddIcon(), Importance: widget.HighImportance, OnTapped: s.startCreate}
	importBtn := &widget.Button{Text: "Import a wallet", Icon: theme.LoginIcon(), OnTapped: s.startImport}
	text := &widget.Label{Wrapping: fyne.TextWrapWord, Text: "Hearth pays you in SOL for the model layers your machine serves, and pays " +
		"peers that serve you. The wallet's keys stay on this machine, encrypted with your password."}
	s.welcome = container.NewCenter(container.NewVBox(heading("Set up your wallet"),
		fixed(480, text), container.NewHBox(layout.NewSpacer(), createBtn, importBtn, layout.NewSpacer())))
	s.password = &widget.Entry{Password: true, PlaceHolder: "At least 8 characters"}
	s.password2 = &widget.Entry{Password: true, PlaceHolder: "Type it again"}
	s.createErr = &widget.Label{Importance: widget.DangerImportance}
	s.create = &widget.Button{Text: "Create", Importance: widget.HighImportance, OnTapped: s.submitCreate}
	s.words = container.NewGridWithColumns(3)
	s.written = &widget.Button{Text: "I have written it down", Importance: widget.HighImportance, OnTapped: s.startConfirm}
	s.confirmErr = &widget.Label{Importance: widget.DangerImportance}
	s.done = &widget.Button{Text: "Confirm", Importance: widget.HighImportance, OnTapped: s.submitConfirm}
	s.secret = &widget.Entry{MultiLine: true, Wrapping: fyne.TextWrapWord, PlaceHolder: "12 or 24 words, or a keypair JSON array [12,34,…]"}
	s.secret.SetMinRowsVisible(3)
	s.importPass = &widget.Entry{Password: true, PlaceHolder: "At least 8 characters"}
	s.importErr = &widget.Label{Importance: widget.DangerImportance, Wrapping: fyne.TextWrapWord}
	s.importBtn = &widget.Button{Text: "Import", Importance: widget.HighImportance, OnTapped: s.submitImport}
	return s
}

func (s *walletSetup) active() bool { return s.step != "" }

func (s *walletSetup) page(title, intro string, body ...fyne.CanvasObject) fyne.CanvasObject {
	cancel := &widget.Button{Text: "Cancel", OnTapped: s.cancel}
	objs := []fyne.CanvasObject{heading(title), fixed(520, &widget.Label{Text: intro, Wrapping: fyne.TextWrapWord})}
	objs = append(objs, body...)
	if s.step != "phrase" && s.step != "confirm" { // the wallet exists by then
		objs = append(objs, container.NewHBox(cancel))
	}
	return container.NewCenter(fixed(560, container.NewVBox(objs...)))
}

func (s *walletSetup) cancel() {
	s.step = ""
	s.v.show(s.welcome)
}

func (s *walletSetup) startCreate() {
	s.step = "create"
	s.password.SetText("")
	s.password2.SetText("")
	s.createErr.SetText("")
	s.create.Enable()
	form := &widget.Form{Items: []*widget.FormItem{{Text: "Password", Widget: s.password}, {Text: "Repeat", Widget: s.password2}}}
	s.v.show(s.page("Create a wallet", "Choose a password. It encrypts the wallet's keys on this machine and is needed to send funds.",
		form, s.createErr, container.NewHBox(s.create)))
}

func checkNewPassword(p, p2 string) error {
	switch {
	case len(p) < minPassword:
		return fmt.Errorf("the password needs at least %d characters", minPassword)
	case p != p2:
		return errors.New("the passwords differ")
	}
	return nil
}

func (s *walletSetup) submitCreate() {
	if err := checkNewPassword(s.password.Text, s.password2.Text); err != nil {
		s.createErr.SetText(err.Error())
		return
	}
	s.create.Disable()
	pw := s.password.Text
	callErr(s.v.u, func(ctx context.Context) ([]string, error) { return s.v.u.b.CreateWallet(ctx, pw) },
		s.showPhrase,
		func(err error) {
			s.create.Enable()
			s.createErr.SetText(err.Error())
		})
}

// showPhrase shows the recovery phrase, the one time it is shown.
func (s *walletSetup) showPhrase(words []string) {
	s.step = "phrase"
	s.phrase = words
	s.password.SetText("")
	s.password2.SetText("")
	s.words.RemoveAll()
	for i, w := range words {
		s.words.Add(&widget.Label{Text: fmt.Sprintf("%2d. %s", i+1, w), TextStyle: fyne.TextStyle{Monospace: true}})
	}
	warn := &widget.Label{Text: "Anyone with these words owns your funds. Hearth will not show them again.", Importance: widget.WarningImportance, Wrapping: fyne.TextWrapWord}
	s.v.show(s.page("Your recovery phrase", "Write these words down in order and keep them offline. They restore the wallet on any machine.",
		newPanel(theme.ColorNameInputBackground, s.words), warn, container.NewHBox(s.written)))
}

// startConfirm hides the phrase and asks for three of its words.
func (s *walletSetup) startConfirm() {
	s.step = "confirm"
	s.confirmIdx = rand.Perm(len(s.phrase))[:3]
	slices.Sort(s.confirmIdx)
	s.confirm = s.confirm[:0]
	form := &widget.Form{}
	for _, i := range s.confirmIdx {
		e := &widget.Entry{PlaceHolder: fmt.Sprintf("word %d", i+1)}
		s.confirm = append(s.confirm, e)
		form.Append(fmt.Sprintf("Word #%d", i+1), e)
	}
	s.confirmErr.SetText("")
	s.v.show(s.page("Confirm your recovery phrase", "Type the words at these positions to show you wrote the phrase down.",
		form, s.confirmErr, container.NewHBox(s.done)))
}

func (s *walletSetup) submitConfirm() {
	for k, i := range s.confirmIdx {
		if strings.ToLower(strings.TrimSpace(s.confirm[k].Text)) != s.phrase[i] {
			s.confirmErr.SetText(fmt.Sprintf("Word #%d does not match. Check what you wrote down.", i+1))
			return
		}
	}
	s.phrase = nil // forget it
	s.words.RemoveAll()
	s.step = ""
	s.v.load()
}

func (s *walletSetup) startImport() {
	s.step = "import"
	s.secret.SetText("")
	s.importPass.SetText("")
	s.importErr.SetText("")
	s.importBtn.Enable()
	form := &widget.Form{Items: []*widget.FormItem{{Text: "Phrase or keypair", Widget: s.secret}, {Text: "New password", Widget: s.importPass}}}
	s.v.show(s.page("Import a wallet", "Paste a recovery phrase (Phantom and Solflare phrases work) or a Solana CLI keypair file's content.",
		form, s.importErr, container.NewHBox(s.importBtn)))
}

func (s *walletSetup) submitImport() {
	if strings.TrimSpace(s.secret.Text) == "" {
		s.importErr.SetText("Paste a recovery phrase or a keypair.")
		return
	}
	if len(s.importPass.Text) < minPassword {
		s.importErr.SetText(fmt.Sprintf("The password needs at least %d characters.", minPassword))
		return
	}
	s.importBtn.Disable()
	secret, pw := s.secret.Text, s.importPass.Text
	callErr(s.v.u, func(ctx context.Context) (struct{}, error) { return struct{}{}, s.v.u.b.ImportWallet(ctx, secret, pw) },
		func(struct{}) {
			s.secret.SetText("")
			s.importPass.SetText("")
			s.step = ""
			s.v.load()
		},
		func(err error) {
			s.importBtn.Enable()
			s.importErr.SetText(err.Error())
		})
}
