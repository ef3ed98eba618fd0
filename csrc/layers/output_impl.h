/*
 * layers/output_impl.h - the output layer over rows of a chunk, and the
 * drawing rule of sampling:
 *     y = W_out h + b_out,  p = softmax(y),  loss_row = -log p[target]
 * Rows of logits are Vp wide; the Vn = V rounded up to whole vectors
 * computed columns hold -inf beyond V (W_out^T is zero there), so they end
 * up 0 in p.
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
        REAL m;
        if (!targets) {
            FN(crnn_softmax)(y, Vn, &m);
            continue;
        }
        const int b = (int)(r % B), t = (int)(r / B);
        const REAL y_target = y[targets[(size_t)b * T + t]];
        const double loss = FN(crnn_softmax)(y, Vn, &m) - (double)(y_target - m);
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

/* acc[lo..hi) += the sum of the rows of src (rows, ld), row by row. */
static void FN(add_rows)(REAL *restrict acc, const REAL *restrict src,
                         size_t ld, size_t rows, size_t lo, size_t hi)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t j = lo; j < hi; j++)
            acc[j] += src[r * ld + j];
}

/* Index of the first maximum of y (V). */
static int FN(net_argmax)(const REAL *y, int V)
{
    int best = 0;
    for (int j = 1; j < V; j++)
        if (y[j] > y[best])
            best = j;
    return best;
}

/* crnn_sample's rule: an inverse-CDF draw from softmax(y / temperature)
 * with uniform u (y is overwritten). */
static int FN(net_draw)(REAL *y, double u, double temperature, int V)
{
    const REAL m = y[FN(net_argmax)(y, V)];
    for (int j = 0; j < V; j++)
        y[j] = (REAL)((y[j] - m) / temperature);
    FN(crnn_vexp_shifted)(y, 0, V);
    double total = 0.0;
    for (int j = 0; j < V; j++)
        total += y[j];
    const double threshold = u * total;
    double cum = 0.0;
    int last_possible = 0;
    for (int j = 0; j < V; j++) {
        if (y[j] <= 0)
            continue;
        cum += y[j];
        last_possible = j;
        if (cum > threshold)
            return j;
    }
    return last_possible; /* u*total rounded up past the sum */
}
