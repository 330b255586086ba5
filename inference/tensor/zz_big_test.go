package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func BenchmarkSizeMatVec(b *testing.B) {
	p := NewPool(1)
	defer p.Close()
	for _, typ := range []Type{Q8_0} {
		for _, mb := range []int{256} {
			rows := mb << 20 / (2048 / typ.BlockSize() * typ.TypeSize())
			m := benchMatrix(b, typ, rows, 2048)
			x := randVec(rand.New(rand.NewPCG(53, 54)), 2048, 1)
			dst := make([]float32, rows)
			b.Run(fmt.Sprintf("%s/%dMB", typ, mb), func(b *testing.B) {
				b.SetBytes(int64(len(m.Data)))
				for b.Loop() {
					p.MatVec(dst, m, x)
				}
			})
		}
	}
}
