package shard

import (
	"context"
	"errors"
	"testing"

	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
)

// TestMoveServesAnotherRange moves a server from layers [0,2) to [2,5) of
// stories260K while a session runs on [0,2): that session goes on, new
// sessions get only [2,5), Info says so, and a backend of another model is
// refused.
func TestMoveServesAnotherRange(t *testing.T) {
	tm := openTestModel(t, "stories260K.gguf")
	srv := startServer(t, Default(), nil, tm.backend(t, 0, 2))
	c := dial(t, p2ptest.NewHost(t, nil), srv)
	ctx := context.Background()
	old := openStage(t, c, SessionConfig{Model: tm.hash, From: 0, To: 2, MaxContext: 8, DType: F32})
	if _, err := old.Forward(ctx, 0, []int32{1}, nil); err != nil {
		t.Fatal(err)
	}

	if err := srv.s.Move(tm.backend(t, 2, 5)); err != nil {
		t.Fatal(err)
	}
	if mi := srv.s.Info().Models; len(mi) != 1 || mi[0].From != 2 || mi[0].To != 5 {
		t.Fatalf("info after the move %+v", mi)
	}
	want := tm.localStage(t, 0, 2, 8)
	ref, err := want.Forward(ctx, 0, []int32{1, 403}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := old.Forward(ctx, 1, []int32{403}, nil)
	if err != nil {
		t.Fatalf("the session on the old range: %v", err)
	}
	dim := tm.m.Dim
	for i := range dim {
		if got[i] != ref[dim+i] {
			t.Fatalf("old session's value %d: %v, want %v", i, got[i], ref[dim+i])
		}
	}
	if _, err := c.OpenSession(ctx, SessionConfig{Model: tm.hash, From: 0, To: 2, MaxContext: 8, DType: F32}); err == nil {
		t.Fatal("a new session opened on the old range")
	}
	moved := openStage(t, c, SessionConfig{Model: tm.hash, From: 2, To: 5, MaxContext: 8, DType: F32})
	if _, err := moved.Forward(ctx, 0, nil, ref[:dim]); err != nil {
		t.Fatalf("a session on the new range: %v", err)
	}

	other := openTestModel(t, "stories260K.gguf")
	other.hash[0] ^= 1
	if err := srv.s.Move(other.backend(t, 0, 5)); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("moving to a model not served: %v", err)
	}
}
