package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/inference/sample"
	"github.com/hearth-p2p/hearth/inference/tensor"
	"github.com/hearth-p2p/hearth/inference/tokenizer"
)

// LocalModel is a model opened for inference on this machine: its weights
// (memory-mapped), tokenizer and kernel thread pool.
type LocalModel struct {
	Path  string
	Model *model.Model
	Tok   *tokenizer.Tokenizer
	Pool  *tensor.Pool
}

// OpenModel opens the GGUF model at path with a pool of threads workers
// (0 = one per CPU).
func OpenModel(path string, threads int) (*LocalModel, error) {
	m, err := model.Open(path)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.FromGGUF(m.File.Header)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if tok.VocabSize() != m.Vocab {
		m.Close()
		return nil, fmt.Errorf("tokenizer has %d tokens but the model's embeddings have %d", tok.VocabSize(), m.Vocab)
	}
	return &LocalModel{Path: path, Model: m, Tok: tok, Pool: tensor.NewPool(threads)}, nil
}

// Close releases the model.
func (lm *LocalModel) Close() error {
	lm.Pool.Close()
	return lm.Model.Close()
}

// RunRequest is one completion of raw text (no chat template).
type RunRequest struct {
	Prompt    string
	MaxTokens int
	Sampling  sample.Params
	Split     []int // in-process stage boundaries
	Context   int   // KV cache positions; 0 = prompt + MaxTokens
	// Hops, when set, replaces the in-process stages: a pipeline of local
	// and remote stages built by the caller.
	Hops model.Chain
}

// TopLogit is one entry of a step's highest logits.
type TopLogit struct {
	ID    int32
	Logit float32
}

// RunResult is what a completion produced.
type RunResult struct {
	PromptIDs []int32
	IDs       []int32
	Text      string
	Step0Top  []TopLogit
	Stats     model.Stats
}

// ErrPromptTooLong reports a prompt that does not fit the context.
var ErrPromptTooLong = errors.New("prompt does not fit the context window")

// Run tokenizes req.Prompt, generates, and streams text pieces to onText as
// they become valid UTF-8.
func (lm *LocalModel) Run(ctx context.Context, req RunRequest, onText func(string)) (*RunResult, error) {
	if err := req.Sampling.Validate(); err != nil {
		return nil, err
	}
	prompt := lm.Tok.Encode(req.Prompt, true, true)
	if len(prompt) == 0 {
		if lm.Tok.BOS() < 0 {
			return nil, errors.New("empty prompt and the model has no BOS token")
		}
		prompt = []int32{lm.Tok.BOS()}
	}
	nctx := req.Context
	if nctx <= 0 {
		nctx = min(len(prompt)+max(req.MaxTokens, 0), lm.Model.ContextLen)
	}
	if len(prompt) >= nctx+1 || len(prompt) > lm.Model.ContextLen {
		return nil, fmt.Errorf("%w: %d tokens, context %d", ErrPromptTooLong, len(prompt), nctx)
	}
	chain := req.Hops
	if chain == nil {
		stages, err := lm.Model.Split(req.Split, lm.Pool)
		if err != nil {
			return nil, err
		}
		var closeAll func()
		chain, closeAll, err = model.LocalChain(stages, nctx)
		if err != nil {
			return nil, err
		}
		defer closeAll()
	}
	res := &RunResult{PromptIDs: prompt}
	stream := tokenizer.NewStreamDecoder(lm.Tok)
	var text strings.Builder
	emit := func(s string) {
		text.WriteString(s)
		if onText != nil && s != "" {
			onText(s)
		}
	}
	maxNew := min(req.MaxTokens, nctx-len(prompt)+1)
	ids, stats, err := model.Generate(ctx, chain, prompt, sample.New(req.Sampling), model.GenerateOptions{
		MaxTokens: maxNew,
		Stop:      lm.Tok.IsEOG,
		OnToken:   func(id int32) error { emit(stream.Token(id)); return nil },
		OnLogits: func(step int, logits []float32) {
			if step == 0 {
				res.Step0Top = topLogits(logits, 5)
			}
		},
	})
	emit(stream.Flush())
	res.IDs, res.Stats, res.Text = ids, stats, text.String()
	return res, err
}

// topLogits returns the k highest logits, highest first (lower id first on ties).
func topLogits(logits []float32, k int) []TopLogit {
	top := make([]TopLogit, 0, k+1)
	for id, l := range logits {
		if len(top) == k && l <= top[k-1].Logit {
			continue
		}
		i, _ := slices.BinarySearchFunc(top, l, func(e TopLogit, l float32) int {
			if e.Logit >= l {
				return -1
			}
			return 1
		})
		top = slices.Insert(top, i, TopLogit{int32(id), l})
		if len(top) > k {
			top = top[:k]
		}
	}
	return top
}
