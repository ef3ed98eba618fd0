/*
 * kernels_impl.h - the kernels, written once for one float type.
 *
 * Included by variants.h once per instruction set, after defining
 *   REAL    the float type (double or float)
 *   SUFFIX  the type's name suffix (_f64 or _f32)
 *   ISA     the instruction set's name suffix (_baseline, _avx2, _avx512)
 * so every function here is static and named name##SUFFIX##ISA; api_impl.h
 * defines the public entry points.  See crnn.h for what each computes.
 *
 * Memory plan: only the recurrent products (Whh h, Whh^T dh) run per time
 * step; everything else (logits, dWhy, dWhh, Why^T dy) is one matrix-matrix
 * product over the whole chunk.  All products go through gemm_nn / gemm_tn
 * (crnn_gemm.h), whose inner loops run along contiguous rows.
 */

#define CRNN_CAT_(a, b, c) a##b##c
#define CRNN_CAT(a, b, c) CRNN_CAT_(a, b, c)
#define FN(name) CRNN_CAT(name, SUFFIX, ISA)

/* Pieces of a training workspace (see crnn_train_workspace). */
typedef struct {
    REAL *hs;     /* (T+1, B, H) time-major: hs[0] = h0, hs[t+1] = h_t     */
    REAL *probs;  /* (T, B, V)   softmax outputs                           */
    REAL *whh_t;  /* (H, H)      Whh transposed                            */
    REAL *why_t;  /* (H, V)      Why transposed                            */
    /* backward only */
    REAL *dy;     /* (T, B, V)   d loss / d logits                         */
    REAL *dhraw;  /* (T, B, H)   d loss / d (pre-tanh activation)          */
    REAL *dhnext; /* (B, H)      gradient flowing into the previous step   */
    REAL *dh0;    /* (B, H)      scratch for train_step                    */
    REAL *seen;   /* (V)         train_step: 1 where a char occurs         */
} FN(workspace);

static FN(workspace) FN(carve)(REAL *work, int B, int T, int H, int V)
{
    const size_t b = (size_t)B, t = (size_t)T, h = (size_t)H, v = (size_t)V;
    FN(workspace) w;
    w.hs = work;
    w.probs = w.hs + (t + 1) * b * h;
    w.whh_t = w.probs + t * b * v;
    w.why_t = w.whh_t + h * h;
    w.dy = w.why_t + h * v; /* end of the forward part */
    w.dhraw = w.dy + t * b * v;
    w.dhnext = w.dhraw + t * b * h;
    w.dh0 = w.dhnext + b * h;
    w.seen = w.dh0 + b * h;
    return w;
}

/* dst (cols, rows) = src (rows, cols) transposed. */
static void FN(transpose)(REAL *restrict dst, const REAL *restrict src,
                          int rows, int cols)
{
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            dst[(size_t)j * rows + i] = src[(size_t)i * cols + j];
}

/* Each of n rows of length len is set to vec. */
static void FN(fill_rows)(REAL *restrict dst, const REAL *restrict vec,
                          size_t n, int len)
{
    for (size_t r = 0; r < n; r++)
        memcpy(dst + r * len, vec, (size_t)len * sizeof(REAL));
}

/* acc (len) += sum of the n rows of src (n, len). */
static void FN(add_row_sums)(REAL *restrict acc, const REAL *restrict src,
                             size_t n, int len)
{
    for (size_t r = 0; r < n; r++)
        for (int j = 0; j < len; j++)
            acc[j] += src[r * len + j];
}

/* Turns the logits row y (V) into probabilities in place and returns
 * -log p[target] computed stably as log(sum exp(y - max)) - (y[target] - max).
 * With target < 0 only the probabilities are computed. */
static double FN(softmax_nll)(REAL *y, int target, int V)
{
    REAL m = y[0];
    for (int j = 1; j < V; j++)
        m = y[j] > m ? y[j] : m;
    const double shifted_target = target >= 0 ? (double)(y[target] - m) : 0.0;
    FN(crnn_vexp_shifted)(y, m, V);
    double s = 0.0;
    for (int j = 0; j < V; j++)
        s += y[j];
    const REAL inv = (REAL)(1.0 / s);
    for (int j = 0; j < V; j++)
        y[j] *= inv;
    return log(s) - shifted_target;
}

/* The recurrence for one time step of B streams:
 * hcur = tanh(WxhT[x] + bh + hprev Whh^T). */
