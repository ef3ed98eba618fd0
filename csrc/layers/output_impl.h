/*
 * layers/output_impl.h - the output layer over rows of a chunk:
 *     y = W_out h + b_out,  p = softmax(y),  loss_row = -log p[target]
 * Rows of logits are Vp wide; the Vn = V rounded up to whole vectors
 * computed columns hold -inf beyond V (W_out^T is zero there), so they end
 * up 0 in p.  Sampling's draw and the bias gradients' row sums are in
 * ops/pick_impl.h.
 */

/* Logits of rows [lo, hi) (htop (rows, H)) into probs (rows, Vp), then
 * softmax row by row; with targets (time-major row r = t*B + b, id at
 * targets[b*T + t]) the row losses (doubles) into row_loss. */
static void FN(output_forward)(REAL *probs, char *row_loss, const REAL *htop,
                               const REAL *wout_t, const REAL *b_out,
                               const int32_t *targets, size_t lo, size_t hi,
                               int B, int T, int H, int V, int Vp, int Vn)
{
    if (lo >= hi)
        return;
    for (size_t r = lo; r < hi; r++) {
        REAL *row = probs + r * Vp;
        memcpy(row, b_out, (size_t)V * sizeof(REAL));
        for (int j = V; j < Vn; j++)
            row[j] = -(REAL)INFINITY;
    }
    FN(mm)(probs + lo * Vp, (size_t)Vp, htop + lo * H, (size_t)H, wout_t,
           (size_t)Vp, (int)(hi - lo), Vn, H, 1);
    for (size_t r = lo; r < hi; r++) {
        REAL *y = probs + r * Vp;
        if (!targets) {
            REAL m;
            FN(crnn_softmax)(y, Vn, &m);
            continue;
        }
        const int b = (int)(r % B), t = (int)(r / B);
        const double loss = FN(crnn_softmax_nll)(y, targets[(size_t)b * T + t], Vn);
        memcpy(row_loss + r * sizeof loss, &loss, sizeof loss);
    }
}

/* dy rows [lo, hi) = (p - onehot(target)) / B, 0 beyond V. */
static void FN(output_dy)(REAL *dy, const REAL *probs, const int32_t *targets,
                          size_t lo, size_t hi, int B, int T, int Vp, int Vn)
{
    const REAL scale = (REAL)1 / (REAL)B;
    for (size_t r = lo; r < hi; r++) {
        const int b = (int)(r % B), t = (int)(r / B);
        REAL *d = dy + r * Vp;
        memcpy(d, probs + r * Vp, (size_t)Vn * sizeof(REAL));
        d[targets[(size_t)b * T + t]] -= 1;
        if (B > 1)
            for (int j = 0; j < Vn; j++)
                d[j] *= scale;
    }
}
