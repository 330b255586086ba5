package hardware

import (
	"context"
	"path/filepath"
	"sync"
	"time"
)

// IdleSource tells how long the user has been away from keyboard and mouse.
type IdleSource interface {
	UserIdle(ctx context.Context, now time.Time) UserIdle
}

// InputIdle estimates user idleness from the newest access/modify time of the input event
// devices (/dev/input/event* on Linux). Where there are no readable devices, or their
// times never move (not every kernel/file system updates them), it says Known=false rather
// than guess: it trusts the times only after it has seen them change once.
// It is safe for concurrent use.
type InputIdle struct {
	glob     string
	newestOf func(paths []string) (time.Time, bool) // newest input time of readable paths

	mu       sync.Mutex // guards baseline, live
	baseline time.Time  // newest time at the first look
	live     bool       // the times have moved since the first look
}

// UserIdle implements IdleSource.
func (s *InputIdle) UserIdle(_ context.Context, now time.Time) UserIdle {
	paths, err := filepath.Glob(s.glob)
	if err != nil || len(paths) == 0 {
		return UserIdle{}
	}
	newest, ok := s.newestOf(paths)
	if !ok {
		return UserIdle{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.baseline.IsZero():
		s.baseline = newest
	case newest.After(s.baseline):
		s.live = true
	}
	if !s.live {
		return UserIdle{}
	}
	idle := now.Sub(newest)
	if idle < 0 {
		idle = 0
	}
	return UserIdle{Known: true, For: idle}
}

// noIdle is an IdleSource that never knows.
type noIdle struct{}

func (noIdle) UserIdle(context.Context, time.Time) UserIdle { return UserIdle{} }
