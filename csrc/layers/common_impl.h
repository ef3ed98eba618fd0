/*
 * layers/common_impl.h - helpers of the network kernels for one float type
 * and instruction set (included by net_impl.h after ops_impl.h): products
 * in terms of crnn_gemm / crnn_gemv_rows, the sigmoid array op, thread
 * teams and the cancel protocol.
 */

#define NET_CAT_(a, b, c) a##b##c
#define NET_CAT(a, b, c) NET_CAT_(a, b, c)
#define FN(name) NET_CAT(name, SUFFIX, ISA)
#define LANES (CRNN_VECTOR_BYTES / (int)sizeof(REAL))

/* C (M,N) = beta*C + op(A) B, as crnn_gemm computes it (same arguments),
 * with the loops ordered for the caches.  crnn_gemm passes over all N
 * columns of a KC-row slice of B for every block of rows of A, so for a
 * wide B (the LSTM's W_hh^T is H x 4H) the slice comes back from L2 or L3
 * for every few rows.  Here, for each KC slice and each block of MC rows of
 * A (in L2), the columns go in strips one register tile wide, and all the
 * row blocks pass over a strip while it is in L1.  The tiles are
 * crnn_gemm's own (ops_impl.h): every element of C gets the same
 * operations in the same order, so the result is the same bits.  Strips
 * share the vectors evenly, so a ragged last vector (overlapping the one
 * before it, as in crnn_gemm) always lies inside the same tile. */
#if CRNN_VECTOR_EXT
#define NET_MR (CRNN_VECTOR_REGS >= 32 ? 8 : 4) /* crnn_gemm's rows per tile */
#define NET_NV 3                              /* vectors per tile at NET_MR */
#define NET_KC 128                            /* crnn_gemm's K slice */
#define NET_MC (64 * 1024 / (NET_KC * (int)sizeof(REAL)))

#define NET_TILE(mr, nv)                                                     \
    FN(tile_v)(C + (size_t)i * ldc + j, ldc, a + i * ars, ars, aks, b + j,    \
               ldb, kc, load_c, mr, nv, last)
#define NET_STRIP(mr)                                                        \
    do {                                                                     \
        if (nv == 3)                                                         \
            NET_TILE(mr, 3);                                                 \
        else if (nv == 2)                                                    \
            NET_TILE(mr, 2);                                                 \
        else                                                                 \
            NET_TILE(mr, 1);                                                 \
    } while (0)

static void FN(gemm_blocked)(REAL *C, size_t ldc, const REAL *A,
                             ptrdiff_t ars, ptrdiff_t aks, const REAL *Bm,
                             ptrdiff_t ldb, int M, int N, int K, int beta)
{
    /* a few rows: crnn_gemm's wider tiles keep enough sums in flight */
    if (M < NET_MR || N < LANES || K == 0) {
        FN(crnn_gemm)(C, ldc, A, ars, aks, Bm, ldb, M, N, K, beta);
        return;
    }
    const int nvec = (N + LANES - 1) / LANES;
    const int strips = (nvec + NET_NV - 1) / NET_NV;
    for (int k0 = 0; k0 < K; k0 += NET_KC) {
        const int kc = K - k0 < NET_KC ? K - k0 : NET_KC;
        const int load_c = beta || k0 > 0;
        const REAL *a = A + k0 * aks, *b = Bm + k0 * ldb;
        for (int i0 = 0; i0 < M; i0 += NET_MC) {
            const int i1 = M - i0 < NET_MC ? M : i0 + NET_MC;
            int j = 0;
            for (int s = 0; s < strips; s++) {
                const int nv = nvec / strips + (s < nvec % strips);
                const size_t last = j + nv * LANES <= N
                                        ? (size_t)(nv - 1) * LANES
                                        : (size_t)(N - LANES - j);
                int i = i0;
                for (; i1 - i >= NET_MR; i += NET_MR)
                    NET_STRIP(NET_MR);
                if (NET_MR > 4 && i1 - i >= 4) {
                    NET_STRIP(4);
                    i += 4;
                }
                if (i1 - i >= 2) {
                    NET_STRIP(2);
                    i += 2;
                }
                if (i1 - i >= 1)
                    NET_STRIP(1);
                j += nv * LANES;
            }
        }
    }
}

