// Package kvcache holds the per-session key/value cache of a stage: for each
// layer of the stage, the rotated keys and the values of every position seen
// so far. A cache grows on demand up to its maximum context.
package kvcache

import (
	"errors"
	"fmt"
)

// ErrFull reports a write past the cache's maximum context.
var ErrFull = errors.New("context window full")

// Cache stores keys and values for Layers layers, each position holding a
// row of Width floats (KV heads × head size) for K and for V.
type Cache struct {
	layers int
	width  int
	maxCtx int
	n      int // positions filled

	k [][]float32 // [layer] (capacity × width)
	v [][]float32 // [layer] (capacity × width)
}

// New returns an empty cache for layers layers of width floats per position,
// holding at most maxCtx positions.
func New(layers, width, maxCtx int) (*Cache, error) {
	if layers <= 0 || width <= 0 || maxCtx <= 0 {
		return nil, fmt.Errorf("kv cache: bad shape layers=%d width=%d ctx=%d", layers, width, maxCtx)
	}
	return &Cache{layers: layers, width: width, maxCtx: maxCtx, k: make([][]float32, layers), v: make([][]float32, layers)}, nil
}

// Len is the number of positions filled.
func (c *Cache) Len() int { return c.n }

// MaxContext is the most positions the cache can hold.
func (c *Cache) MaxContext() int { return c.maxCtx }

// Width is the number of floats per position and layer in K (and in V).
func (c *Cache) Width() int { return c.width }

// Bytes is the memory the cache holds now.
func (c *Cache) Bytes() int64 {
	var n int64
	for l := range c.k {
		n += int64(cap(c.k[l])+cap(c.v[l])) * 4
	}
	return n
}

// Reserve makes room for positions [Len, Len+n) in every layer and reports
// ErrFull if that passes the maximum context. It does not change Len.
func (c *Cache) Reserve(n int) error {
	need := c.n + n
	if need > c.maxCtx {
		return fmt.Errorf("%w: %d positions needed, limit %d", ErrFull, need, c.maxCtx)
	}
	if len(c.k) > 0 && len(c.k[0]) >= need*c.width {
		return nil
	}
	capacity := max(need, min(c.maxCtx, 2*len(c.k[0])/c.width), min(c.maxCtx, 64))
	for l := range c.k {
		c.k[l] = grow(c.k[l], capacity*c.width)
		c.v[l] = grow(c.v[l], capacity*c.width)
	}
	return nil
}

func grow(s []float32, n int) []float32 {
	if len(s) >= n {
		return s
	}
	out := make([]float32, n)
	copy(out, s)
	return out
}

// K returns layer l's keys for positions [0, upto): upto × Width floats,
// writable for positions at or after Len once reserved.
func (c *Cache) K(l, upto int) []float32 { return c.k[l][:upto*c.width] }

// V returns layer l's values for positions [0, upto).
func (c *Cache) V(l, upto int) []float32 { return c.v[l][:upto*c.width] }

// Commit marks n more positions as filled. Callers write them first through
// K and V after Reserve.
func (c *Cache) Commit(n int) {
	if c.n+n > c.maxCtx || len(c.k[0]) < (c.n+n)*c.width {
		panic("kvcache: commit past reserved space")
	}
	c.n += n
}

// Truncate forgets positions at and after n (for regeneration and replay).
func (c *Cache) Truncate(n int) error {
	if n < 0 || n > c.n {
		return fmt.Errorf("kv cache: truncate to %d, have %d positions", n, c.n)
	}
	c.n = n
	return nil
}

// Reset empties the cache and releases its memory.
func (c *Cache) Reset() {
	c.n = 0
	for l := range c.k {
		c.k[l], c.v[l] = nil, nil
	}
}
