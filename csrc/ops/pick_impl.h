/*
 * ops/pick_impl.h - row operations every network shares, on top of the
 * vector or plain primitives (part of ops_impl.h):
 *   crnn_softmax_nll  a logits row to probabilities, returning -log p[target]
 *   crnn_add_rows     column sums of a block of rows (bias gradients)
 *   crnn_argmax       the first maximum of a row
 *   crnn_draw         sampling's inverse-CDF draw from softmax(y / temperature)
 */

/* Turns the logits row y (Vn: V logits, -inf beyond) into probabilities in
 * place and returns -log p[target] computed stably as
 * log(sum exp(y - max)) - (y[target] - max). */
static double OP(crnn_softmax_nll)(REAL *y, int target, int Vn)
{
    const REAL y_target = y[target];
    REAL m;
    const double log_sum = OP(crnn_softmax)(y, Vn, &m);
    return log_sum - (double)(y_target - m);
}

/* acc[lo..hi) += the sum of the rows of src (rows, ld), row by row (so the
 * sum's order never depends on how [lo, hi) is shared between threads). */
static void OP(crnn_add_rows)(REAL *restrict acc, const REAL *restrict src,
                              size_t ld, size_t rows, size_t lo, size_t hi)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t j = lo; j < hi; j++)
            acc[j] += src[r * ld + j];
}

/* Index of the first maximum of y (V). */
static int OP(crnn_argmax)(const REAL *y, int V)
{
    int best = 0;
    for (int j = 1; j < V; j++)
        if (y[j] > y[best])
            best = j;
    return best;
}

/* An inverse-CDF draw from softmax(y / temperature) with uniform u (y is
 * overwritten): the first j at which the running sum of exp((y - max) / T)
 * passes u times the total. */
static int OP(crnn_draw)(REAL *y, double u, double temperature, int V)
{
    const REAL m = y[OP(crnn_argmax)(y, V)];
    for (int j = 0; j < V; j++)
        y[j] = (REAL)((y[j] - m) / temperature);
    OP(crnn_vexp_shifted)(y, 0, V);
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
