package verify

import (
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/inference/tensor"
	"github.com/hearth-p2p/hearth/node/route"
	"github.com/hearth-p2p/hearth/node/shard"
)

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

// ErrNotHeld reports layers this node cannot re-run.
var ErrNotHeld = errors.New("layers not held here")

// Executor re-runs layers of a model this node holds, to verify fraud
// reports; ModelExecutor implements it.
type Executor interface {
	// Open opens a fresh session on layers r of the model whose file has
	// content hash modelHash, holding maxCtx positions; ErrNotHeld when this
	// node does not hold them.
	Open(modelHash [32]byte, r route.Range, maxCtx int) (route.Session, error)
}

// ModelExecutor re-runs layers of a model opened on this machine (all of
// them, or a shard file's range), on the CPU.
type ModelExecutor struct {
	Hash  [32]byte // content hash of the model file
	Model *model.Model
	Pool  *tensor.Pool
}

// Holds reports whether the file holds the weights of layers r.
func (e ModelExecutor) Holds(r route.Range) bool {
	m := e.Model
	if r.From < m.HeldFrom || r.To > m.HeldTo || r.From >= r.To {
		return false
	}
	for _, name := range []string{"token_embd.weight", "output_norm.weight"} {
		if _, ok := m.File.Tensor(name); !ok && shard.TensorInRange(name, r.From, r.To, m.NumLayers, m.TiedEmbeddings()) {
			return false
		}
	}
	return true
}

// Open implements Executor.
func (e ModelExecutor) Open(modelHash [32]byte, r route.Range, maxCtx int) (route.Session, error) {
	if modelHash != e.Hash || !e.Holds(r) {
		return nil, fmt.Errorf("%w: layers %v of model %x", ErrNotHeld, r, modelHash[:6])
	}
	return e.OpenLocal(r, maxCtx)
}

// OpenLocal opens layers r: a route.OpenLocalFunc for re-runs and local
// fallbacks.
func (e ModelExecutor) OpenLocal(r route.Range, maxCtx int) (route.Session, error) {
	st, err := e.Model.NewStage(r.From, r.To, e.Pool)
	if err != nil {
		return nil, err
	}
	s, err := st.NewSession(maxCtx)
	if err != nil {
		return nil, err
	}
	return LocalSession{s}, nil
}

// LocalSession is a model session as a route.Session.
type LocalSession struct{ *model.Session }

// Close releases the session.
func (s LocalSession) Close() error { s.Session.Close(); return nil }

// Challengeable is a session that can be asked for weight digests
// (*shard.RemoteStage).
type Challengeable interface {
	Challenge(ctx context.Context, c shard.Challenge) ([][32]byte, error)
}

// ErrCannotChallenge reports that this node holds none of the weights of
// the layers to challenge, or that the provider does not offer challenges
// (its backend cannot read its weights' bytes): the provider is then used
// unproven, its results still spot-checked.
var ErrCannotChallenge = errors.New("no local weights to challenge with")

// ChallengeWeights asks a provider's session on layers r for the digests of
// k random slices of those layers' tensors (at most shard.MaxChallengeSlices)
// and checks them against this node's copy of the model. It returns an
// error wrapping shard.ErrWrongWeights when an answer is wrong, and
// ErrCannotChallenge when there is nothing to challenge with.
func ChallengeWeights(ctx context.Context, s Challengeable, m *model.Model, r route.Range, k int, rnd *rand.Rand) error {
	if o, ok := s.(interface{ CanChallenge() bool }); ok && !o.CanChallenge() {
		return fmt.Errorf("%w: the provider does not offer weight challenges", ErrCannotChallenge)
	}
	var names []string
	for _, t := range m.File.Tensors {
		if t.Size > 0 && shard.TensorInRange(t.Name, r.From, r.To, m.NumLayers, m.TiedEmbeddings()) {
			names = append(names, t.Name)
		}
	}
	if len(names) == 0 {
		return ErrCannotChallenge
	}
	if rnd == nil {
		var seed [16]byte
		crand.Read(seed[:])
		rnd = rand.New(rand.NewChaCha8([32]byte(append(seed[:], seed[:]...))))
	}
	k = min(max(k, 1), shard.MaxChallengeSlices)
	c := shard.Challenge{}
	crand.Read(c.Nonce[:])
	var want [][32]byte
	for range k {
		name := names[rnd.IntN(len(names))]
		_, data, err := m.File.TensorData(name)
		if err != nil {
			return err
		}
		n := min(uint64(len(data)), uint64(256+rnd.IntN(3841)))
		off := rnd.Uint64N(uint64(len(data)) - n + 1)
		c.Slices = append(c.Slices, shard.Slice{Tensor: name, Off: off, Len: n})
		want = append(want, shard.SliceDigest(c.Nonce, data[off:off+n]))
	}
	got, err := s.Challenge(ctx, c)
	if err != nil {
		return fmt.Errorf("weight challenge: %w", err)
	}
	for i := range want {
		if got[i] != want[i] {
			return fmt.Errorf("%w: slice %d of %s", shard.ErrWrongWeights, i, c.Slices[i].Tensor)
		}
	}
	return nil
}
