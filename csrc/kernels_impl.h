/*
 * kernels_impl.h - the kernels of the one-layer tanh network (min-char-rnn's),
 * written once for one float type: forward and backward here, the fused
 * clip + Adagrad step in kernels_train_impl.h, sampling and tracing in
 * kernels_sample_impl.h (both included below).
 *
 * Included by isa_variants.h once per instruction set, after defining
 *   REAL    the float type (double or float)
 *   SUFFIX  the type's name suffix (_f64 or _f32)
 *   ISA     the instruction set's name suffix (_baseline, _avx2, _avx512)
 * so every function here is static and named name##SUFFIX##ISA; api_impl.h
 * defines the public entry points.  See crnn.h for what each computes.
 *
 * Memory plan: only the recurrent products (Whh h, Whh^T dh) run per time
 * step; everything else (logits, dWhy, dWhh, Why^T dy) is one matrix-matrix
 * product over the whole chunk, through the register-tiled crnn_gemm
 * (ops_impl.h).  One stream (B = 1) reads Whh row by row as dot products
 * (crnn_gemv_rows), so no transposed copy of it is made or cached.  The
 * recurrences alternate the direction in which they walk the weight matrix
 * from one step to the next, so each step starts on what is still in L1.
 * train_step clips and updates Whh and Why while their gradient is made
 * (row block by row block), and skips the WxhT rows of absent characters.
 *
 * Threads: forward, backward and train_step run as one parallel region in
 * which every thread executes the same pass functions on its share of the
 * work, with a barrier wherever a pass needs another thread's results.  The
 * recurrences are shared out by streams (no barrier per time step); the
 * chunk-wide products by rows or columns of their output.  Each output
 * element is computed by one thread, in the same order whatever the number
 * of threads (never a sum split between threads), so results do not depend
 * on n_threads.  The loss is summed from per-row losses after the region,
 * in row order.
 */

#define CRNN_CAT_(a, b, c) a##b##c
#define CRNN_CAT(a, b, c) CRNN_CAT_(a, b, c)
#define FN(name) CRNN_CAT(name, SUFFIX, ISA)
#define LANES (CRNN_VECTOR_BYTES / (int)sizeof(REAL))

#if REAL_IS_DOUBLE
#define REAL_SQRT sqrt
#else
#define REAL_SQRT sqrtf
#endif

/* The products, in terms of the strided crnn_gemm (ops_impl.h):
 * C (M,N) = beta*C + A B with A (M,K); C = beta*C + A^T B with A (K,M); and
 * A B with k walked backwards, for the recurrences: alternating the
 * direction from one time step to the next starts each step on the rows of
 * the weight matrix the previous one read last, still in L1 (about a fifth
 * less traffic from L2 when the matrix does not fit L1). */
CRNN_ALWAYS_INLINE void FN(gemm_nn)(REAL *C, size_t ldc, const REAL *A,
                                    size_t lda, const REAL *Bm, size_t ldb,
                                    int M, int N, int K, int beta)
{
    FN(crnn_gemm)(C, ldc, A, (ptrdiff_t)lda, 1, Bm, (ptrdiff_t)ldb, M, N, K,
                  beta);
}

CRNN_ALWAYS_INLINE void FN(gemm_tn)(REAL *C, size_t ldc, const REAL *A,
                                    size_t lda, const REAL *Bm, size_t ldb,
                                    int M, int N, int K, int beta)
{
    FN(crnn_gemm)(C, ldc, A, 1, (ptrdiff_t)lda, Bm, (ptrdiff_t)ldb, M, N, K,
                  beta);
}

CRNN_ALWAYS_INLINE void FN(gemm_nn_dir)(REAL *C, size_t ldc, const REAL *A,
                                        size_t lda, const REAL *Bm, size_t ldb,
                                        int M, int N, int K, int beta,
                                        int backwards)
{
    if (!backwards || K == 0)
        FN(gemm_nn)(C, ldc, A, lda, Bm, ldb, M, N, K, beta);
    else
        FN(crnn_gemm)(C, ldc, A + (K - 1), (ptrdiff_t)lda, -1,
                      Bm + (size_t)(K - 1) * ldb, -(ptrdiff_t)ldb, M, N, K,
                      beta);
}

