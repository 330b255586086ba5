for (var b = lane; b < p.cols / 256u; b += TPR) {
            var isum: array<i32, T>;
            var msum: array<i32, T>;
            var un: Unit;
            for (var sub = 0u; sub < 8u; sub++) {
                un = load_unit(row_off, 8u * b + sub);
                for (var t = 0u; t < T; t++) {
                    if (t0 + t < n) {
                        let s = unit_sums(un, t0 + t, 8u * b + sub);
                        isum[t] += s.x;
                        msum[t] += s.y;
                    }
                }
            }
            for (var t = 0u; t < T; t++) {
                if (t0 + t < n) {
                    acc[t] += termk(isum[t], msum[t], un.d, un.m, xd(t0 + t, b));
                }
            }
        }
