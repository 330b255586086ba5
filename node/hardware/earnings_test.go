package hardware

import (
	"math"
	"testing"
)

func TestEstimateEarnings(t *testing.T) {
	tests := []struct {
		name   string
		tps    float64
		layers int
		price  uint64
		hours  float64
		want   uint64
	}{
		// 10 tok/s × 16 layers × 8 h × 3600 s = 4,608,000 units; at 5 lamports / 1000 units.
		{"night shift", 10, 16, 5, 8, 23040},
		{"full day", 1, 1, 1000, 24, 86400},
		{"hours clamp to a day", 1, 1, 1000, 30, 86400},
		{"rounds down", 1, 1, 1, 1, 3},              // 3600 units × 1/1000 = 3.6
		{"fraction of a token", 0.5, 32, 7, 2, 806}, // 115200 units × 7/1000 = 806.4
		{"zero speed", 0, 16, 5, 8, 0},
		{"negative speed", -3, 16, 5, 8, 0},
		{"NaN speed", math.NaN(), 16, 5, 8, 0},
		{"no layers", 10, 0, 5, 8, 0},
		{"negative layers", 10, -2, 5, 8, 0},
		{"free", 10, 16, 0, 8, 0},
		{"no hours", 10, 16, 5, 0, 0},
		{"NaN hours", 10, 16, 5, math.NaN(), 0},
		{"infinite speed saturates", math.Inf(1), 16, 5, 8, math.MaxUint64},
		{"huge saturates", 1e15, 1 << 30, math.MaxUint64, 24, math.MaxUint64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EstimateEarnings(tt.tps, tt.layers, tt.price, tt.hours); got != tt.want {
				t.Fatalf("EstimateEarnings(%v, %d, %d, %v) = %d, want %d", tt.tps, tt.layers, tt.price, tt.hours, got, tt.want)
			}
		})
	}
}
