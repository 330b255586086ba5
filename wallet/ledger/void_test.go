package ledger

import (
	"errors"
	"path/filepath"
	"testing"
)

// TestVoidIssued writes off a cheating provider's session: it is no longer
// owed (before or after its receipts are recorded), a payment naming it is
// refused, voiding is idempotent, and all of it survives a reopen.
func TestVoidIssued(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := f.open(path)
	honest, cheat := f.receipt(1, 1, 1000, 100, sol), f.receipt(2, 1, 500, 50, sol)
	if err := l.RecordIssued(honest); err != nil {
		t.Fatal(err)
	}
	if err := l.RecordIssued(cheat); err != nil {
		t.Fatal(err)
	}
	owed, err := l.Owed()
	if err != nil || len(owed) != 1 || owed[0].Amount != 150 {
		t.Fatalf("owed before voiding %+v, %v", owed, err)
	}
	cheatDue := owed[0].Sessions
	if err := l.VoidIssued(cheat.Session, "wrong result"); err != nil {
		t.Fatal(err)
	}
	if err := l.VoidIssued(cheat.Session, "again"); err != nil {
		t.Fatalf("second void: %v", err)
	}
	// A session voided before its receipts are recorded (a pipeline
	// records them when it closes) stays voided when they come.
	early := [16]byte{3}
	if err := l.VoidIssued(early, "caught mid-session"); err != nil {
		t.Fatal(err)
	}
	if err := l.RecordIssued(f.receipt(3, 1, 300, 30, sol)); err != nil {
		t.Fatal(err)
	}
	if err := l.RecordIssued(f.receipt(3, 2, 400, 40, sol)); err != nil {
		t.Fatal(err)
	}
	// More receipts of the voided session after the void are not owed.
	if err := l.RecordIssued(f.receipt(2, 2, 600, 60, sol)); err != nil {
		t.Fatal(err)
	}

	// Crash: reopen.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = f.open(path)
	defer l.Close()
	owed, err = l.Owed()
	if err != nil || len(owed) != 1 || owed[0].Amount != 100 || len(owed[0].Sessions) != 1 || owed[0].Sessions[0].Session != honest.Session {
		t.Fatalf("owed after voiding %+v, %v", owed, err)
	}
	in := Intent{Signature: [64]byte{5}, Provider: f.provider, Mint: sol, Amount: 150, Sessions: cheatDue, Raw: []byte{1}}
	if err := l.RecordIntent(in); !errors.Is(err, ErrVoided) {
		t.Fatalf("payment of a voided session: %v", err)
	}
	if open, _ := l.OpenIntents(); len(open) != 0 {
		t.Fatalf("refused intent recorded: %+v", open)
	}
	v, err := l.Voided()
	if err != nil || len(v) != 2 {
		t.Fatalf("voided %+v, %v", v, err)
	}
	if v[0].Session != cheat.Session || v[0].Reason != "wrong result" || v[0].WrittenOff != 60 || v[0].Provider != f.provider {
		t.Errorf("first voided %+v", v[0])
	}
	if v[1].Session != early || v[1].Reason != "caught mid-session" || v[1].WrittenOff != 40 {
		t.Errorf("second voided %+v", v[1])
	}
}

// TestVoidAfterPartialPayment voids a session part of which was paid: the
// paid part stays paid, the rest is written off, and a payment already in
// flight still resolves.
func TestVoidAfterPartialPayment(t *testing.T) {
	f := newFixture(t)
	l := f.ledger()
	if err := l.RecordIssued(f.receipt(1, 1, 1000, 100, sol)); err != nil {
		t.Fatal(err)
	}
	owed, _ := l.Owed()
	in := Intent{Signature: [64]byte{1}, Provider: f.provider, Mint: sol, Amount: 100, Sessions: owed[0].Sessions, Raw: []byte{1}}
	if err := l.RecordIntent(in); err != nil {
		t.Fatal(err)
	}
	if err := l.RecordIssued(f.receipt(1, 2, 3000, 300, sol)); err != nil {
		t.Fatal(err)
	}
	if err := l.VoidIssued([16]byte{1}, "wrong result"); err != nil {
		t.Fatal(err)
	}
	if err := l.ConfirmIntent(in.Signature); err != nil {
		t.Fatalf("payment in flight: %v", err)
	}
	if owed, err := l.Owed(); err != nil || len(owed) != 0 {
		t.Fatalf("owed %+v, %v", owed, err)
	}
	if v, err := l.Voided(); err != nil || len(v) != 1 || v[0].WrittenOff != 200 {
		t.Fatalf("voided %+v, %v", v, err)
	}
}