/* Pieces of a training workspace (sizes: layout.c, same order). */
typedef struct {
    REAL *hs;       /* (T+1, B, H) time-major: hs[0] = h0, hs[t+1] = h_t   */
    REAL *probs;    /* (T, B, Vp)  softmax outputs                         */
    REAL *whh_t;    /* (H, H)      Whh transposed                          */
    REAL *why_t;    /* (H, Vp)     Why transposed, zero beyond column V    */
    REAL *row_loss; /* T*B doubles: the loss of each row of probs          */
    /* backward only */
    REAL *dy;       /* (T, B, Vp)  d loss / d logits                       */
    REAL *dhraw;    /* (T, B, H)   d loss / d (pre-tanh activation)        */
    REAL *dhnext;   /* (B, H)      gradient flowing into the previous step */
    REAL *seen;     /* (V)         train_step: 1 where a char occurs       */
} FN(workspace);

static FN(workspace) FN(carve)(REAL *work, int B, int T, int H, int V)
{
    const size_t b = (size_t)B, t = (size_t)T, h = (size_t)H;
    const size_t vp = crnn_padded((size_t)V);
    FN(workspace) w;
    w.hs = work;
    w.probs = w.hs + (t + 1) * b * h;
    w.whh_t = w.probs + t * b * vp;
    w.why_t = w.whh_t + h * h;
    w.row_loss = w.why_t + h * vp;
    w.dy = w.row_loss + 2 * t * b; /* end of the forward part */
    w.dhraw = w.dy + t * b * vp;
    w.dhnext = w.dhraw + t * b * h;
    w.seen = w.dhnext + b * h;
    return w;
}

/* Everything a pass over one chunk needs. */
typedef struct {
    const REAL *params;
    crnn_layout L;
    const int32_t *inputs, *targets; /* (B, T); targets may be NULL */
    int B, T, H, V;
    int Vp; /* row stride of probs, dy and WhyT */
    int Vn; /* logit columns computed: V rounded up to whole vectors */
    FN(workspace) w;
    /* train_step only: the Adagrad update (NULL: none) */
    REAL *update_params, *update_mem;
    REAL lr, clip, eps;
} FN(chunk);

static FN(chunk) FN(make_chunk)(REAL *work, const REAL *params,
                                const int32_t *inputs, const int32_t *targets,
                                int B, int T, int H, int V)
{
    FN(chunk) c;
    c.params = params;
    c.L = crnn_param_layout(H, V);
    c.inputs = inputs;
    c.targets = targets;
    c.B = B;
    c.T = T;
    c.H = H;
    c.V = V;
    c.Vp = (int)crnn_padded((size_t)V);
    c.Vn = (V + LANES - 1) / LANES * LANES;
    c.w = FN(carve)(work, B, T, H, V);
    c.update_params = c.update_mem = NULL;
    c.lr = c.clip = c.eps = 0;
    return c;
}

/* [*lo, *hi): part tid of nt of [0, n), cut at multiples of align. */
static void FN(share)(int n, int align, int tid, int nt, int *lo, int *hi)
{
    const long long blocks = (n + align - 1) / align;
    const long long a = blocks * tid / nt * align;
    const long long b = blocks * (tid + 1) / nt * align;
    *lo = (int)(a < n ? a : n);
    *hi = (int)(b < n ? b : n);
}

/* Threads worth using for a chunk of 3*B*T*H*H multiply-adds. */
static int FN(team_size)(int n_threads, int B, int T, int H)
{
    return crnn_team_size(n_threads, B, 3.0 * B * T * (double)H * H);
}

/* One time step of the recurrence for n streams (rows of hcur, hprev; the
 * input of stream b at ids[b * id_stride]):
 *     hcur = tanh(WxhT[x] + bh + hprev Whh^T),
 * the rows of the weights visited backwards if asked (see gemm_nn_dir).
 * one_stream (B == 1): dot products with the rows of Whh itself; else a
 * matrix product with its transposed copy whh_t.  The choice depends on B,
 * never on how the streams are shared between threads, so that results do
 * not depend on n_threads. */