static void FN(recur_step)(REAL *restrict hcur, const REAL *restrict hprev,
                           const REAL *restrict wxh_t, const REAL *restrict bh,
                           const REAL *restrict whh_t, const int32_t *ids,
                           size_t id_stride, int B, int H)
{
    for (int b = 0; b < B; b++) {
        const REAL *col = wxh_t + (size_t)ids[b * id_stride] * H;
        REAL *out = hcur + (size_t)b * H;
        for (int i = 0; i < H; i++)
            out[i] = col[i] + bh[i];
    }
    FN(crnn_gemm_nn)(hcur, hprev, whh_t, B, H, H);
    FN(crnn_vtanh)(hcur, (size_t)B * H);
}

static double FN(crnn_forward)(REAL *work, REAL *h_last, const REAL *params,
                        const int32_t *inputs, const int32_t *targets,
                        const REAL *h0, int B, int T, int H, int V,
                        int n_threads)
{
    (void)n_threads;
    const crnn_layout L = crnn_param_layout(H, V);
    const FN(workspace) w = FN(carve)(work, B, T, H, V);
    const size_t bh_n = (size_t)B * H, rows = (size_t)T * B;

    FN(transpose)(w.whh_t, params + L.whh, H, H);
    FN(transpose)(w.why_t, params + L.why, V, H);
    memcpy(w.hs, h0, bh_n * sizeof(REAL));
    for (int t = 0; t < T; t++)
        FN(recur_step)(w.hs + (t + 1) * bh_n, w.hs + t * bh_n,
                       params + L.wxh_t, params + L.bh, w.whh_t, inputs + t,
                       (size_t)T, B, H);
    memcpy(h_last, w.hs + (size_t)T * bh_n, bh_n * sizeof(REAL));
    if (!targets)
        return 0.0;

    /* Logits for the whole chunk at once, then softmax row by row. */
    FN(fill_rows)(w.probs, params + L.by, rows, V);
    FN(crnn_gemm_nn)(w.probs, w.hs + bh_n, w.why_t, (int)rows, V, H);
    double loss = 0.0;
    for (size_t r = 0; r < rows; r++) {
        const size_t t = r / B, b = r % B;
        loss += FN(softmax_nll)(w.probs + r * V, targets[b * T + t], V);
    }
    return loss / B;
}

/* dy = (probs - onehot(targets)) / B, the gradient of the averaged loss. */
static void FN(output_grad)(REAL *restrict dy, const REAL *restrict probs,
                            const int32_t *targets, int B, int T, int V)
{
    const REAL scale = (REAL)1 / (REAL)B;
    const size_t rows = (size_t)T * B;
    for (size_t r = 0; r < rows; r++) {
        const size_t t = r / B, b = r % B;
        const REAL *p = probs + r * V;
        REAL *d = dy + r * V;
        for (int j = 0; j < V; j++)
            d[j] = p[j];
        d[targets[b * T + t]] -= 1;
        if (B > 1)
            for (int j = 0; j < V; j++)
                d[j] *= scale;
    }
}

static void FN(crnn_backward)(REAL *grads, REAL *dh0, REAL *work,
                       const REAL *params, const int32_t *inputs,
                       const int32_t *targets, int B, int T, int H, int V,
                       int n_threads)
{
    (void)n_threads;
    const crnn_layout L = crnn_param_layout(H, V);
    const FN(workspace) w = FN(carve)(work, B, T, H, V);
    const size_t bh_n = (size_t)B * H, rows = (size_t)T * B;

    /* Output layer, whole chunk: dby, dWhy += dy^T hs, dh = dy Why. */
    FN(output_grad)(w.dy, w.probs, targets, B, T, V);
    FN(add_row_sums)(grads + L.by, w.dy, rows, V);
    FN(crnn_gemm_tn)(grads + L.why, w.dy, w.hs + bh_n, V, H, (int)rows);
    memset(w.dhraw, 0, rows * H * sizeof(REAL));
    FN(crnn_gemm_nn)(w.dhraw, w.dy, params + L.why, (int)rows, H, V);

    /* Back through time: the only sequential part. */
    memset(w.dhnext, 0, bh_n * sizeof(REAL));
    for (int t = T - 1; t >= 0; t--) {
        REAL *d = w.dhraw + t * bh_n;
        const REAL *h = w.hs + (t + 1) * bh_n;
        for (size_t k = 0; k < bh_n; k++)
            d[k] = (d[k] + w.dhnext[k]) * (1 - h[k] * h[k]);
        memset(w.dhnext, 0, bh_n * sizeof(REAL));
        FN(crnn_gemm_nn)(w.dhnext, d, params + L.whh, B, H, H);
    }

    /* Recurrent and input weights, whole chunk. */
    FN(add_row_sums)(grads + L.bh, w.dhraw, rows, H);
    FN(crnn_gemm_tn)(grads + L.whh, w.dhraw, w.hs, H, H, (int)rows);
    for (size_t r = 0; r < rows; r++) {
        const size_t t = r / B, b = r % B;
        REAL *dcol = grads + L.wxh_t + (size_t)inputs[b * T + t] * H;
        const REAL *d = w.dhraw + r * H;
        for (int i = 0; i < H; i++)
            dcol[i] += d[i];
    }
    if (dh0 != w.dhnext)
        memcpy(dh0, w.dhnext, bh_n * sizeof(REAL));
}

