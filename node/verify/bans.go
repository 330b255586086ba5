package verify

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// Verdicts kept in a BanList.
const (
	// Banned providers returned a wrong result: they are never routed to.
	Banned = "banned"
	// Distrusted peers sent a fraud report that did not hold up: their
	// reports are ignored.
	Distrusted = "distrusted"
)

// Entry is one peer in a BanList.
type Entry struct {
	Peer     string    `json:"peer"`
	Verdict  string    `json:"verdict"` // Banned or Distrusted
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"`
	Evidence string    `json:"evidence,omitempty"` // hex digest of the result statement, if any
}

// BanList is this node's persistent record of providers it banned and
// reporters it distrusts. It is safe for concurrent use.
type BanList struct {
	path string // "" keeps it in memory

	mu      sync.Mutex // guards entries and writes of the file
	entries map[string]Entry
}

type banFile struct {
	Version int     `json:"version"`
	Entries []Entry `json:"entries"`
}

// OpenBanList loads the list at path (created on the first ban), or keeps
// one in memory when path is empty.
func OpenBanList(path string) (*BanList, error) {
	b := &BanList{path: path, entries: map[string]Entry{}}
	if path == "" {
		return b, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return b, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ban list: %w", err)
	}
	var f banFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("ban list %s: %w", path, err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("ban list %s: version %d", path, f.Version)
	}
	for _, e := range f.Entries {
		if e.Peer != "" && (e.Verdict == Banned || e.Verdict == Distrusted) {
			b.entries[key(e.Peer, e.Verdict)] = e
		}
	}
	return b, nil
}

func key(peer, verdict string) string { return verdict + " " + peer }

// Ban bans a provider; evidence is the digest of the wrong result's
// statement (zero when there is none).
func (b *BanList) Ban(peer, reason string, evidence [32]byte) error {
	e := Entry{Peer: peer, Verdict: Banned, Reason: reason, At: time.Now().UTC()}
	if evidence != ([32]byte{}) {
		e.Evidence = hex.EncodeToString(evidence[:])
	}
	return b.put(e)
}

// Distrust stops acting on a peer's fraud reports.
func (b *BanList) Distrust(peer, reason string) error {
	return b.put(Entry{Peer: peer, Verdict: Distrusted, Reason: reason, At: time.Now().UTC()})
}

func (b *BanList) put(e Entry) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := key(e.Peer, e.Verdict)
	if _, ok := b.entries[k]; ok {
		return nil // the first reason stands
	}
	b.entries[k] = e
	return b.saveLocked()
}

// IsBanned reports whether a provider is banned.
func (b *BanList) IsBanned(peer string) bool { return b.has(peer, Banned) }

// IsDistrusted reports whether a peer's reports are ignored.
func (b *BanList) IsDistrusted(peer string) bool { return b.has(peer, Distrusted) }

func (b *BanList) has(peer, verdict string) bool {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.entries[key(peer, verdict)]
	return ok
}

// Lift removes a peer's entries (a user's decision).
func (b *BanList) Lift(peer string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.entries, key(peer, Banned))
	delete(b.entries, key(peer, Distrusted))
	return b.saveLocked()
}

// Entries lists the entries, oldest first.
func (b *BanList) Entries() []Entry {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sortedLocked()
}

func (b *BanList) sortedLocked() []Entry {
	out := make([]Entry, 0, len(b.entries))
	for _, e := range b.entries {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return key(out[i].Peer, out[i].Verdict) < key(out[j].Peer, out[j].Verdict)
	})
	return out
}

// saveLocked writes the list atomically. Caller holds b.mu.
func (b *BanList) saveLocked() error {
	if b.path == "" {
		return nil
	}
	data, err := json.MarshalIndent(banFile{Version: 1, Entries: b.sortedLocked()}, "", "  ")
	if err != nil {
		return fmt.Errorf("ban list: %w", err)
	}
	dir := filepath.Dir(b.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("ban list: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".bans-*")
	if err != nil {
		return fmt.Errorf("ban list: %w", err)
	}
	_, werr := tmp.Write(append(data, '\n'))
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("ban list: %w", err)
	}
	if err := os.Rename(tmp.Name(), b.path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("ban list: %w", err)
	}
	return nil
}
