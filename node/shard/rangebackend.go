package shard

import "fmt"

// RangeBackend serves exactly one layer range through sessions that open
// cannot subdivide, such as a range held on a GPU (whose weights are
// uploaded once for the whole range). Opens of a different range are
// refused.
type RangeBackend struct {
	info ModelInfo
	open func(maxCtx int) (StageSession, error)
}

// NewRangeBackend serves info's range [From,To) with sessions from open.
func NewRangeBackend(info ModelInfo, open func(maxCtx int) (StageSession, error)) (*RangeBackend, error) {
	if info.From < 0 || info.From >= info.To || info.To > info.NumLayers || open == nil {
		return nil, fmt.Errorf("range backend: layers [%d,%d) of %d", info.From, info.To, info.NumLayers)
	}
	return &RangeBackend{info: info, open: open}, nil
}

// Info describes the served model and range.
func (b *RangeBackend) Info() ModelInfo { return b.info }

// OpenSession opens a session on the served range, which must be [from,to).
func (b *RangeBackend) OpenSession(from, to, maxCtx int) (StageSession, error) {
	if from != b.info.From || to != b.info.To {
		return nil, fmt.Errorf("range backend: serves exactly layers [%d,%d), not [%d,%d)", b.info.From, b.info.To, from, to)
	}
	return b.open(maxCtx)
}
