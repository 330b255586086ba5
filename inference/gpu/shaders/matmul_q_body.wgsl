for (var u = lane; u < p.cols / 32u; u += TPR) {
            let un = load_unit(row_off, u);
            for (var t = 0u; t < T; t++) {
                if (t0 + t < n) {
                    acc[t] += unit_dot(un, t0 + t, u);
                }
            }
        }
