/*
 * net_backward_impl.h - BPTT through a stacked network (part of net_impl.h):
 * the output layer over the whole chunk, then each layer from the top:
 * the recurrence backwards in time (one product per step, into the previous
 * step's h), then that layer's weight and bias gradients and the gradient
 * into the layer below as chunk-wide products.
 */

/* One backward step of layer y at time t for streams [b0, b0 + n). */
static void FN(backward_step)(const FN(net) *c, const FN(layer) *y, int t,
                              size_t b0, int n, int want_carry)
{
    const int B = c->B, H = c->H, GH = c->GH;
    const int has = t < c->T - 1, dir = t & 1;
    const size_t r0 = (size_t)t * B + b0;
    const size_t ld = c->GHp;
    REAL *da = c->work + c->plan.da + r0 * ld;
    REAL *carry = c->work + c->plan.carry + b0 * H;
    const REAL *dh_ext = c->work + c->plan.dh_ext + r0 * H;
    switch (c->cell) {
    case CRNN_CELL_LSTM:
        FN(lstm_back_step)(da, carry, carry + (size_t)B * H, dh_ext,
                           y->pre + r0 * GH, y->tc + r0 * H, y->cs + r0 * H,
                           has, want_carry, ld, &y->rw, n, H, dir);
        break;
    case CRNN_CELL_GRU:
        FN(gru_back_step)(da, c->work + c->plan.dhh + r0 * ld, carry, dh_ext,
                          y->pre + r0 * GH, y->hn + r0 * H, y->hs + r0 * H,
                          has, want_carry, ld, &y->rw, n, H, dir);
        break;
    default:
        FN(rnn_back_step)(da, carry, dh_ext, y->hs + (r0 + B) * H, has,
                          want_carry, ld, &y->rw, n, H, dir);
    }
}

/* Back through time, layer l, this thread's streams; then d state0. */
static void FN(back_recur)(FN(net) *c, const FN(layer) *y, int l,
                           REAL *dstate0, int phase, int tid, int nt)
{
    const int B = c->B, H = c->H, S = c->S;
    size_t b0, b1;
    FN(share)((size_t)B, 1, tid, nt, &b0, &b1);
    if (b0 >= b1)
        return;
    for (int t = c->T - 1; t >= 0; t--) {
        if (FN(poll)(&c->stop, phase))
            return;
        FN(backward_step)(c, y, t, b0, (int)(b1 - b0), t > 0 || dstate0);
    }
    if (!dstate0)
        return;
    const REAL *carry = c->work + c->plan.carry;
    for (size_t b = b0; b < b1; b++) {
        REAL *d = dstate0 + ((size_t)l * B + b) * S;
        memcpy(d, carry + b * H, (size_t)H * sizeof(REAL));
        if (c->cell == CRNN_CELL_LSTM)
            memcpy(d + H, carry + ((size_t)B + b) * H,
                   (size_t)H * sizeof(REAL));
    }
}

/* This thread's rows of layer l's inputs to its weight gradients, packed
 * (pack_rows) for the products of layer_grads: the previous states hs[t]
 * and, for l > 0, the layer's input. */
static void FN(pack_inputs)(FN(net) *c, const FN(layer) *y, int l, int tid,
                            int nt)
{
    const size_t rows = (size_t)c->T * c->B;
    const int H = c->H;
    REAL *packed = c->work + c->plan.packed;
    size_t lo, hi;
    FN(share)(rows, 1, tid, nt, &lo, &hi);
    FN(pack_rows)(packed, y->hs, (size_t)H, (int)rows, H, (int)lo, (int)hi);
    if (l > 0)
        FN(pack_rows)(packed + rows * H, y->in, (size_t)H, (int)rows, H,
                      (int)lo, (int)hi);
}

/* Layer l's parameter gradients over the whole chunk (this thread's rows
 * of each weight matrix, columns of each bias), and the gradient into the
 * layer below, dh_ext = (da W_ih) * mask (this thread's rows of the chunk).
 */
