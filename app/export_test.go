package app

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Handles on the UI's widgets for the tests in package app_test.

func (u *UI) ChatInput() *chatEntry               { return u.chat.input }
func (u *UI) ChatSend() *widget.Button            { return u.chat.send }
func (u *UI) ChatStop() *widget.Button            { return u.chat.stop }
func (u *UI) ChatRegenerate() *widget.Button      { return u.chat.regen }
func (u *UI) ChatBadge() string                   { return u.chat.offload.Text() }
func (u *UI) ChatRate() string                    { return u.chat.rate.Text }
func (u *UI) ChatCurrent() string                 { return u.chat.current }
func (u *UI) ChatTitle() string                   { return u.chat.title.Text }
func (u *UI) ChatConversations() []Conversation   { return u.chat.convs }
func (u *UI) ChatModel() *widget.Select           { return u.chat.model }
func (u *UI) ChatConversationsList() *widget.List { return u.chat.list }
func (u *UI) ChatSettingsSave() error             { return u.chat.settings.save() }
func (u *UI) ChatSettingsFill() {
	c, _ := u.chat.conversation()
	u.chat.settings.fill(c)
}
func (u *UI) ChatSettingsOffload() *widget.RadioGroup { return u.chat.settings.offload }
func (u *UI) ChatSettingsPreset() *widget.Select      { return u.chat.settings.preset }
func (u *UI) ChatSettingsTemperature() *widget.Entry  { return u.chat.settings.temperature }
func (u *UI) ChatSettingsSystem() *widget.Entry       { return u.chat.settings.system }

// ChatMessages returns the text of each message bubble on screen.
func (u *UI) ChatMessages() []string {
	var out []string
	for _, o := range u.chat.messages.Objects {
		p := o.(*panel)
		body := p.content.(*fyne.Container)
		for _, c := range body.Objects {
			if rt, ok := c.(*widget.RichText); ok {
				out = append(out, rt.String())
			}
		}
	}
	return out
}

// ChatStats returns the stats line under each bubble.
func (u *UI) ChatStats() []string {
	var out []string
	for _, o := range u.chat.messages.Objects {
		body := o.(*panel).content.(*fyne.Container)
		for _, c := range body.Objects {
			if l, ok := c.(*widget.Label); ok && l.SizeName == theme.SizeNameCaptionText {
				out = append(out, l.Text)
			}
		}
	}
	return out
}

// CatalogRow exposes one catalog row's controls.
type CatalogRow struct {
	Download, Pause, Cancel *widget.Button
	Progress                *widget.ProgressBar
	Detail, State           *widget.Label
}

func (u *UI) CatalogRow(id string) (CatalogRow, bool) {
	r, ok := u.models.rows[id]
	if !ok {
		return CatalogRow{}, false
	}
	return CatalogRow{r.download, r.pause, r.cancel, r.progress, r.detail, r.state}, true
}

func (u *UI) DiskLabel() string            { return u.models.diskLabel.Text }
func (u *UI) ImportPath(path string)       { u.models.importPath(path) }
func (u *UI) InstalledRows() int           { return len(u.models.installedBox.Objects) - 1 }
func (u *UI) ImportButton() *widget.Button { return u.models.importButton }

// Wallet setup handles.
func (u *UI) WalletBody() fyne.CanvasObject    { return u.wallet.root.Objects[0] }
func (u *UI) WalletWelcome() fyne.CanvasObject { return u.wallet.setup.welcome }
func (u *UI) WalletReady() fyne.CanvasObject   { return u.wallet.ready }
func (u *UI) WalletStep() string               { return u.wallet.setup.step }
func (u *UI) WalletStartCreate()               { u.wallet.setup.startCreate() }
func (u *UI) WalletStartImport()               { u.wallet.setup.startImport() }
func (u *UI) WalletPasswords() (*widget.Entry, *widget.Entry) {
	return u.wallet.setup.password, u.wallet.setup.password2
}
func (u *UI) WalletCreate() *widget.Button          { return u.wallet.setup.create }
func (u *UI) WalletCreateError() string             { return u.wallet.setup.createErr.Text }
func (u *UI) WalletPhraseShown() []string           { return labels(u.wallet.setup.words) }
func (u *UI) WalletWritten() *widget.Button         { return u.wallet.setup.written }
func (u *UI) WalletConfirmIndices() []int           { return u.wallet.setup.confirmIdx }
func (u *UI) WalletConfirmEntries() []*widget.Entry { return u.wallet.setup.confirm }
func (u *UI) WalletConfirm() *widget.Button         { return u.wallet.setup.done }
func (u *UI) WalletConfirmError() string            { return u.wallet.setup.confirmErr.Text }
func (u *UI) WalletImportFields() (*widget.Entry, *widget.Entry) {
	return u.wallet.setup.secret, u.wallet.setup.importPass
}
func (u *UI) WalletImport() *widget.Button  { return u.wallet.setup.importBtn }
func (u *UI) WalletImportError() string     { return u.wallet.setup.importErr.Text }
func (u *UI) WalletAddress() string         { return u.wallet.address.Text }
func (u *UI) WalletQR() fyne.CanvasObject   { return u.wallet.qr }
func (u *UI) WalletBalances() []string      { return labels(u.wallet.balances) }
func (u *UI) WalletHistoryRows() int        { return len(u.wallet.history.Objects) }
func (u *UI) WalletEarningsTotals() string  { return u.wallet.totals.Text }
func (u *UI) WalletCopy() *widget.Button    { return u.wallet.copy }
func (u *UI) WalletCluster() *widget.Select { return u.wallet.cluster }
func (u *UI) WalletRPCURL() *widget.Entry   { return u.wallet.rpcURL }
func (u *UI) WalletApplyCluster()           { u.wallet.applyCluster() }

