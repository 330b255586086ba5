package runtime

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/node/discovery"
	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
)

func TestParseServeLayers(t *testing.T) {
	tests := []struct {
		in       string
		from, to int
		capacity int
		ok       bool
	}{
		{"2:5", 2, 5, 0, true},
		{"auto", 0, 0, 1 << 30, true},
		{"auto:3", 0, 0, 3, true},
		{" auto:1 ", 0, 0, 1, true},
		{"auto:0", 0, 0, 0, false},
		{"auto3", 0, 0, 0, false},
		{"auto:x", 0, 0, 0, false},
		{"5:2", 0, 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			var s ServeSpec
			err := ParseServeLayers(tc.in, &s)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v", err)
			}
			if tc.ok && (s.From != tc.from || s.To != tc.to || s.Capacity != tc.capacity) {
				t.Fatalf("spec %+v", s)
			}
		})
	}
}

// TestNodeMovesToScarceLayers starts a node placing 2 layers of
// stories260K alone: it takes [0,2). A client opens a pipeline through it.
// Then a second node serves [0,3): layers 0–2 have two providers, 3–4 none,
// and the first node moves to [3,5) and announces it. The session opened
// before the move still gives the reference greedy ids on the old range,
// and a new pipeline through the moved range does too.
func TestNodeMovesToScarceLayers(t *testing.T) {
	path := sharedModel(t, "stories260K.gguf")
	cfg := testNodeConfig(t, ServeSpec{Model: path, Capacity: 2})
	cfg.Placement = PlacementConfig{Listen: 200 * time.Millisecond, Interval: 300 * time.Millisecond, Hysteresis: 0.2}
	mover := startNode(t, cfg)
	hash := mover.ServedModels()[0].Hash
	if sm := mover.ServedModels()[0]; sm.From != 0 || sm.To != 2 {
		t.Fatalf("placed alone at [%d,%d)", sm.From, sm.To)
	}
	if a, ok := mover.Discovery().Own(hash); !ok || a.From != 0 || a.To != 2 {
		t.Fatalf("announcement %+v", a)
	}
	lm := openLocal(t, "stories260K.gguf")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	before, err := BuildPipeline(ctx, p2ptest.NewHost(t, nil), lm, []LayerRange{{From: 2, To: 5}},
		PipelineOptions{Peers: []string{mover.ListenAddr().String()}, MaxContext: 64, CheckRate: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()

	events, stop := mover.Subscribe()
	defer stop()
	other := startNode(t, testNodeConfig(t, ServeSpec{Model: path, From: 0, To: 3}))
	p2ptest.Connect(t, mover.Host(), other.Host())
	deadline := time.After(30 * time.Second)
	for moved := false; !moved; {
		select {
		case e := <-events:
			moved = e.Note != ""
		case <-deadline:
			t.Fatalf("no move; coverage seen %v", mover.Discovery().Registry().Coverage(discovery.ModelHash(hash), 5))
		}
	}
	if sm := mover.ServedModels()[0]; sm.From != 3 || sm.To != 5 {
		t.Fatalf("moved to [%d,%d)", sm.From, sm.To)
	}
	if a, ok := mover.Discovery().Own(hash); !ok || a.From != 3 || a.To != 5 || a.Withdrawn {
		t.Fatalf("announcement after the move %+v", a)
	}
	if mi := mover.Server().Info().Models[0]; mi.From != 3 || mi.To != 5 {
		t.Fatalf("server info after the move %+v", mi)
	}

	ids, _, err := model.Generate(ctx, before.Chain, []int32{1}, greedySampler{}, model.GenerateOptions{MaxTokens: 40})
	if err != nil || fmt.Sprint(ids) != storiesGreedy40 {
		t.Fatalf("session opened before the move: %v %v", ids, err)
	}
	after, err := BuildPipeline(ctx, p2ptest.NewHost(t, nil), lm, []LayerRange{{From: 0, To: 3}},
		PipelineOptions{Peers: []string{mover.ListenAddr().String()}, MaxContext: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	ids, _, err = model.Generate(ctx, after.Chain, []int32{1}, greedySampler{}, model.GenerateOptions{MaxTokens: 40})
	if err != nil || fmt.Sprint(ids) != storiesGreedy40 {
		t.Fatalf("pipeline through the moved range: %v %v", ids, err)
	}
	// Settled: the swarm now has every layer; the mover stays.
	time.Sleep(time.Second)
	if sm := mover.ServedModels()[0]; sm.From != 3 || sm.To != 5 {
		t.Fatalf("moved again to [%d,%d)", sm.From, sm.To)
	}
}