/* Packed B: for each KC-row slice, each strip of columns (as gemm_blocked
 * cuts them) stored as its own contiguous block of rows, so a tile reads B
 * sequentially.  The recurrent weights are packed once per chunk and read
 * at every step.  Rows [k0, k1) of B (K,N), row stride ldb, into P (K*N). */
static void FN(pack_rows)(REAL *P, const REAL *Bm, size_t ldb, int K, int N,
                          int k0, int k1)
{
    if (N < LANES) { /* gemm_packed falls back to row-major */
        for (int k = k0; k < k1; k++)
            memcpy(P + (size_t)k * N, Bm + k * ldb, (size_t)N * sizeof(REAL));
        return;
    }
    (void)K;
    const int nvec = (N + LANES - 1) / LANES;
    const int strips = (nvec + NET_NV - 1) / NET_NV;
    for (int k = k0; k < k1; k++) {
        const int q0 = k / NET_KC * NET_KC;
        const int kc = K - q0 < NET_KC ? K - q0 : NET_KC;
        REAL *slice = P + (size_t)q0 * N;
        int j = 0;
        for (int s = 0; s < strips; s++) {
            const int nv = nvec / strips + (s < nvec % strips);
            const int w = j + nv * LANES <= N ? nv * LANES : N - j;
            memcpy(slice + (size_t)kc * j + (size_t)(k - q0) * w, Bm + k * ldb + j,
                   (size_t)w * sizeof(REAL));
            j += nv * LANES;
        }
    }
}

/* C (M,N) = beta*C + op(A) B with B packed by pack_rows: gemm_blocked's
 * loops and tiles (the same bits as crnn_gemm over B itself). */
static void FN(gemm_packed)(REAL *C, size_t ldc, const REAL *A, ptrdiff_t ars,
                            ptrdiff_t aks, const REAL *P, int M, int N, int K,
                            int beta)
{
    if (N < LANES || K == 0) {
        FN(crnn_gemm)(C, ldc, A, ars, aks, P, N, M, N, K, beta);
        return;
    }
    const int nvec = (N + LANES - 1) / LANES;
    const int strips = (nvec + NET_NV - 1) / NET_NV;
    for (int k0 = 0; k0 < K; k0 += NET_KC) {
        const int kc = K - k0 < NET_KC ? K - k0 : NET_KC;
        const int load_c = beta || k0 > 0;
        const REAL *a = A + k0 * aks, *slice = P + (size_t)k0 * N;
        for (int i0 = 0; i0 < M; i0 += NET_MC) {
            const int i1 = M - i0 < NET_MC ? M : i0 + NET_MC;
            int j = 0;
            for (int s = 0; s < strips; s++) {
                const int nv = nvec / strips + (s < nvec % strips);
                const int full = j + nv * LANES <= N;
                const size_t last = full ? (size_t)(nv - 1) * LANES
                                         : (size_t)(N - LANES - j);
                const int ldb = full ? nv * LANES : N - j;
                const REAL *b = slice + (size_t)kc * j - j; /* b + j: strip */
                int i = i0;
                for (; i1 - i >= NET_MR; i += NET_MR)
                    NET_STRIP(NET_MR);
                if (NET_MR > 4 && i1 - i >= 4) {
                    NET_STRIP(4);
                    i += 4;
                }
                if (i1 - i >= 2) {
                    NET_STRIP(2);
                    i += 2;
                }
                if (i1 - i >= 1)
                    NET_STRIP(1);
                j += nv * LANES;
            }
        }
    }
}
#undef NET_STRIP
#undef NET_TILE
#undef NET_MR
#undef NET_NV
#undef NET_KC
#undef NET_MC
#else
static void FN(gemm_blocked)(REAL *C, size_t ldc, const REAL *A,
                             ptrdiff_t ars, ptrdiff_t aks, const REAL *Bm,
                             ptrdiff_t ldb, int M, int N, int K, int beta)
{
    FN(crnn_gemm)(C, ldc, A, ars, aks, Bm, ldb, M, N, K, beta);
}
static void FN(pack_rows)(REAL *P, const REAL *Bm, size_t ldb, int K, int N,
                          int k0, int k1)
{
    (void)K;
    for (int k = k0; k < k1; k++)
        memcpy(P + (size_t)k * N, Bm + k * ldb, (size_t)N * sizeof(REAL));
}

