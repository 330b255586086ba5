for (var j = lane; j < p.cols; j += TPR) {
            let wv = deq(row_off, j);
            for (var t = 0u; t < T; t++) {
                if (t0 + t < n) {
                    acc[t] += wv * x[p.x_off + (t0 + t) * p.x_stride + j];
                }
            }
        }