static void FN(crnn_clip)(REAL *g, REAL limit, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const REAL x = g[i];
        g[i] = x > limit ? limit : (x < -limit ? -limit : x);
    }
}

static void FN(crnn_adagrad)(REAL *restrict p, REAL *restrict mem,
                      const REAL *restrict g, REAL lr, REAL eps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mem[i] += g[i] * g[i];
        p[i] -= lr * g[i] / (REAL)sqrt(mem[i] + eps);
    }
}

static double FN(crnn_train_step)(REAL *params, REAL *mem, REAL *grads, REAL *work,
                           REAL *h, const int32_t *inputs,
                           const int32_t *targets, REAL lr, REAL clip,
                           REAL eps, int B, int T, int H, int V,
                           int n_threads)
{
    const crnn_layout L = crnn_param_layout(H, V);
    const FN(workspace) w = FN(carve)(work, B, T, H, V);

    memset(grads, 0, L.total * sizeof(REAL));
    const double loss = FN(crnn_forward)(work, h, params, inputs, targets, h,
                                         B, T, H, V, n_threads);
    FN(crnn_backward)(grads, w.dh0, work, params, inputs, targets, B, T, H, V,
                      n_threads);
    FN(crnn_clip)(grads, clip, L.total);

    /* Dense parameters in one pass; WxhT only for characters present. */
    FN(crnn_adagrad)(params + L.whh, mem + L.whh, grads + L.whh, lr, eps,
                     L.total - L.whh);
    memset(w.seen, 0, (size_t)V * sizeof(REAL));
    for (size_t k = 0; k < (size_t)B * T; k++) {
        const size_t row = (size_t)inputs[k] * H;
        if (w.seen[inputs[k]])
            continue;
        w.seen[inputs[k]] = 1;
        FN(crnn_adagrad)(params + row, mem + row, grads + row, lr, eps,
                         (size_t)H);
    }
    return loss;
}

/* Index of the first maximum of y (V). */
static int FN(argmax)(const REAL *y, int V)
{
    int best = 0;
    for (int j = 1; j < V; j++)
        if (y[j] > y[best])
            best = j;
    return best;
}

/* Inverse-CDF draw from softmax(y / temperature) with uniform u. */
static int FN(draw)(REAL *y, double u, double temperature, int V)
{
    REAL m = y[FN(argmax)(y, V)];
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

static void FN(crnn_sample)(int32_t *out, REAL *h, REAL *work, const REAL *params,
                     int32_t x0, const double *uniforms, double temperature,
                     int n, int H, int V)
{
    const crnn_layout L = crnn_param_layout(H, V);
    REAL *whh_t = work, *why_t = whh_t + (size_t)H * H;
    REAL *hnew = why_t + (size_t)H * V, *y = hnew + H;

    FN(transpose)(whh_t, params + L.whh, H, H);
    FN(transpose)(why_t, params + L.why, V, H);
    int32_t x = x0;
    for (int i = 0; i < n; i++) {
        FN(recur_step)(hnew, h, params + L.wxh_t, params + L.bh, whh_t, &x, 0,
                       1, H);
        memcpy(h, hnew, (size_t)H * sizeof(REAL));
        memcpy(y, params + L.by, (size_t)V * sizeof(REAL));
        FN(crnn_gemm_nn)(y, h, why_t, 1, V, H);
        x = temperature == 0.0 ? FN(argmax)(y, V)
                               : FN(draw)(y, uniforms[i], temperature, V);
        out[i] = x;
    }
}

#undef FN
#undef CRNN_CAT
#undef CRNN_CAT_
