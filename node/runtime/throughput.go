package runtime

import (
	"context"
	"time"
)

// measureThroughput times a few single-token steps through the layers
// [from,to) of lm, as a shard provider would run them, and returns tokens
// per second: the figure a provider announces.
func measureThroughput(lm *LocalModel, from, to int) (float64, error) {
	st, err := lm.Model.NewStage(from, to, lm.Pool)
	if err != nil {
		return 0, err
	}
	s, err := st.NewSession(16)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	hidden := make([]float32, lm.Model.Dim)
	for i := range hidden {
		hidden[i] = float32(i%7) * 0.1
	}
	step := func(pos int) error {
		var err error
		if st.IsFirst() {
			_, err = s.Forward(context.Background(), pos, []int32{int32(pos % lm.Model.Vocab)}, nil)
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
