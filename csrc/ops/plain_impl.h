/*
 * ops/plain_impl.h - every primitive as plain loops and libm, for compilers without
 * GCC/Clang vector extensions (-DCRNN_NO_VECTOR_EXT)
 * (part of ops_impl.h, which includes it once per float type and
 * instruction set; REAL, VEC, OP() and the tile sizes come from there).
 */

static void OP(crnn_gemv_rows)(REAL *c, const REAL *a, const REAL *Bm,
                               size_t ldb, int N, int K, int beta,
                               int backwards, int activate)
{
    (void)backwards;
    OP(gemv_rows_scalar)(c, a, Bm, ldb, N, K, beta);
    if (activate)
        for (int r = 0; r < N; r++)
            c[r] = (REAL)tanh(c[r]);
}

static void OP(crnn_transpose)(REAL *restrict dst, size_t ldd,
                               const REAL *restrict src, int rows, int cols,
                               int r0, int r1)
{
    OP(transpose_scalar)(dst, ldd, src, rows, cols, r0, r1);
}

/* C (M,N) = beta*C + op(A) B: see the vector version above. */
static void OP(crnn_gemm)(REAL *C, size_t ldc, const REAL *A, ptrdiff_t ars,
                          ptrdiff_t aks, const REAL *Bm, ptrdiff_t ldb, int M,
                          int N, int K, int beta)
{
    for (int i = 0; i < M; i++) {
        REAL *c = C + i * ldc;
        if (!beta)
            memset(c, 0, (size_t)N * sizeof(REAL));
        for (int k = 0; k < K; k++) {
            const REAL aik = A[i * ars + k * aks];
            const REAL *b = Bm + k * ldb;
            for (int j = 0; j < N; j++)
                c[j] += aik * b[j];
        }
    }
}

static void OP(crnn_vtanh)(REAL *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (REAL)tanh(x[i]);
}

static double OP(crnn_softmax)(REAL *y, int n, REAL *max)
{
    REAL m = y[0];
    for (int j = 1; j < n; j++)
        m = y[j] > m ? y[j] : m;
    double s = 0.0;
    for (int j = 0; j < n; j++) {
        y[j] = (REAL)exp(y[j] - m);
        s += y[j];
    }
    const REAL inv = (REAL)(1.0 / s);
    for (int j = 0; j < n; j++)
        y[j] *= inv;
    *max = m;
    return log(s);
}


static void OP(crnn_clip_adagrad)(REAL *restrict p, REAL *restrict mem,
                                  REAL *restrict g, REAL limit, REAL lr,
                                  REAL eps, size_t n)
{
    OP(clip_adagrad_exact)(p, mem, g, limit, lr, eps, n);
}

static void OP(crnn_vexp)(REAL *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (REAL)exp(x[i]);
}

static void OP(crnn_vexp_shifted)(REAL *x, REAL shift, int n)
{
    for (int i = 0; i < n; i++)
        x[i] = (REAL)exp(x[i] - shift);
}
