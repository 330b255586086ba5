//go:build linux

package hardware

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestInputIdle(t *testing.T) {
	dir := t.TempDir()
	ev0, ev1 := filepath.Join(dir, "event0"), filepath.Join(dir, "event1")
	base := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	touch := func(path string, at time.Time) {
		t.Helper()
		if err := os.WriteFile(path, nil, 0o644); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, at, at); err != nil {
			t.Fatal(err)
		}
	}
	s := newInputIdle(filepath.Join(dir, "event*"))
	ctx := context.Background()

	if got := s.UserIdle(ctx, base); got.Known {
		t.Fatalf("no devices: %+v", got)
	}
	touch(ev0, base)
	touch(ev1, base.Add(-time.Hour))
	// Times that have never moved prove nothing.
	for i := range 3 {
		if got := s.UserIdle(ctx, base.Add(time.Duration(i)*time.Minute)); got.Known {
			t.Fatalf("static times trusted: %+v", got)
		}
	}
	touch(ev1, base.Add(5*time.Minute)) // the user moves the mouse
	now := base.Add(7 * time.Minute)
	if got := s.UserIdle(ctx, now); got != (UserIdle{Known: true, For: 2 * time.Minute}) {
		t.Fatalf("after input: %+v", got)
	}
	// Input stamped after now (clock skew) is "just now", never negative.
	touch(ev0, now.Add(time.Minute))
	if got := s.UserIdle(ctx, now); got != (UserIdle{Known: true, For: 0}) {
		t.Fatalf("future stamp: %+v", got)
	}
	if err := os.Remove(ev0); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(ev1); err != nil {
		t.Fatal(err)
	}
	if got := s.UserIdle(ctx, now); got.Known {
		t.Fatalf("devices gone: %+v", got)
	}
}

func TestInputIdleUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads every file")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "event0")
	if err := os.WriteFile(p, nil, 0o000); err != nil {
		t.Fatal(err)
	}
	s := newInputIdle(filepath.Join(dir, "event*"))
	if got := s.UserIdle(context.Background(), time.Now()); got.Known {
		t.Fatalf("unreadable device trusted: %+v", got)
	}
}

// On this kind of machine (a container, or a desktop where the user may not read input
// devices) the live source must say it does not know rather than claim idleness.
func TestInputIdleLive(t *testing.T) {
	s := NewInputIdle()
	got := s.UserIdle(context.Background(), time.Now())
	if got.Known {
		t.Fatalf("known on the first look, before any change was seen: %+v", got)
	}
}
