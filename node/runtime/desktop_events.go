package runtime

import (
	"context"
	"sync"
)

// DesktopEvent is a change of the desktop runtime's state, for the GUI.
// Exactly one of the concrete types below.
type DesktopEvent interface{ desktopEvent() }

// Desktop events.
type (
	// ConversationsChanged: a conversation was created, renamed, deleted or
	// got a message.
	ConversationsChanged struct{}
	// ModelsChanged: the installed models changed.
	ModelsChanged struct{}
	// DownloadChanged: a download made progress or changed state.
	DownloadChanged struct{ Download Download }
	// NetSampleTaken: a new live traffic and latency sample.
	NetSampleTaken struct{ Sample NetSample }
	// NetworkChanged: the node, its shards, the peers in use or the
	// sessions served changed.
	NetworkChanged struct{}
	// WalletChanged: the wallet, its cluster, balances or earnings changed.
	WalletChanged struct{}
	// PayoutReceived: settlement payments to this wallet were confirmed.
	PayoutReceived struct{ Transfer Transfer }
	// SettingsChanged: the settings were stored.
	SettingsChanged struct{ Settings DesktopSettings }
	// StatusChanged: the one-line status changed.
	StatusChanged struct{ Status DesktopStatus }
)

func (ConversationsChanged) desktopEvent() {}
func (ModelsChanged) desktopEvent()        {}
func (DownloadChanged) desktopEvent()      {}
func (NetSampleTaken) desktopEvent()       {}
func (NetworkChanged) desktopEvent()       {}
func (WalletChanged) desktopEvent()        {}
func (PayoutReceived) desktopEvent()       {}
func (SettingsChanged) desktopEvent()      {}
func (StatusChanged) desktopEvent()        {}

// maxQueuedSamples is how many samples wait for a slow subscriber before
// the oldest are dropped. State changes are never dropped: they are
// coalesced (a later one of the same kind replaces an earlier one that was
// not delivered yet), which bounds the queue.
const maxQueuedSamples = 8

// eventHub fans events out to subscribers without ever blocking the
// publisher.
type eventHub struct {
	mu   sync.Mutex // guards subs
	subs map[*subscriber]struct{}
}

func newEventHub() *eventHub { return &eventHub{subs: map[*subscriber]struct{}{}} }

// subscriber is one Subscribe call: a queue drained into out by its pump.
type subscriber struct {
	out    chan DesktopEvent
	wake   chan struct{} // 1-buffered: the queue has something
	mu     sync.Mutex    // guards queue
	queue  []DesktopEvent
	closed bool
}

// subscribe returns a channel of events that is closed once ctx ends.
func (h *eventHub) subscribe(ctx context.Context) <-chan DesktopEvent {
	s := &subscriber{out: make(chan DesktopEvent), wake: make(chan struct{}, 1)}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	go func() {
		defer close(s.out)
		defer func() {
			h.mu.Lock()
			delete(h.subs, s)
			h.mu.Unlock()
		}()
		for {
			ev, ok := s.next()
			if !ok {
				select {
				case <-ctx.Done():
					return
				case <-s.wake:
					continue
				}
			}
			select {
			case s.out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return s.out
}

// next pops the oldest queued event.
func (s *subscriber) next() (DesktopEvent, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return nil, false
	}
	ev := s.queue[0]
	s.queue[0] = nil
	s.queue = s.queue[1:]
	return ev, true
}

// publish queues ev for every subscriber.
func (h *eventHub) publish(ev DesktopEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		s.push(ev)
	}
}

func (s *subscriber) push(ev DesktopEvent) {
	s.mu.Lock()
	s.queue = enqueue(s.queue, ev)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// enqueue appends ev to q, dropping what ev supersedes: an undelivered
// event of the same kind (the same download for DownloadChanged), or the
// oldest samples beyond maxQueuedSamples. Payouts are never merged.
func enqueue(q []DesktopEvent, ev DesktopEvent) []DesktopEvent {
	switch e := ev.(type) {
	case PayoutReceived:
	case NetSampleTaken:
		n := 0
		for _, x := range q {
			if _, ok := x.(NetSampleTaken); ok {
				n++
			}
		}
		if n >= maxQueuedSamples {
			for i, x := range q {
				if _, ok := x.(NetSampleTaken); ok {
					q = append(q[:i], q[i+1:]...)
					break
				}
			}
		}
	case DownloadChanged:
		q = dropWhere(q, func(x DesktopEvent) bool {
			d, ok := x.(DownloadChanged)
			return ok && d.Download.ID == e.Download.ID
		})
	default:
		q = dropWhere(q, func(x DesktopEvent) bool { return sameKind(x, ev) })
	}
	return append(q, ev)
}

func dropWhere(q []DesktopEvent, drop func(DesktopEvent) bool) []DesktopEvent {
	out := q[:0]
	for _, x := range q {
		if !drop(x) {
			out = append(out, x)
		}
	}
	clear(q[len(out):])
	return out
}

func sameKind(a, b DesktopEvent) bool {
	switch a.(type) {
	case ConversationsChanged:
		_, ok := b.(ConversationsChanged)
		return ok
	case ModelsChanged:
		_, ok := b.(ModelsChanged)
		return ok
	case NetworkChanged:
		_, ok := b.(NetworkChanged)
		return ok
	case WalletChanged:
		_, ok := b.(WalletChanged)
		return ok
	case SettingsChanged:
		_, ok := b.(SettingsChanged)
		return ok
	case StatusChanged:
		_, ok := b.(StatusChanged)
		return ok
	}
	return false
}
