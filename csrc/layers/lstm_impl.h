/*
 * layers/lstm_impl.h - one time step of the LSTM cell (PyTorch's nn.LSTM),
 * forward and backward, for n streams.  Gates in rows of g (n, 4H), in the
 * order i, f, g, o:
 *     a = W_ih x + b_ih + b_hh + W_hh hprev        (one product for all gates)
 *     i, f, o = sigmoid(a_i, a_f, a_o),  gg = tanh(a_g)
 *     c = f * cprev + i * gg,  h = o * tanh(c)
 */

/* g (n,4H): in, the input projection plus both biases; out, the gate
 * values i, f, gg, o.  Writes h, c and tc = tanh(c) (n,H).  h may be hprev
 * and c cprev (sampling updates the state in place). */
static void FN(lstm_step)(REAL *g, REAL *h, REAL *c, REAL *tc,
                          const REAL *hprev, const REAL *cprev,
                          const FN(rec_weights) *rw, int n, int H,
                          int one_stream, int backwards)
{
    const size_t G = 4 * (size_t)H;
    FN(rec_forward)(g, hprev, rw, n, 4 * H, H, 1, one_stream, backwards);
    for (int s = 0; s < n; s++) {
        REAL *gs = g + s * G;
        FN(vsigmoid)(gs, 2 * (size_t)H);
        FN(crnn_vtanh)(gs + 2 * H, (size_t)H);
        FN(vsigmoid)(gs + 3 * H, (size_t)H);
        const REAL *cp = cprev + (size_t)s * H;
        REAL *cs = c + (size_t)s * H, *ts = tc + (size_t)s * H;
        for (int k = 0; k < H; k++) {
            const REAL v = gs[H + k] * cp[k] + gs[k] * gs[2 * H + k];
            cs[k] = v;
            ts[k] = v;
        }
        FN(crnn_vtanh)(ts, (size_t)H);
        REAL *hs = h + (size_t)s * H;
        for (int k = 0; k < H; k++)
            hs[k] = gs[3 * H + k] * ts[k];
    }
}

/* The gradient of the step's pre-activations, da (n,4H; row stride lda), from the gradient
 * into h (dh_ext, plus carry_h if has_carry) and into c (carry_c if
 * has_carry); g, tc, cprev as the forward step left them.  Then carry_c =
 * dc * f (into cprev) and, if want_carry, carry_h = da W_hh (into hprev). */
static void FN(lstm_back_step)(REAL *restrict da, REAL *restrict carry_h,
                               REAL *restrict carry_c,
                               const REAL *restrict dh_ext,
                               const REAL *restrict g,
                               const REAL *restrict tc,
                               const REAL *restrict cprev, int has_carry,
                               int want_carry, size_t lda,
                               const FN(rec_weights) *rw, int n, int H,
                               int backwards)
{
    const size_t G = 4 * (size_t)H;
    for (int s = 0; s < n; s++) {
        const REAL *gs = g + s * G;
        const REAL *ig = gs, *fg = gs + H, *gg = gs + 2 * H, *og = gs + 3 * H;
        const REAL *dx = dh_ext + (size_t)s * H, *t = tc + (size_t)s * H;
        const REAL *cp = cprev + (size_t)s * H;
        REAL *ch = carry_h + (size_t)s * H, *cc = carry_c + (size_t)s * H;
        REAL *d = da + s * lda;
        for (int k = 0; k < H; k++) {
            const REAL dh = has_carry ? dx[k] + ch[k] : dx[k];
            const REAL dc = (has_carry ? cc[k] : 0)
                            + dh * og[k] * (1 - t[k] * t[k]);
            d[k] = dc * gg[k] * ig[k] * (1 - ig[k]);
            d[H + k] = dc * cp[k] * fg[k] * (1 - fg[k]);
            d[2 * H + k] = dc * ig[k] * (1 - gg[k] * gg[k]);
            d[3 * H + k] = dh * t[k] * og[k] * (1 - og[k]);
            cc[k] = dc * fg[k];
        }
    }
    if (want_carry)
        FN(rec_backward)(carry_h, da, lda, rw, n, 4 * H, H, 0, backwards);
}