// SendFields exposes the send form.
type SendFields struct {
	To, Amount, Password *widget.Entry
	Token                *widget.Select
	Form                 *widget.Form
}

func (u *UI) WalletSend() SendFields {
	f := u.wallet.send
	return SendFields{f.to, f.amount, f.password, f.token, f.form}
}
func (u *UI) WalletSubmit()            { u.wallet.send.submit() }
func (u *UI) WalletSendResult() string { return u.wallet.send.result.Text }

// Paying peers handles.
func (u *UI) WalletPayState() string              { return u.wallet.pay.state.Text }
func (u *UI) WalletUnlock() *widget.Button        { return u.wallet.pay.unlock }
func (u *UI) WalletLock() *widget.Button          { return u.wallet.pay.lock }
func (u *UI) WalletUnlockPassword() *widget.Entry { return u.wallet.pay.password }
func (u *UI) WalletUnlockSubmit()                 { u.wallet.pay.submit() }
func (u *UI) WalletOwed() string                  { return u.wallet.pay.owed.Text }
func (u *UI) WalletPayNow() *widget.Button        { return u.wallet.pay.payNow }
func (u *UI) WalletPayResult() string             { return u.wallet.pay.result.Text }

// Settings handles.
func (u *UI) SettingsLending() *widget.Check       { return u.settings.lending }
func (u *UI) SettingsThermal() *widget.Entry       { return u.settings.thermal }
func (u *UI) SettingsRAM() *widget.Entry           { return u.settings.ram }
func (u *UI) SettingsThreads() *widget.Slider      { return u.settings.threads }
func (u *UI) SettingsPrivacy() *widget.RadioGroup  { return u.settings.privacy }
func (u *UI) SettingsTheme() *widget.RadioGroup    { return u.settings.themeMode }
func (u *UI) SettingsSave()                        { u.settings.save() }
func (u *UI) SettingsTrusted() *widget.Entry       { return u.settings.trusted }
func (u *UI) SettingsLendModel() *widget.Select    { return u.settings.lendModel }
func (u *UI) SettingsPrice() *widget.Entry         { return u.settings.price }
func (u *UI) SettingsMaxPay() *widget.Entry        { return u.settings.maxPay }
func (u *UI) SettingsMessage() string              { return u.settings.message.Text }
func (u *UI) SettingsEstimate() string             { return u.settings.estimateTxt.Text }
func (u *UI) SettingsMeasureAgain() *widget.Button { return u.settings.measure }
func (u *UI) SettingsWindowStart(i int) *widget.Entry {
	return u.settings.schedule.rowsList[i].start
}
func (u *UI) SettingsAddWindow() {
	u.settings.schedule.add(Window{Days: dayChoices[1].days, Start: "9:00", End: "17:00"})
}

// Network handles.
func (u *UI) NetworkPeerID() string       { return u.network.peerID.Text }
func (u *UI) NetworkShardRows() int       { return len(u.network.shards.Objects) - 1 }
func (u *UI) NetworkSessionRows() int     { return len(u.network.sessions.Objects) - 1 }
func (u *UI) NetworkLastIn() float64      { return u.network.throughput.Last(0) }
func (u *UI) NetworkLastLatency() float64 { return u.network.latency.Last(0) }
func (u *UI) NetworkSamples() int         { return len(u.network.throughput.series[0].values) }
func (u *UI) NetworkBadge() string        { return u.network.online.Text() }

// Tray and status.
func (u *UI) TrayMenu() *fyne.Menu { return u.tray.menu }
func (u *UI) StatusLine() string   { return u.status.Text }

func labels(c *fyne.Container) []string {
	var out []string
	for _, o := range c.Objects {
		if l, ok := o.(*widget.Label); ok {
			out = append(out, l.Text)
		}
	}
	return out
}

// Internals of format.go for the table tests.
var (
	FormatBytes  = formatBytes
	FormatAmount = formatAmount
	ParseAmount  = parseAmount
	CheckAddress = checkAddress
	Ago          = ago
	QRImage      = qrImage
	CheckClock   = checkClock
)

func (u *UI) SettingsRevert() { u.settings.fill(u.settings.saved) }

// SettingsScrollToBottom scrolls the Settings tab to its end.
func (u *UI) SettingsScrollToBottom() { u.settings.root.(*container.Scroll).ScrollToBottom() }
