package shard

import "fmt"

// served returns the entry of a model served now (nil when not served).
func (s *Server) servedModel(model [32]byte) *served {
	s.modelsMu.RLock()
	defer s.modelsMu.RUnlock()
	return s.models[model]
}

// Move serves the layer range of b in place of the range served until now
// of the same model: sessions already open go on with the old range (their
// backend stays theirs until they close); sessions opened from now on, and
// Info, get b's range. b must serve the model already served (same hash,
// layer count and shapes). The measured throughput per layer carries over.
func (s *Server) Move(b Backend) error {
	info := b.Info()
	s.modelsMu.Lock()
	defer s.modelsMu.Unlock()
	old := s.models[info.Hash]
	switch {
	case old == nil:
		return fmt.Errorf("%w: model %x is not served here", ErrInvalidConfig, info.Hash[:4])
	case info.From < 0 || info.From >= info.To || info.To > info.NumLayers:
		return fmt.Errorf("%w: layers [%d,%d) of %d", ErrInvalidConfig, info.From, info.To, info.NumLayers)
	case info.NumLayers != old.info.NumLayers || info.Dim != old.info.Dim || info.Vocab != old.info.Vocab ||
		info.KVDim != old.info.KVDim:
		return fmt.Errorf("%w: backend %q does not serve the same model", ErrInvalidConfig, info.Name)
	}
	_, info.Challenges = b.(TensorSource)
	sv := &served{b: b, info: info}
	old.mu.Lock()
	sv.perLayer = old.perLayer
	old.mu.Unlock()
	s.models[info.Hash] = sv
	for i, o := range s.order {
		if o == old {
			s.order[i] = sv
		}
	}
	s.log.Info("serving another range", "model", info.Name, "from", info.From, "to", info.To,
		"was_from", old.info.From, "was_to", old.info.To)
	return nil
}