static void FN(gemm_packed)(REAL *C, size_t ldc, const REAL *A, ptrdiff_t ars,
                            ptrdiff_t aks, const REAL *P, int M, int N, int K,
                            int beta)
{
    FN(crnn_gemm)(C, ldc, A, ars, aks, P, N, M, N, K, beta);
}
#endif

/* C (M,N) = beta*C + A B, A (M,K) row stride lda, B (K,N) stride ldb. */
CRNN_ALWAYS_INLINE void FN(mm)(REAL *C, size_t ldc, const REAL *A, size_t lda,
                               const REAL *Bm, size_t ldb, int M, int N,
                               int K, int beta)
{
    FN(gemm_blocked)(C, ldc, A, (ptrdiff_t)lda, 1, Bm, (ptrdiff_t)ldb, M, N, K,
                    beta);
}

/* C (M,N) = beta*C + A^T B, A (K,M) row stride lda. */
CRNN_ALWAYS_INLINE void FN(mm_tn)(REAL *C, size_t ldc, const REAL *A,
                                  size_t lda, const REAL *Bm, size_t ldb,
                                  int M, int N, int K, int beta)
{
    FN(gemm_blocked)(C, ldc, A, 1, (ptrdiff_t)lda, Bm, (ptrdiff_t)ldb, M, N, K,
                    beta);
}

/* A layer's recurrent weights in the layouts the products read:
 *   w    W_hh (G*H, H), row stride H (the parameters themselves)
 *   wtp  W_hh^T (H, G*H) packed by pack_rows (B > 1: forward)
 *   wp   B > 1: W_hh packed by pack_rows (backward); one stream: w itself
 *   wt   W_hh^T (H, G*H), row stride ldt: the source of wtp (B > 1) */
typedef struct {
    const REAL *w, *wt, *wtp, *wp;
    size_t ldt;
    int packed; /* B > 1 */
} FN(rec_weights);

/* C (n,N) (+)= A (n,K) B with B (K,N) row stride ldb, k walked backwards
 * if asked: alternating the direction from one step to the next starts
 * each step on the rows of the weights the previous one read last. */
static void FN(mm_dir)(REAL *C, size_t ldc, const REAL *A, size_t lda,
                       const REAL *Bm, size_t ldb, int n, int N, int K,
                       int beta, int backwards)
{
    if (!backwards || K == 0)
        FN(gemm_blocked)(C, ldc, A, (ptrdiff_t)lda, 1, Bm, (ptrdiff_t)ldb, n, N,
                        K, beta);
    else
        FN(gemm_blocked)(C, ldc, A + (K - 1), (ptrdiff_t)lda, -1,
                        Bm + (size_t)(K - 1) * ldb, -(ptrdiff_t)ldb, n, N, K,
                        beta);
}

/* The recurrent product of a forward step for all gates at once:
 * C (n, GH) (+)= hprev (n, H) W_hh^T.  One stream (chosen from B, never
 * from how streams are shared, so results do not depend on n_threads):
 * dot products with the rows of W_hh, walked forwards and backwards on
 * alternate steps (each step starts on what the last one read last); else
 * a register-tiled product with the packed W_hh^T. */
static void FN(rec_forward)(REAL *C, const REAL *hprev,
                            const FN(rec_weights) *rw, int n, int GH, int H,
                            int beta, int one_stream, int backwards)
{
    if (one_stream)
        FN(crnn_gemv_rows)(C, hprev, rw->w, (size_t)H, GH, H, beta, backwards,
                           0);
    else
        FN(gemm_packed)(C, (size_t)GH, hprev, H, 1, rw->wtp, n, GH, H, beta);
}

/* The recurrent product of a backward step: C (n, H) (+)= da (n, GH) W_hh,
 * da with row stride lda: with the packed W_hh, or for one stream with
 * W_hh as stored (one row of da reads it row by row, as fast as dot
 * products, and needs no transposed copy). */
