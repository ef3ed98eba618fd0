/*
 * net_sample_impl.h - sampling from one stream (part of net_impl.h): every
 * product is a pass of dot products over the rows of the weights in their
 * stored layout (crnn_gemv_rows), walked forwards and backwards on
 * alternate steps; the states are updated in place.
 */

static void FN(crnn_net_sample)(int32_t *out, REAL *state, REAL *work,
                                const REAL *params, int32_t x0,
                                const double *uniforms, double temperature,
                                int n, int cell, int L, int H, int V)
{
    const int GH = crnn_net_gates(cell) * H, S = crnn_net_state_width(cell, H);
    const int lstm = cell == CRNN_CELL_LSTM;
    REAL *pre = work, *hh = pre + GH, *tmp = hh + GH, *y = tmp + H;
    const crnn_net_offsets top = crnn_net_layer_offsets(cell, L, H, V, L);
    int32_t x = x0;
    for (int i = 0; i < n; i++) {
        const int dir = i & 1;
        for (int l = 0; l < L; l++) {
            const crnn_net_offsets o = crnn_net_layer_offsets(cell, L, H, V, l);
            const REAL *b_ih = params + o.b_ih;
            const REAL *b_hh = lstm || cell == CRNN_CELL_GRU ? params + o.b_hh
                                                             : NULL;
            FN(rec_weights) rw;
            rw.w = params + o.w_hh;
            rw.wt = rw.wtp = NULL;
            rw.wp = rw.w;
            rw.packed = 0;
            rw.ldt = 0;
            REAL *h = state + (size_t)l * S;
            if (l == 0) {
                const REAL *row = params + o.w_ih + (size_t)x * GH;
                for (int j = 0; j < GH; j++)
                    pre[j] = row[j] + (lstm ? b_ih[j] + b_hh[j] : b_ih[j]);
            } else {
                for (int j = 0; j < GH; j++)
                    pre[j] = lstm ? b_ih[j] + b_hh[j] : b_ih[j];
                FN(crnn_gemv_rows)(pre, state + (size_t)(l - 1) * S,
                                   params + o.w_ih, (size_t)H, GH, H, 1, dir,
                                   0);
            }
            switch (cell) {
            case CRNN_CELL_LSTM:
                FN(lstm_step)(pre, h, h + H, tmp, h, h + H, &rw, 1, H, 1, dir);
                break;
            case CRNN_CELL_GRU:
                FN(gru_step)(pre, tmp, h, h, hh, b_hh, &rw, 1, H, 1, dir);
                break;
            default:
                FN(rnn_step)(pre, h, &rw, 1, H, 1, dir);
                memcpy(h, pre, (size_t)H * sizeof(REAL));
            }
        }
        memcpy(y, params + top.b_ih, (size_t)V * sizeof(REAL));
        FN(crnn_gemv_rows)(y, state + (size_t)(L - 1) * S, params + top.w_ih,
                           (size_t)H, V, H, 1, dir, 0);
        x = temperature == 0.0 ? FN(crnn_argmax)(y, V)
                               : FN(crnn_draw)(y, uniforms[i], temperature, V);
        out[i] = x;
    }
}
