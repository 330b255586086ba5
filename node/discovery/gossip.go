package discovery

import (
	"context"
	"errors"
	"fmt"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	drouting "github.com/libp2p/go-libp2p/p2p/discovery/routing"
)

// TopicPrefix starts every announcement topic; the model hash (hex) ends it.
const TopicPrefix = "/hearth/shards/"

// Topic returns the GossipSub topic carrying a model's announcements.
func Topic(model ModelHash) string { return TopicPrefix + model.String() }

// MaxPubSubMessage is the largest message on the GossipSub router, which
// other services share (PubSub): a fraud report with its evidence takes up
// to about 800 KiB; announcements are limited to MaxWireSize by their
// topics' validators.
const MaxPubSubMessage = 1 << 20

// ErrNoPubSub is returned by PubSub when GossipSub is switched off.
var ErrNoPubSub = errors.New("gossipsub disabled")

// PubSub returns the GossipSub router of the running service, for other
// services of the host to share (one router per host: a second one would
// not see the first's peers). It waits until Serve has started it; the
// router stops when that Serve returns, and a later Serve starts another.
func (s *Service) PubSub(ctx context.Context) (*pubsub.PubSub, error) {
	if !s.cfg.EnablePubSub {
		return nil, ErrNoPubSub
	}
	for {
		s.mu.Lock()
		run, started := s.run, s.started
		s.mu.Unlock()
		if run != nil {
			return run.ps, nil
		}
		select {
		case <-started:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// topicSub is one joined topic with its subscription reader.
type topicSub struct {
	topic  *pubsub.Topic
	sub    *pubsub.Subscription
	cancel context.CancelFunc
}

// newPubSub starts GossipSub. With a DHT, topic peers are also found
// through it (rendezvous on the topic name), not only among connected
// peers.
func newPubSub(ctx context.Context, h host.Host, d *dht.IpfsDHT) (*pubsub.PubSub, error) {
	opts := []pubsub.Option{
		pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
		pubsub.WithMaxMessageSize(MaxPubSubMessage),
	}
	if d != nil {
		opts = append(opts, pubsub.WithDiscovery(drouting.NewRoutingDiscovery(d)))
	}
	ps, err := pubsub.NewGossipSub(ctx, h, opts...)
	if err != nil {
		return nil, fmt.Errorf("start gossipsub: %w", err)
	}
	return ps, nil
}

// joinLocked joins a model's topic if not joined yet. Caller holds s.mu.
func (s *Service) joinLocked(run *running, model ModelHash) {
	if run.ps == nil || run.topics[model] != nil {
		return
	}
	name := Topic(model)
	if err := run.ps.RegisterTopicValidator(name, s.validator(model)); err != nil {
		s.log.Error("register topic validator", "topic", name, "err", err)
		return
	}
	t, err := run.ps.Join(name)
	if err != nil {
		s.log.Error("join topic", "topic", name, "err", err)
		_ = run.ps.UnregisterTopicValidator(name)
		return
	}
	sub, err := t.Subscribe()
	if err != nil {
		s.log.Error("subscribe topic", "topic", name, "err", err)
		_ = t.Close()
		_ = run.ps.UnregisterTopicValidator(name)
		return
	}
	ctx, cancel := context.WithCancel(run.ctx)
	ts := &topicSub{topic: t, sub: sub, cancel: cancel}
	run.topics[model] = ts
	run.goAsync(func() { s.readTopic(ctx, sub) })
}

// leaveLocked leaves a model's topic. Caller holds s.mu.
func (s *Service) leaveLocked(run *running, model ModelHash) {
	ts := run.topics[model]
	if ts == nil {
		return
	}
	delete(run.topics, model)
	ts.cancel()
	ts.sub.Cancel()
	if err := ts.topic.Close(); err != nil {
		s.log.Debug("close topic", "model", model, "err", err)
	}
	_ = run.ps.UnregisterTopicValidator(Topic(model))
}

func (s *Service) leaveAll(run *running) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for m := range run.topics {
		s.leaveLocked(run, m)
	}
}

// publish sends signed bytes on a model's topic (no-op without pubsub).
func (s *Service) publish(ctx context.Context, run *running, model ModelHash, raw []byte) error {
	if run.ps == nil {
		return nil
	}
	s.mu.Lock()
	ts := run.topics[model]
	s.mu.Unlock()
	if ts == nil {
		return fmt.Errorf("publish %s: topic not joined", model)
	}
	if err := ts.topic.Publish(ctx, raw); err != nil {
		return fmt.Errorf("publish %s: %w", model, err)
	}
	return nil
}

// validator accepts a message only if it is a valid announcement for this
// topic's model published by the announcing peer itself. Expired or
// already-known announcements are ignored (not propagated, not penalised).
func (s *Service) validator(model ModelHash) pubsub.ValidatorEx {
	return func(_ context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
		a, err := DecodeAnnouncement(m.Data, s.now())
		switch {
		case errors.Is(err, ErrExpired):
			return pubsub.ValidationIgnore
		case err != nil:
			s.log.Debug("rejected announcement", "from", from, "err", err)
			return pubsub.ValidationReject
		case a.ModelHash != model || a.PeerID != m.GetFrom():
			s.log.Debug("rejected announcement", "from", from, "author", m.GetFrom(), "peer", a.PeerID, "model", a.ModelHash)
			return pubsub.ValidationReject
		case !m.Local && !s.reg.Newer(a.PeerID, model, a.Seq):
			return pubsub.ValidationIgnore
		}
		m.ValidatorData = a
		return pubsub.ValidationAccept
	}
}

// readTopic stores announcements from other peers in the registry.
func (s *Service) readTopic(ctx context.Context, sub *pubsub.Subscription) {
	for {
		m, err := sub.Next(ctx)
		if err != nil {
			return
		}
		a, ok := m.ValidatorData.(Announcement)
		if !ok || m.Local || s.isSelf(a.PeerID) {
			continue
		}
		if err := s.reg.Put(a); err != nil && !errors.Is(err, ErrStale) {
			s.log.Debug("registry rejected announcement", "peer", a.PeerID, "err", err)
			continue
		}
		s.log.Debug("announcement received", "peer", a.PeerID, "model", a.ModelHash,
			"from", a.From, "to", a.To, "withdrawn", a.Withdrawn, "seq", a.Seq)
	}
}
