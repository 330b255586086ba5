package kvcache

import (
	"errors"
	"testing"
)

func TestCacheGrowsAndTruncates(t *testing.T) {
	c, err := New(2, 4, 100)
	if err != nil {
		t.Fatal(err)
	}
	for step := 0; step < 100; step++ {
		if err := c.Reserve(1); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		for l := 0; l < 2; l++ {
			k := c.K(l, c.Len()+1)
			k[c.Len()*4] = float32(step*10 + l)
		}
		c.Commit(1)
	}
	// Growth copied the old rows.
	for step := 0; step < 100; step++ {
		if got := c.K(1, 100)[step*4]; got != float32(step*10+1) {
			t.Fatalf("row %d: %v", step, got)
		}
	}
	if err := c.Reserve(1); !errors.Is(err, ErrFull) {
		t.Fatalf("reserve past max: %v", err)
	}
	if err := c.Truncate(40); err != nil || c.Len() != 40 {
		t.Fatalf("truncate: %v len %d", err, c.Len())
	}
	if err := c.Truncate(41); err == nil {
		t.Fatal("truncate forward accepted")
	}
	if c.Bytes() < 2*2*100*4*4 {
		t.Errorf("bytes %d", c.Bytes())
	}
	c.Reset()
	if c.Len() != 0 || c.Bytes() != 0 {
		t.Errorf("after reset: len %d bytes %d", c.Len(), c.Bytes())
	}
}

func TestBadShape(t *testing.T) {
	if _, err := New(0, 4, 4); err == nil {
		t.Fatal("zero layers accepted")
	}
}