static void FN(layer_grads)(FN(net) *c, const FN(layer) *y, int l,
                            REAL *grads, int tid, int nt)
{
    const int B = c->B, T = c->T, H = c->H, GH = c->GH;
    const size_t rows = (size_t)T * B, ld = c->GHp;
    const REAL *da = c->work + c->plan.da;
    const REAL *dhh = c->cell == CRNN_CELL_GRU ? c->work + c->plan.dhh : da;
    size_t lo, hi;

    FN(share)((size_t)GH, 1, tid, nt, &lo, &hi);
    if (lo < hi) {
        /* dW += d^T x with the layer's inputs packed (pack_inputs) */
        const REAL *packed = c->work + c->plan.packed;
        FN(gemm_packed)(grads + y->at.w_hh + lo * H, (size_t)H, dhh + lo, 1,
                        (ptrdiff_t)ld, packed, (int)(hi - lo), H, (int)rows, 1);
        if (l > 0)
            FN(gemm_packed)(grads + y->at.w_ih + lo * H, (size_t)H, da + lo, 1,
                            (ptrdiff_t)ld, packed + rows * H, (int)(hi - lo), H,
                            (int)rows, 1);
    }
    FN(share)((size_t)GH, CRNN_PAD, tid, nt, &lo, &hi);
    if (lo < hi) {
        if (c->cell == CRNN_CELL_RNN) {
            FN(crnn_add_rows)(grads + y->at.b_ih, da, ld, rows, lo, hi);
        } else {
            FN(crnn_add_rows)(grads + y->at.b_ih, da, ld, rows, lo, hi);
            FN(crnn_add_rows)(grads + y->at.b_hh, dhh, ld, rows, lo, hi);
        }
        if (l == 0) /* W_ih^T rows of the characters read, in row order */
            for (size_t r = 0; r < rows; r++) {
                const int t = (int)(r / B), b = (int)(r % B);
                REAL *restrict g =
                    grads + y->at.w_ih
                    + (size_t)c->inputs[(size_t)b * T + t] * GH;
                const REAL *restrict d = da + r * ld;
                for (size_t j = lo; j < hi; j++)
                    g[j] += d[j];
            }
    }
    if (l == 0)
        return;
    REAL *dh_ext = c->work + c->plan.dh_ext;
    FN(share)(rows, 1, tid, nt, &lo, &hi);
    if (lo >= hi)
        return;
    FN(gemm_packed)(dh_ext + lo * H, (size_t)H, da + lo * ld, (ptrdiff_t)ld, 1,
                    y->wih_p, (int)(hi - lo), H, GH, 0);
    if (c->masks) {
        const REAL *m = c->masks + (size_t)(l - 1) * rows * H;
        for (size_t i = lo * H; i < hi * H; i++)
            dh_ext[i] *= m[i];
    }
}

/* Backward, this thread's share.  Returns 1 if cancelled (all threads). */
static int FN(backward_pass)(FN(net) *c, REAL *grads, REAL *dstate0, int tid,
                             int nt)
{
    const int B = c->B, H = c->H, V = c->V, Vp = c->Vp;
    const size_t rows = (size_t)c->T * B;
    const crnn_net_offsets out = crnn_net_layer_offsets(c->cell, c->L, H, V,
                                                        c->L);
    REAL *dy = c->work + c->plan.dy, *dh_ext = c->work + c->plan.dh_ext;
    size_t lo, hi;
    int phase = 0;

    /* dy = (p - onehot) / B, then the top layer's dh_ext = dy W_out */
    FN(share)(rows, 1, tid, nt, &lo, &hi);
    if (lo < hi) {
        FN(output_dy)(dy, c->work + c->plan.probs, c->targets, lo, hi, B,
                      c->T, Vp, c->Vn);
        FN(mm)(dh_ext + lo * H, (size_t)H, dy + lo * Vp, (size_t)Vp,
               c->params + out.w_ih, (size_t)H, (int)(hi - lo), H, V, 0);
    }
    if (FN(end_phase)(&c->stop, &phase, tid, nt))
        return 1;

    /* dW_out += dy^T h_top, db_out: then straight on to the top layer */
    const FN(layer) top = FN(get_layer)(c, c->L - 1);
    FN(share)((size_t)V, 1, tid, nt, &lo, &hi);
    if (lo < hi)
        FN(mm_tn)(grads + out.w_ih + lo * H, (size_t)H, dy + lo, (size_t)Vp,
                  top.hs + (size_t)B * H, (size_t)H, (int)(hi - lo), H,
                  (int)rows, 1);
    FN(share)((size_t)V, CRNN_PAD, tid, nt, &lo, &hi);
    FN(crnn_add_rows)(grads + out.b_ih, dy, (size_t)Vp, rows, lo, hi);

    for (int l = c->L - 1; l >= 0; l--) {
        const FN(layer) y = FN(get_layer)(c, l);
        FN(back_recur)(c, &y, l, dstate0, phase, tid, nt);
        FN(pack_inputs)(c, &y, l, tid, nt);
        if (FN(end_phase)(&c->stop, &phase, tid, nt))
            return 1;
        FN(layer_grads)(c, &y, l, grads, tid, nt);
        if (FN(end_phase)(&c->stop, &phase, tid, nt))
            return 1;
    }
    return 0;
}