static void FN(recur_step)(REAL *restrict hcur, const REAL *restrict hprev,
                           const REAL *restrict wxh_t, const REAL *restrict bh,
                           const REAL *restrict whh,
                           const REAL *restrict whh_t, const int32_t *ids,
                           size_t id_stride, int n, int H, int one_stream,
                           int backwards)
{
    for (int b = 0; b < n; b++) {
        const REAL *col = wxh_t + (size_t)ids[b * id_stride] * H;
        REAL *out = hcur + (size_t)b * H;
        for (int i = 0; i < H; i++)
            out[i] = col[i] + bh[i];
    }
    if (one_stream) {
        FN(crnn_gemv_rows)(hcur, hprev, whh, (size_t)H, H, H, 1, backwards, 1);
        return;
    }
    FN(gemm_nn_dir)(hcur, H, hprev, H, whh_t, H, n, H, H, 1, backwards);
    FN(crnn_vtanh)(hcur, (size_t)n * H);
}

/* Forward over the chunk, this thread's share: transposes, the recurrence
 * (columns of h shared out), then logits, softmax and row losses (rows
 * shared out).  Writes h_last's columns of this thread. */
static void FN(forward_pass)(const FN(chunk) *c, REAL *h_last, const REAL *h0,
                             int tid, int nt)
{
    const int B = c->B, T = c->T, H = c->H, V = c->V;
    const size_t bh_n = (size_t)B * H;
    const FN(workspace) *w = &c->w;
    const REAL *params = c->params;
    int lo, hi, b0, b1;

    FN(share)(H, 8, tid, nt, &lo, &hi);
    if (B > 1) /* one stream reads Whh itself, see recur_step */
        FN(crnn_transpose)(w->whh_t, (size_t)H, params + c->L.whh, H, H, lo,
                           hi);
    FN(crnn_transpose)(w->why_t, (size_t)c->Vp, params + c->L.why, V, H, lo, hi);
    if (tid == 0)
        memcpy(w->hs, h0, bh_n * sizeof(REAL));
    CRNN_BARRIER(nt);

    /* The recurrence of this thread's streams: no other thread's results
     * needed until the end. */
    FN(share)(B, 1, tid, nt, &b0, &b1);
    if (b0 < b1) {
        const size_t own = (size_t)b0 * H, n = (size_t)(b1 - b0) * H;
        for (int t = 0; t < T; t++)
            FN(recur_step)(w->hs + (t + 1) * bh_n + own, w->hs + t * bh_n + own,
                           params + c->L.wxh_t, params + c->L.bh,
                           params + c->L.whh, w->whh_t, c->inputs + b0 * T + t,
                           (size_t)T, b1 - b0, H, B == 1, t & 1);
        memcpy(h_last + own, w->hs + T * bh_n + own, n * sizeof(REAL));
    }
    if (!c->targets)
        return;
    CRNN_BARRIER(nt);

    /* Logits for this thread's rows at once, then softmax row by row. */
    FN(share)(T * B, 1, tid, nt, &lo, &hi);
    if (lo >= hi)
        return;
    for (int r = lo; r < hi; r++) {
        REAL *row = w->probs + (size_t)r * c->Vp;
        memcpy(row, params + c->L.by, (size_t)V * sizeof(REAL));
        for (int j = V; j < c->Vn; j++) /* WhyT is 0 there: stays -inf */
            row[j] = -(REAL)INFINITY;
    }
    FN(gemm_nn)(w->probs + (size_t)lo * c->Vp, (size_t)c->Vp,
                     w->hs + bh_n + (size_t)lo * H, (size_t)H, w->why_t,
                     (size_t)c->Vp, hi - lo, c->Vn, H, 1);
    for (int r = lo; r < hi; r++) {
        const int t = r / B, b = r % B;
        const double loss = FN(crnn_softmax_nll)(w->probs + (size_t)r * c->Vp,
                                            c->targets[b * T + t], c->Vn);
        memcpy((char *)w->row_loss + (size_t)r * sizeof loss, &loss,
               sizeof loss);
    }
}

