/*
 * layers/gru_impl.h - one time step of the GRU cell (PyTorch's nn.GRU),
 * forward and backward, for n streams.  Gates in rows of g (n, 3H), in the
 * order r, z, n:
 *     hh = W_hh hprev + b_hh                       (one product for all gates)
 *     r = sigmoid(gi_r + hh_r),  z = sigmoid(gi_z + hh_z)
 *     n = tanh(gi_n + r * hh_n),  h = (1 - z) * n + z * hprev
 * with gi = W_ih x + b_ih (the input projection, made beforehand).
 */

/* g (n,3H): in, gi; out, the gate values r, z, n.  Writes hn = hh_n and h
 * (n,H); hh (n,3H) is scratch.  h may be hprev (sampling). */
static void FN(gru_step)(REAL *g, REAL *hn, REAL *h, const REAL *hprev,
                         REAL *hh, const REAL *b_hh,
                         const FN(rec_weights) *rw, int n, int H,
                         int one_stream, int backwards)
{
    const size_t G = 3 * (size_t)H;
    FN(rec_forward)(hh, hprev, rw, n, 3 * H, H, 0, one_stream, backwards);
    for (int s = 0; s < n; s++) {
        REAL *gs = g + s * G;
        const REAL *hs = hh + s * G;
        for (int k = 0; k < 2 * H; k++)
            gs[k] += hs[k] + b_hh[k];
        FN(vsigmoid)(gs, 2 * (size_t)H);
        REAL *hns = hn + (size_t)s * H;
        for (int k = 0; k < H; k++) {
            hns[k] = hs[2 * H + k] + b_hh[2 * H + k];
            gs[2 * H + k] += gs[k] * hns[k];
        }
        FN(crnn_vtanh)(gs + 2 * H, (size_t)H);
        const REAL *hp = hprev + (size_t)s * H;
        REAL *ho = h + (size_t)s * H;
        for (int k = 0; k < H; k++) {
            const REAL z = gs[H + k];
            ho[k] = (1 - z) * gs[2 * H + k] + z * hp[k];
        }
    }
}

/* The gradients of the step's input pre-activations da = d(gi) and of its
 * recurrent ones dhh = d(hh) (n,3H; row stride lda), from the gradient into h (dh_ext,
 * plus carry if has_carry); g, hn as the forward step left them, hprev its
 * input.  Then, if want_carry, carry = dh * z + dhh W_hh (into hprev). */
static void FN(gru_back_step)(REAL *restrict da, REAL *restrict dhh,
                              REAL *restrict carry,
                              const REAL *restrict dh_ext,
                              const REAL *restrict g,
                              const REAL *restrict hn,
                              const REAL *restrict hprev, int has_carry,
                              int want_carry, size_t lda,
                              const FN(rec_weights) *rw, int n, int H,
                              int backwards)
{
    const size_t G = 3 * (size_t)H;
    for (int s = 0; s < n; s++) {
        const REAL *gs = g + s * G;
        const REAL *r = gs, *z = gs + H, *nn = gs + 2 * H;
        const REAL *dx = dh_ext + (size_t)s * H, *hp = hprev + (size_t)s * H;
        const REAL *hns = hn + (size_t)s * H;
        REAL *cy = carry + (size_t)s * H, *d = da + s * lda, *e = dhh + s * lda;
        for (int k = 0; k < H; k++) {
            const REAL dh = has_carry ? dx[k] + cy[k] : dx[k];
            const REAL dan = dh * (1 - z[k]) * (1 - nn[k] * nn[k]);
            const REAL dar = dan * hns[k] * r[k] * (1 - r[k]);
            const REAL daz = dh * (hp[k] - nn[k]) * z[k] * (1 - z[k]);
            d[k] = e[k] = dar;
            d[H + k] = e[H + k] = daz;
            d[2 * H + k] = dan;
            e[2 * H + k] = dan * r[k];
            cy[k] = dh * z[k];
        }
    }
    if (want_carry)
        FN(rec_backward)(carry, dhh, lda, rw, n, 3 * H, H, 1, backwards);
}
