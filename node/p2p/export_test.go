package p2p

import "github.com/libp2p/go-libp2p"

// WithExtraOptions appends raw libp2p options to cfg (test-only hook).
func WithExtraOptions(cfg *Config, opts ...libp2p.Option) {
	cfg.extra = append(cfg.extra, opts...)
}