/* acc[lo..hi) (+)= the sum of the rows of src (rows, ld): set when
 * overwrite, else added to (crnn_add_rows: the same order either way). */
static void FN(bias_grad)(REAL *restrict acc, const REAL *restrict src,
                         size_t ld, int rows, int lo, int hi, int overwrite)
{
    if (lo >= hi)
        return;
    if (overwrite)
        memset(acc + lo, 0, (size_t)(hi - lo) * sizeof(REAL));
    FN(crnn_add_rows)(acc, src, ld, (size_t)rows, (size_t)lo, (size_t)hi);
}

/* The chunk's loss: the row losses summed in row order, over B. */
static double FN(chunk_loss)(const FN(chunk) *c)
{
    double sum = 0.0;
    for (int r = 0; r < c->T * c->B; r++) {
        double loss;
        memcpy(&loss, (const char *)c->w.row_loss + r * sizeof loss,
               sizeof loss);
        sum += loss;
    }
    return sum / c->B;
}

/* Columns [c0, c1) of the gradient of a weight matrix (M, H) at offset off:
 * G (+)= A^T Bm, A (K, M) row stride lda, Bm (K, H).  With an update
 * (train_step), clip and Adagrad follow each block of 16 rows while it is
 * in L1, instead of another pass over the whole gradient; for long chunks
 * (large K) one block, so that Bm is read once. */
static void FN(weight_grad)(const FN(chunk) *c, REAL *grads, size_t off,
                            const REAL *A, size_t lda, const REAL *Bm, int M,
                            int K, int c0, int c1, int overwrite)
{
    const int H = c->H, block = c->update_params && K <= 256 ? 16 : M;
    if (c0 >= c1)
        return;
    for (int i0 = 0; i0 < M; i0 += block) {
        const int m = M - i0 < block ? M - i0 : block;
        const size_t at = off + (size_t)i0 * H + c0;
        FN(gemm_tn)(grads + at, (size_t)H, A + i0, lda, Bm + c0, (size_t)H, m,
                    c1 - c0, K, !overwrite);
        if (!c->update_params)
            continue;
        for (int i = 0; i < m; i++)
            FN(crnn_clip_adagrad)(c->update_params + at + (size_t)i * H,
                                  c->update_mem + at + (size_t)i * H,
                                  grads + at + (size_t)i * H, c->clip, c->lr,
                                  c->eps, (size_t)(c1 - c0));
    }
}

/* Backward through the chunk, this thread's share.  overwrite: the dense
 * gradients (Whh, Why, bh, by) and WxhT are set rather than added to.
 * dh0 may be NULL (train_step): then the last product of BPTT is skipped. */
