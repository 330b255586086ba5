package runtime

import (
	"context"
	"time"

	"github.com/hearth-p2p/hearth/node/shard"
)

// measureThroughput times a few single-token steps through a session from
// open, as a shard provider runs them, and returns tokens per second: the
// figure a provider announces. first says the range takes token ids.
func measureThroughput(open func(maxCtx int) (shard.StageSession, error), first bool, dim, vocab int) (float64, error) {
	s, err := open(16)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	hidden := make([]float32, dim)
	for i := range hidden {
		hidden[i] = float32(i%7) * 0.1
	}
	step := func(pos int) error {
		var err error
		if first {
			_, err = s.Forward(context.Background(), pos, []int32{int32(pos % vocab)}, nil)
		} else {
			_, err = s.Forward(context.Background(), pos, nil, hidden)
		}
		return err
	}
	if err := step(0); err != nil { // warm the caches and page in the weights
		return 0, err
	}
	const steps = 4
	start := time.Now()
	for pos := 1; pos <= steps; pos++ {
		if err := step(pos); err != nil {
			return 0, err
		}
	}
	return steps / max(time.Since(start).Seconds(), 1e-9), nil
}