static void FN(rec_backward)(REAL *C, const REAL *da, size_t lda,
                             const FN(rec_weights) *rw, int n, int GH, int H,
                             int beta, int backwards)
{
    if (rw->packed)
        FN(gemm_packed)(C, (size_t)H, da, (ptrdiff_t)lda, 1, rw->wp, n, H, GH,
                        beta);
    else
        FN(mm_dir)(C, (size_t)H, da, lda, rw->wp, (size_t)H, n, H, GH, beta,
                   backwards);
}

/* x = 1 / (1 + exp(-x)) in place over n elements. */
#if CRNN_VECTOR_EXT
#define NVEC NET_CAT(vec_t, SUFFIX, ISA)
CRNN_ALWAYS_INLINE NVEC FN(sigmoid_vec)(NVEC x)
{
    return 1 / (1 + FN(exp_vec)(-x));
}

/* Whole vectors; a ragged end is one more vector ending at x + n, computed
 * from the original values and stored last (as crnn_vtanh does). */
static void FN(vsigmoid)(REAL *x, size_t n)
{
    if (n < (size_t)LANES) {
        REAL tmp[LANES];
        memset(tmp, 0, sizeof tmp);
        memcpy(tmp, x, n * sizeof(REAL));
        FN(store_v)(tmp, FN(sigmoid_vec)(FN(load_v)(tmp)));
        memcpy(x, tmp, n * sizeof(REAL));
        return;
    }
    const int ragged = n % LANES != 0;
    const NVEC last = ragged ? FN(sigmoid_vec)(FN(load_v)(x + n - LANES))
                             : (NVEC){0};
    for (size_t i = 0; i + LANES <= n; i += LANES)
        FN(store_v)(x + i, FN(sigmoid_vec)(FN(load_v)(x + i)));
    if (ragged)
        FN(store_v)(x + n - LANES, last);
}
#undef NVEC
#else
static void FN(vsigmoid)(REAL *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (REAL)(1 / (1 + exp(-(double)x[i])));
}
#endif

/* [*lo, *hi): part tid of nt of [0, n), cut at multiples of align. */
static void FN(share)(size_t n, int align, int tid, int nt, size_t *lo,
                      size_t *hi)
{
    const size_t blocks = (n + align - 1) / align;
    const size_t a = blocks * tid / nt * align;
    const size_t b = blocks * (tid + 1) / nt * align;
    *lo = a < n ? a : n;
    *hi = b < n ? b : n;
}

/* Cancelling inside a team.  Threads poll *cancel while they work (every
 * time step) and vote in flag[phase % 3]; at the barrier that ends a phase
 * all of them read that flag, so all stop together or none does.  The flag
 * two phases ahead is cleared after the barrier: nobody reads it any more
 * (read after the previous barrier) and nobody writes it yet (next written
 * after the following barrier). */
typedef struct {
    const volatile int *cancel;
    volatile int flag[3];
} FN(stopper);

static void FN(stopper_init)(FN(stopper) *s, const volatile int *cancel)
{
    s->cancel = cancel;
    s->flag[0] = s->flag[1] = s->flag[2] = 0;
}

/* 1 if this thread should stop the work of the current phase. */
static int FN(poll)(FN(stopper) *s, int phase)
{
    if (s->cancel && *s->cancel)
        s->flag[phase % 3] = 1;
    return s->flag[phase % 3];
}

/* Ends a phase: returns 1 (for every thread alike) if the team stops. */
static int FN(end_phase)(FN(stopper) *s, int *phase, int tid, int nt)
{
    FN(poll)(s, *phase);
    CRNN_BARRIER(nt);
    const int stop = s->flag[*phase % 3];
    if (tid == 0)
        s->flag[(*phase + 2) % 3] = 0;
    ++*phase;
    return stop;
}

/* Threads worth using for a pass of about 3*G*L*B*T*H*H multiply-adds
 * (G gates, L layers). */
static int FN(net_team_size)(int n_threads, int G, int L, int B, int T, int H)
{
    return crnn_team_size(n_threads, B, 3.0 * G * L * B * T * (double)H * H);
}