static void FN(backward_pass)(const FN(chunk) *c, REAL *grads, REAL *dh0,
                              int overwrite, int tid, int nt)
{
    const int B = c->B, T = c->T, H = c->H, V = c->V, Vp = c->Vp;
    const int rows = T * B;
    const size_t bh_n = (size_t)B * H;
    const FN(workspace) *w = &c->w;
    const REAL *params = c->params;
    const crnn_layout L = c->L;
    const REAL scale = (REAL)1 / (REAL)B;
    int lo, hi, c0, c1, b0, b1;

    /* This thread's rows: dy = (probs - onehot(targets)) / B, then
     * dhraw = dy Why (the part of dh that comes from the outputs). */
    FN(share)(rows, 1, tid, nt, &lo, &hi);
    for (int r = lo; r < hi; r++) {
        const int t = r / B, b = r % B;
        const REAL *p = w->probs + (size_t)r * Vp;
        REAL *d = w->dy + (size_t)r * Vp;
        memcpy(d, p, (size_t)c->Vn * sizeof(REAL)); /* 0 beyond V */
        d[c->targets[b * T + t]] -= 1;
        if (B > 1)
            for (int j = 0; j < c->Vn; j++)
                d[j] *= scale;
    }
    if (lo < hi)
        FN(gemm_nn)(w->dhraw + (size_t)lo * H, (size_t)H,
                         w->dy + (size_t)lo * Vp, (size_t)Vp,
                         params + L.why, (size_t)H, hi - lo, H, V, 0);
    CRNN_BARRIER(nt);

    /* Output layer, this thread's columns: dWhy += dy^T hs, dby. */
    FN(share)(H, CRNN_PAD, tid, nt, &c0, &c1);
    FN(weight_grad)(c, grads, L.why, w->dy, (size_t)Vp, w->hs + bh_n, V, rows,
                    c0, c1, overwrite);
    FN(share)(V, CRNN_PAD, tid, nt, &lo, &hi);
    FN(bias_grad)(grads + L.by, w->dy, (size_t)Vp, rows, lo, hi, overwrite);

    /* Back through time, this thread's streams: the only sequential part.
     * d_t = (dhraw_t + dhnext) (1 - h_t^2) in place; dhnext = d_t Whh. */
    FN(share)(B, 1, tid, nt, &b0, &b1);
    if (b0 < b1) {
        const size_t own = (size_t)b0 * H, n = (size_t)(b1 - b0) * H;
        for (int t = T - 1; t >= 0; t--) {
            REAL *restrict d = w->dhraw + t * bh_n + own;
            const REAL *restrict h = w->hs + (t + 1) * bh_n + own;
            const REAL *restrict next = w->dhnext + own;
            for (size_t i = 0; i < n; i++)
                d[i] = (t < T - 1 ? d[i] + next[i] : d[i]) * (1 - h[i] * h[i]);
            if (t > 0 || dh0) /* at t = 0 only dh0 needs it */
                FN(gemm_nn_dir)(w->dhnext + own, (size_t)H, d, (size_t)H,
                                params + L.whh, (size_t)H, b1 - b0, H, H, 0,
                                t & 1);
        }
        if (dh0)
            memcpy(dh0 + own, w->dhnext + own, n * sizeof(REAL));
    }
    CRNN_BARRIER(nt);

    /* Recurrent and input weights, this thread's columns. */
    if (c0 < c1) {
        FN(weight_grad)(c, grads, L.whh, w->dhraw, (size_t)H, w->hs, H, rows,
                        c0, c1, overwrite);
        FN(bias_grad)(grads + L.bh, w->dhraw, (size_t)H, rows, c0, c1,
                     overwrite);
        if (overwrite)
            for (int v = 0; v < V; v++)
                memset(grads + L.wxh_t + (size_t)v * H + c0, 0,
                       (size_t)(c1 - c0) * sizeof(REAL));
        for (int r = 0; r < rows; r++) {
            const int t = r / B, b = r % B;
            REAL *restrict dcol =
                grads + L.wxh_t + (size_t)c->inputs[b * T + t] * H;
            const REAL *restrict d = w->dhraw + (size_t)r * H;
            for (int i = c0; i < c1; i++)
                dcol[i] += d[i];
        }
    }
}


static double FN(crnn_forward)(REAL *work, REAL *h_last, const REAL *params,
                               const int32_t *inputs, const int32_t *targets,
                               const REAL *h0, int B, int T, int H, int V,
                               int n_threads)
{
    const FN(chunk) c = FN(make_chunk)(work, params, inputs, targets, B, T, H,
                                       V);
    const int nt = FN(team_size)(n_threads, B, T, H);
    CRNN_RUN_TEAM(nt, FN(forward_pass)(&c, h_last, h0, tid, team));
    return targets ? FN(chunk_loss)(&c) : 0.0;
}

static void FN(crnn_backward)(REAL *grads, REAL *dh0, REAL *work,
                              const REAL *params, const int32_t *inputs,
                              const int32_t *targets, int B, int T, int H,
                              int V, int n_threads)
{
    const FN(chunk) c = FN(make_chunk)(work, params, inputs, targets, B, T, H,
                                       V);
    const int nt = FN(team_size)(n_threads, B, T, H);
    CRNN_RUN_TEAM(nt, FN(backward_pass)(&c, grads, dh0, 0, tid, team));
}

#include "kernels_train_impl.h"
#include "kernels_sample_impl.h"

#undef REAL_SQRT
#undef LANES
#undef FN
#undef CRNN_CAT
#undef CRNN_CAT_
