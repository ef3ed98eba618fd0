/*
 * layers/rnn_impl.h - one time step of the tanh RNN cell, forward and
 * backward, for n streams (rows of (n, H) arrays).  min-char-rnn's cell:
 *     h = tanh(W_ih x + b + W_hh hprev)
 * with W_ih x + b already in h (the input projection, made beforehand).
 */

/* h (n,H): in, the input projection plus bias; out, the new state. */
static void FN(rnn_step)(REAL *h, const REAL *hprev,
                         const FN(rec_weights) *rw, int n, int H,
                         int one_stream, int backwards)
{
    if (one_stream) { /* tanh fused into the dot products */
        FN(crnn_gemv_rows)(h, hprev, rw->w, (size_t)H, H, H, 1, backwards, 1);
        return;
    }
    FN(rec_forward)(h, hprev, rw, n, H, H, 1, 0, backwards);
    FN(crnn_vtanh)(h, (size_t)n * H);
}

/* da (n,H), row stride lda, = (dh_ext + carry) * (1 - h^2), the gradient of the
 * pre-activation (carry counted if has_carry); then, if want_carry,
 * carry = da W_hh, the gradient into hprev. */
static void FN(rnn_back_step)(REAL *restrict da, REAL *restrict carry,
                              const REAL *restrict dh_ext,
                              const REAL *restrict h, int has_carry,
                              int want_carry, size_t lda,
                              const FN(rec_weights) *rw, int n, int H,
                              int backwards)
{
    for (int s = 0; s < n; s++) {
        const size_t o = (size_t)s * H;
        REAL *d = da + s * lda;
        for (int k = 0; k < H; k++)
            d[k] = (has_carry ? dh_ext[o + k] + carry[o + k] : dh_ext[o + k])
                   * (1 - h[o + k] * h[o + k]);
    }
    if (want_carry)
        FN(rec_backward)(carry, da, lda, rw, n, H, H, 0, backwards);
}
