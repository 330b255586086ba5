package runtime

import "sync"

// fanout delivers values to subscribers without blocking the publisher: a
// subscriber that falls behind loses its oldest undelivered values.
type fanout[T any] struct {
	mu   sync.Mutex // guards subs
	subs map[chan T]struct{}
}

func newFanout[T any]() *fanout[T] { return &fanout[T]{subs: map[chan T]struct{}{}} }

func (f *fanout[T]) subscribe(buffer int) (<-chan T, func()) {
	ch := make(chan T, max(1, buffer))
	f.mu.Lock()
	f.subs[ch] = struct{}{}
	f.mu.Unlock()
	return ch, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := f.subs[ch]; ok {
			delete(f.subs, ch)
			close(ch)
		}
	}
}

func (f *fanout[T]) publish(v T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		for {
			select {
			case ch <- v:
			default:
				select { // full: drop the oldest and retry
				case <-ch:
				default:
				}
				continue
			}
			break
		}
	}
}
