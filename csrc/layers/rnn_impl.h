/*
 * layers/rnn_impl.h - one time step of the tanh RNN cell, forward and
 * backward, for n streams (rows of (n, H) arrays).  min-char-rnn's cell:
 *     h = tanh(W_ih x + b + W_hh hprev)
 * with W_ih x + b already in h (the input projection, made beforehand).
 */

/* h (n,H): in, the input projection plus bias; out, the new state. */
static void FN(rnn_step)(REAL *h, const REAL *hprev, const REAL *w_hh,
                         const REAL *whh_t, int n, int H, int one_stream,
                         int backwards)
{
    if (one_stream) { /* tanh fused into the dot products */
        FN(crnn_gemv_rows)(h, hprev, w_hh, (size_t)H, H, H, 1, backwards, 1);
        return;
    }
    FN(rec_product)(h, hprev, w_hh, whh_t, n, H, H, 1, 0, backwards);
    FN(crnn_vtanh)(h, (size_t)n * H);
}

/* da (n,H) = (dh_ext + carry) * (1 - h^2), the gradient of the
 * pre-activation (carry counted if has_carry); then, if want_carry,
 * carry = da W_hh, the gradient into hprev. */
static void FN(rnn_back_step)(REAL *restrict da, REAL *restrict carry,
                              const REAL *restrict dh_ext,
                              const REAL *restrict h, int has_carry,
                              int want_carry, const REAL *w_hh,
                              const REAL *whh_t, int n, int H,
                              int one_stream, int backwards)
{
    const size_t m = (size_t)n * H;
    if (has_carry)
        for (size_t i = 0; i < m; i++)
            da[i] = (dh_ext[i] + carry[i]) * (1 - h[i] * h[i]);
    else
        for (size_t i = 0; i < m; i++)
            da[i] = dh_ext[i] * (1 - h[i] * h[i]);
    if (want_carry)
        FN(rec_product)(carry, da, whh_t, w_hh, n, H, H, 0, one_stream,
                        backwards);
}
