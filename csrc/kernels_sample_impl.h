/*
 * kernels_sample_impl.h - sampling and tracing one stream of the one-layer
 * tanh network (part of kernels_impl.h, which includes it): the recurrence
 * of recur_step, then the output layer as dot products (sampling) or one
 * matrix product over the trace (tracing).
 */

/* One stream: both products are dot products with the rows of the weights
 * (crnn_gemv_rows), visited forwards and backwards on alternate steps. */
static void FN(crnn_sample)(int32_t *out, REAL *h, REAL *work,
                            const REAL *params, int32_t x0,
                            const double *uniforms, double temperature, int n,
                            int H, int V)
{
    const crnn_layout L = crnn_param_layout(H, V);
    REAL *hnew = work, *y = hnew + H;
    int32_t x = x0;
    for (int i = 0; i < n; i++) {
        FN(recur_step)(hnew, h, params + L.wxh_t, params + L.bh,
                       params + L.whh, NULL, &x, 0, 1, H, 1, i & 1);
        memcpy(h, hnew, (size_t)H * sizeof(REAL));
        memcpy(y, params + L.by, (size_t)V * sizeof(REAL));
        FN(crnn_gemv_rows)(y, h, params + L.why, (size_t)H, V, H, 1, i & 1, 0);
        x = temperature == 0.0 ? FN(crnn_argmax)(y, V)
                               : FN(crnn_draw)(y, uniforms[i], temperature, V);
        out[i] = x;
    }
}

/* Trace of one stream for inspecting a model (crnn.h): the recurrence step
 * by step straight into states, then the logits of all T predictions as one
 * matrix product (row t from the state before inputs[t]: h0, then
 * states[t-1]) and a softmax per row, copied out without the padding. */
static void FN(crnn_trace)(REAL *states, REAL *probs, REAL *work,
                           const REAL *params, const int32_t *inputs,
                           const REAL *h0, int T, int H, int V)
{
    const crnn_layout L = crnn_param_layout(H, V);
    const size_t h = (size_t)H, vp = crnn_padded((size_t)V);
    const int Vn = (V + LANES - 1) / LANES * LANES;
    REAL *why_t = work, *logits = work + h * vp;
    for (int t = 0; t < T; t++) {
        const REAL *before = t ? states + (size_t)(t - 1) * h : h0;
        FN(recur_step)(states + (size_t)t * h, before, params + L.wxh_t,
                       params + L.bh, params + L.whh, NULL, inputs + t, 0, 1,
                       H, 1, t & 1);
    }
    FN(crnn_transpose)(why_t, vp, params + L.why, V, H, 0, H);
    for (int t = 0; t < T; t++) {
        REAL *row = logits + (size_t)t * vp;
        memcpy(row, params + L.by, (size_t)V * sizeof(REAL));
        for (int j = V; j < Vn; j++) /* WhyT is 0 there: stays -inf */
            row[j] = -(REAL)INFINITY;
    }
    FN(gemm_nn)(logits, vp, h0, h, why_t, vp, 1, Vn, H, 1);
    if (T > 1)
        FN(gemm_nn)(logits + vp, vp, states, h, why_t, vp, T - 1, Vn, H, 1);
    for (int t = 0; t < T; t++) {
        REAL m;
        REAL *row = logits + (size_t)t * vp;
        FN(crnn_softmax)(row, Vn, &m);
        memcpy(probs + (size_t)t * V, row, (size_t)V * sizeof(REAL));
    }
}
