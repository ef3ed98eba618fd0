/*
 * ops_impl.h - the primitives the kernels spend their time in, written once
 * for one float type and instruction set (REAL, IREAL, SUFFIX, ISA,
 * CRNN_VECTOR_BYTES and CRNN_VECTOR_REGS: see variants.h):
 *
 *   crnn_gemm       C (M,N) = beta*C + op(A) B, B (K,N), with op(A) (M,K)
 *                   given by strides: A itself, A^T, or k walked backwards
 *   crnn_vtanh      x = tanh(x) over an array (crnn_vexp: exp)
 *   crnn_vexp_shifted  x = exp(x - shift) over an array
 *   crnn_softmax    a padded row of logits to probabilities
 *   crnn_transpose  a block of rows of a transposed matrix
 *   crnn_clip_adagrad  clip and Adagrad in one pass
 *
 * Matrices are row-major with explicit strides; beta is 0 or 1.
 *
 * Every element of C is one sum over k in increasing order, accumulated in
 * REAL with the same multiply-add in every code path (vector, narrower
 * vector, scalar).  So a result does not depend on how C is cut into tiles,
 * and a threaded caller that splits C between threads gets the same bits as
 * one thread.
 *
 * With GCC/Clang the products run in register tiles of explicit vectors
 * (vector extensions, so one source serves SSE2, AVX2 and AVX-512), and tanh
 * and exp are branch-free polynomial versions that vectorise.  Other
 * compilers get plain loops and libm.
 */

#define OPS_CAT_(a, b, c) a##b##c
#define OPS_CAT(a, b, c) OPS_CAT_(a, b, c)
#define OP(name) OPS_CAT(name, SUFFIX, ISA)

#if REAL_IS_DOUBLE
#define REAL_SQRT sqrt
#else
#define REAL_SQRT sqrtf
#endif

#if CRNN_VECTOR_EXT

/* ------------------------------------------------------------ vector types */

#define VL (CRNN_VECTOR_BYTES / (int)sizeof(REAL)) /* lanes per vector */
#define VEC OP(vec_t)
#define IVEC OP(ivec_t)
typedef REAL VEC __attribute__((vector_size(CRNN_VECTOR_BYTES)));
typedef IREAL IVEC __attribute__((vector_size(CRNN_VECTOR_BYTES)));

/* ------------------------------------------------------------ register tiles
 *
 * A tile is mr rows by nv vectors of C, held in registers while k runs over
 * the K columns of A: per k, nv vectors of B are loaded and each of the mr
 * elements of A is broadcast and multiplied into its row.  The largest tile
 * uses most of the vector registers; B vectors stay in registers when mr > 1
 * (they are reused by every row) and are folded into the multiply-add as a
 * memory operand when mr == 1 (the matrix-vector case, B = 1 streams).
 *
 * Column tails: when N is not a multiple of the vector width, the last
 * vector of a row starts at N - VL and overlaps the one before.  Both start
 * from the same C values and do the same operations, so the overlapped
 * columns are stored twice with identical values, and no lane is wasted.
 */
#define TILE_MAX_ROWS (CRNN_VECTOR_REGS >= 32 ? 8 : 4)
#define TILE_VECS(mr)                                                        \
    ((mr) == 1 ? (CRNN_VECTOR_REGS >= 32 ? 16 : 12)                          \
               : (CRNN_VECTOR_REGS - 1) / ((mr) + 1))
#define TILE_MAX_VECS 16
/* Columns of K per pass over a tile: keeps a pass's slice of B near. */
#define TILE_KC 128

/* Unaligned loads and stores through memcpy: one vector move, no aliasing
 * or alignment assumptions. */
#define DEFINE_LOAD_STORE(TAG, VT)                                           \
    CRNN_ALWAYS_INLINE VT OP(load_##TAG)(const REAL *p)                      \
    {                                                                        \
        VT v;                                                                \
        memcpy(&v, p, sizeof v);                                             \
        return v;                                                            \
    }                                                                        \
    CRNN_ALWAYS_INLINE void OP(store_##TAG)(REAL *p, VT v)                   \
    {                                                                        \
        memcpy(p, &v, sizeof v);                                             \
    }

/* One tile for vectors of type VT (VT may be REAL itself: the same code then
 * serves matrices narrower than a vector).  A(i,k) = A[i*ars + k*aks].
 * Vector v covers columns v*W.. except the last, which starts at column
 * `last`.  mr and nv are constants at every call site, so the loops unroll
 * and acc lives in registers.  load_c: start from C, else from zero. */
#define DEFINE_TILE(TAG, VT)                                                 \
    CRNN_ALWAYS_INLINE void OP(tile_##TAG)(                                  \
        REAL *restrict C, size_t ldc, const REAL *restrict A, ptrdiff_t ars, \
        ptrdiff_t aks, const REAL *restrict Bm, ptrdiff_t ldb, int K,        \
        int load_c,                                                          \
        const int mr, const int nv, size_t last)                             \
    {                                                                        \
        enum { W = sizeof(VT) / sizeof(REAL) };                              \
        VT acc[TILE_MAX_ROWS][TILE_MAX_VECS];                                \
        size_t off[TILE_MAX_VECS];                                           \
        _Pragma("GCC unroll 16") for (int v = 0; v < nv; v++)                \
            off[v] = v == nv - 1 ? last : (size_t)v * W;                     \
        _Pragma("GCC unroll 16") for (int i = 0; i < mr; i++)                \
        _Pragma("GCC unroll 16") for (int v = 0; v < nv; v++)                \
            acc[i][v] = load_c ? OP(load_##TAG)(C + i * ldc + off[v])        \
                               : (VT){0};                                    \
        for (int k = 0; k < K; k++) {                                        \
            const REAL *b = Bm + k * ldb;                                    \
            VT bv[TILE_MAX_VECS];                                            \
            _Pragma("GCC unroll 16") for (int v = 0; v < nv; v++)            \
                bv[v] = OP(load_##TAG)(b + off[v]);                          \
            _Pragma("GCC unroll 16") for (int i = 0; i < mr; i++) {          \
                const REAL a = A[i * ars + k * aks];                         \
                _Pragma("GCC unroll 16") for (int v = 0; v < nv; v++)        \
                    acc[i][v] += a * bv[v];                                  \
            }                                                                \
        }                                                                    \
        _Pragma("GCC unroll 16") for (int i = 0; i < mr; i++)                \
        _Pragma("GCC unroll 16") for (int v = 0; v < nv; v++)                \
            OP(store_##TAG)(C + i * ldc + off[v], acc[i][v]);                \
    }

DEFINE_LOAD_STORE(v, VEC)
DEFINE_TILE(v, VEC)
DEFINE_LOAD_STORE(s, REAL)
DEFINE_TILE(s, REAL)

/* mr rows of C, all N columns, in tiles of up to TILE_VECS(mr) vectors with
 * the vectors shared out evenly between the tiles. */
CRNN_ALWAYS_INLINE void OP(tile_row)(REAL *C, size_t ldc, const REAL *A,
                                     ptrdiff_t ars, ptrdiff_t aks,
                                     const REAL *Bm, ptrdiff_t ldb, int N,
                                     int K, int load_c,
                                     const int mr)
{
    if (N < VL) { /* narrower than one vector: column by column */
        for (int j = 0; j < N; j++)
            OP(tile_s)(C + j, ldc, A, ars, aks, Bm + j, ldb, K, load_c, mr, 1,
                       0);
        return;
    }
    const int nvec = (N + VL - 1) / VL;
    const int tiles = (nvec + TILE_VECS(mr) - 1) / TILE_VECS(mr);
    int j = 0;
    for (int t = 0; t < tiles; t++) {
        const int nv = nvec / tiles + (t < nvec % tiles);
        const size_t last = j + nv * VL <= N ? (size_t)(nv - 1) * VL
                                             : (size_t)(N - VL - j);
#define TILE_CASE(n)                                                         \
    case n:                                                                  \
        if (n <= TILE_VECS(mr))                                              \
            OP(tile_v)(C + j, ldc, A, ars, aks, Bm + j, ldb, K, load_c, mr,  \
                       n <= TILE_VECS(mr) ? n : 1, last);                    \
        break;
        switch (nv) {
            TILE_CASE(1) TILE_CASE(2) TILE_CASE(3) TILE_CASE(4)
            TILE_CASE(5) TILE_CASE(6) TILE_CASE(7) TILE_CASE(8)
            TILE_CASE(9) TILE_CASE(10) TILE_CASE(11) TILE_CASE(12)
            TILE_CASE(13) TILE_CASE(14) TILE_CASE(15) TILE_CASE(16)
        }
#undef TILE_CASE
        j += nv * VL;
    }
}

/* C (M,N) = beta*C + op(A) B with op(A)(i,k) = A[i*ars + k*aks] and row k
 * of B at Bm + k*ldb (negative strides walk k backwards).  Rows go in
 * blocks of TILE_MAX_ROWS, then halves of it for the remainder; K goes in
 * slices of TILE_KC, each slice adding to what the previous one stored. */
static void OP(crnn_gemm)(REAL *C, size_t ldc, const REAL *A, ptrdiff_t ars,
                          ptrdiff_t aks, const REAL *Bm, ptrdiff_t ldb, int M,
                          int N, int K, int beta)
{
    if (K == 0 && !beta) {
        for (int i = 0; i < M; i++)
            memset(C + i * ldc, 0, (size_t)N * sizeof(REAL));
        return;
    }
    for (int k0 = 0; k0 < K; k0 += TILE_KC) {
        const int kc = K - k0 < TILE_KC ? K - k0 : TILE_KC;
        const int load_c = beta || k0 > 0;
        const REAL *a = A + k0 * aks, *b = Bm + k0 * ldb;
#define ROWS(mr)                                                             \
    OP(tile_row)(C + i * ldc, ldc, a + i * ars, ars, aks, b, ldb, N, kc,     \
                 load_c, mr)
        int i = 0;
        for (; M - i >= TILE_MAX_ROWS; i += TILE_MAX_ROWS)
            ROWS(TILE_MAX_ROWS);
        if (TILE_MAX_ROWS > 4 && M - i >= 4) {
            ROWS(4);
            i += 4;
        }
        if (M - i >= 2) {
            ROWS(2);
            i += 2;
        }
        if (M - i >= 1)
            ROWS(1);
#undef ROWS
    }
}

/* ------------------------------------------------------------ exp and tanh
 *
 * exp(x) = 2^n e^r with n = round(x / ln 2), r = x - n ln 2 (|r| <= ln2/2),
 * e^r from its Taylor polynomial (the truncation error is below a unit in
 * the last place over that range), and 2^n built from its bits.  n is
 * rounded by adding 1.5 * 2^mantissa_bits, which leaves n in the low bits of
 * the sum; ln 2 is split into a head with trailing zero bits (so n * head is
 * exact) and a tail (Cody and Waite's reduction).
 */
#if REAL_IS_DOUBLE
#define MANT_BITS 52
#define EXP_BIAS 1023
#define LN2_HI 0x1.62e42fefp-1 /* ln 2 to 33 bits */
#define LN2_LO 7.440617110012397e-11
#define EXP_LIMIT 1400.0 /* beyond: exp is 0 or inf anyway */
#define TANH_LIMIT 20.0  /* tanh(20) rounds to 1 */
#define SIGN_BIT INT64_MIN
#else
#define MANT_BITS 23
#define EXP_BIAS 127
#define LN2_HI 0x1.62ep-1f /* ln 2 to 13 bits */
#define LN2_LO 3.194618329871446e-05f
#define EXP_LIMIT 150.0f
#define TANH_LIMIT 10.0f
#define SIGN_BIT INT32_MIN
#endif
#define LOG2E ((REAL)1.4426950408889634)
#define SHIFTER ((REAL)(3LL << (MANT_BITS - 1))) /* 1.5 * 2^MANT_BITS */

CRNN_ALWAYS_INLINE VEC OP(splat)(REAL x)
{
    return (VEC){0} + x;
}

/* m ? a : b, lane by lane (m from a comparison: all ones or zero). */
CRNN_ALWAYS_INLINE VEC OP(select)(IVEC m, VEC a, VEC b)
{
    return (VEC)((m & (IVEC)a) | (~m & (IVEC)b));
}

/* r + r^2/2! + ... + r^d/d!: e^r - 1 to REAL's precision for |r| <= ln2/2
 * (d = 13 for double, 7 for float).  Summed as r + r * (r * q(r)) so the
 * last operation adds a small correction to r: accurate relative to r for
 * small r, within about half a unit in the last place elsewhere. */
CRNN_ALWAYS_INLINE VEC OP(expm1_poly)(VEC r)
{
#if REAL_IS_DOUBLE
    VEC q = OP(splat)(1.6059043836821613e-10);
    q = q * r + 2.08767569878681e-09;
    q = q * r + 2.505210838544172e-08;
    q = q * r + 2.755731922398589e-07;
    q = q * r + 2.7557319223985893e-06;
    q = q * r + 2.48015873015873e-05;
    q = q * r + 1.984126984126984e-04;
    q = q * r + 1.388888888888889e-03;
#else
    VEC q = OP(splat)(1.984126984126984e-04f);
    q = q * r + 1.388888888888889e-03f;
#endif
    q = q * r + (REAL)8.333333333333333e-03;
    q = q * r + (REAL)4.1666666666666664e-02;
    q = q * r + (REAL)0.16666666666666666;
    q = q * r + (REAL)0.5;
    return r * (r * q) + r;
}

/* (n, r) with x = n ln2 + r; n as a float and in the integer lanes *ni. */
CRNN_ALWAYS_INLINE VEC OP(reduce_ln2)(VEC x, IVEC *ni)
{
    const VEC t = x * LOG2E + SHIFTER;
    const VEC n = t - SHIFTER;
    *ni = (IVEC)t - (IVEC)OP(splat)(SHIFTER);
    return (x - n * LN2_HI) - n * LN2_LO;
}

/* 2^n for integer lanes n in the normal exponent range. */
CRNN_ALWAYS_INLINE VEC OP(pow2)(IVEC n)
{
    return (VEC)((n + EXP_BIAS) << MANT_BITS);
}

/* exp(x): NaN stays NaN, -inf gives 0, +inf gives inf, and results below
 * the normal range round once to a subnormal (2^n is applied as two halves,
 * each a normal number). */
CRNN_ALWAYS_INLINE VEC OP(exp_vec)(VEC x)
{
    const VEC lo = OP(splat)(-EXP_LIMIT), hi = OP(splat)(EXP_LIMIT);
    x = OP(select)(x < lo, lo, x);
    x = OP(select)(x > hi, hi, x);
    IVEC n;
    const VEC r = OP(reduce_ln2)(x, &n);
    const IVEC n1 = n >> 1;
    return (OP(expm1_poly)(r) + 1) * OP(pow2)(n1) * OP(pow2)(n - n1);
}

/* tanh(x) = sign(x) e / (e + 2) with e = expm1(2|x|) computed as
 * 2^n expm1(r) + (2^n - 1): no cancellation for small x (there n = 0 and
 * tanh(x) ~ x to full relative precision), ±0 and the sign kept by
 * working on |x|, NaN stays NaN, large |x| gives ±1.  The quotient gets one
 * correction step from its residual, with e + 2 as an exact sum hi + lo
 * (exact for e <= 2, the range where tanh is not yet close to 1): that
 * leaves about one rounding error instead of three. */
CRNN_ALWAYS_INLINE VEC OP(tanh_vec)(VEC x)
{
    const IVEC sign = (IVEC)x & SIGN_BIT;
    VEC a = (VEC)((IVEC)x ^ sign);
    const VEC limit = OP(splat)(TANH_LIMIT);
    a = OP(select)(a > limit, limit, a);
    IVEC n;
    const VEC r = OP(reduce_ln2)(a + a, &n);
    const VEC s = OP(pow2)(n);
    const VEC e = s * OP(expm1_poly)(r) + (s - 1);
    const VEC d_hi = e + 2;
    const VEC d_lo = e - (d_hi - 2);
    const VEC rcp = 1 / d_hi;
    const VEC q0 = e * rcp;
    const VEC residual = (e - q0 * d_hi) - q0 * d_lo;
    return (VEC)((IVEC)(q0 + residual * rcp) | sign);
}

/* Applies f to x[0..n) in place in whole vectors.  A ragged end is one more
 * vector ending at x + n, computed from the original values (loaded before
 * the loop) and stored last, so the lanes it shares with the loop's last
 * vector get the same values again.  Shorter than a vector: through a
 * zero-padded copy. */
#define DEFINE_ARRAY_OP(NAME, F)                                             \
    static void NAME(REAL *x, size_t n)                                      \
    {                                                                        \
        if (n < VL) {                                                        \
            REAL tmp[VL] = {0};                                              \
            for (size_t i = 0; i < n; i++)                                   \
                tmp[i] = x[i];                                               \
            OP(store_v)(tmp, F(OP(load_v)(tmp)));                            \
            for (size_t i = 0; i < n; i++)                                   \
                x[i] = tmp[i];                                               \
            return;                                                          \
        }                                                                    \
        const VEC last = F(OP(load_v)(x + n - VL));                          \
        for (size_t i = 0; i + VL <= n; i += VL)                             \
            OP(store_v)(x + i, F(OP(load_v)(x + i)));                        \
        OP(store_v)(x + n - VL, last);                                       \
    }

DEFINE_ARRAY_OP(OP(crnn_vtanh), OP(tanh_vec))
DEFINE_ARRAY_OP(OP(crnn_vexp), OP(exp_vec))

static void OP(crnn_vexp_shifted)(REAL *x, REAL shift, int n)
{
    for (int i = 0; i < n; i++)
        x[i] -= shift;
    OP(crnn_vexp)(x, (size_t)n);
}

/* ------------------------------------------------------------ softmax */

/* y[0..n) = softmax(y) in place, n a multiple of VL (padding lanes hold
 * -inf and end up 0); *max gets max(y) and the result is
 * log(sum exp(y - max)).  Sums run in REAL over the lanes, then in double. */
static double OP(crnn_softmax)(REAL *y, int n, REAL *max)
{
    VEC m = OP(load_v)(y);
    for (int j = VL; j < n; j += VL) {
        const VEC v = OP(load_v)(y + j);
        m = OP(select)(v > m, v, m);
    }
    REAL mx = m[0];
    for (int l = 1; l < VL; l++)
        mx = m[l] > mx ? m[l] : mx;
    VEC sum = {0};
    for (int j = 0; j < n; j += VL) {
        const VEC e = OP(exp_vec)(OP(load_v)(y + j) - mx);
        OP(store_v)(y + j, e);
        sum += e;
    }
    double s = 0.0;
    for (int l = 0; l < VL; l++)
        s += sum[l];
    const REAL inv = (REAL)(1.0 / s);
    for (int j = 0; j < n; j += VL)
        OP(store_v)(y + j, OP(load_v)(y + j) * inv);
    *max = mx;
    return log(s);
}

/* ------------------------------------------------------------ transpose */

#define V4 OP(v4_t)
#define IV4 OP(iv4_t)
typedef REAL V4 __attribute__((vector_size(4 * sizeof(REAL))));
typedef IREAL IV4 __attribute__((vector_size(4 * sizeof(REAL))));
#if defined(__clang__) || __GNUC__ >= 12
#define SHUF4(a, b, i, j, k, l) __builtin_shufflevector(a, b, i, j, k, l)
#else
#define SHUF4(a, b, i, j, k, l) __builtin_shuffle(a, b, (IV4){i, j, k, l})
#endif

/* Rows [r0, r1) of dst (cols, rows) = src (rows, cols) transposed, dst's rows
 * padded to ldd with zeros: 4x4 blocks through registers (two rounds of
 * shuffles), scalar at the edges.  r0 must be a multiple of 4. */
static void OP(crnn_transpose)(REAL *restrict dst, size_t ldd,
                               const REAL *restrict src, int rows, int cols,
                               int r0, int r1)
{
    const int r4 = r0 + (r1 - r0) / 4 * 4, rows4 = rows / 4 * 4;
    for (int j = r0; j < r4; j += 4) {
        for (int i = 0; i < rows4; i += 4) {
            V4 a[4], t[4];
            for (int k = 0; k < 4; k++)
                memcpy(&a[k], src + (size_t)(i + k) * cols + j, sizeof a[k]);
            t[0] = SHUF4(a[0], a[1], 0, 4, 1, 5);
            t[1] = SHUF4(a[0], a[1], 2, 6, 3, 7);
            t[2] = SHUF4(a[2], a[3], 0, 4, 1, 5);
            t[3] = SHUF4(a[2], a[3], 2, 6, 3, 7);
            a[0] = SHUF4(t[0], t[2], 0, 1, 4, 5);
            a[1] = SHUF4(t[0], t[2], 2, 3, 6, 7);
            a[2] = SHUF4(t[1], t[3], 0, 1, 4, 5);
            a[3] = SHUF4(t[1], t[3], 2, 3, 6, 7);
            for (int k = 0; k < 4; k++)
                memcpy(dst + (size_t)(j + k) * ldd + i, &a[k], sizeof a[k]);
        }
        for (int k = j; k < j + 4; k++)
            for (int i = rows4; i < rows; i++)
                dst[(size_t)k * ldd + i] = src[(size_t)i * cols + k];
    }
    for (int k = r4; k < r1; k++)
        for (int i = 0; i < rows; i++)
            dst[(size_t)k * ldd + i] = src[(size_t)i * cols + k];
    for (int k = r0; k < r1; k++)
        for (size_t i = (size_t)rows; i < ldd; i++)
            dst[(size_t)k * ldd + i] = 0;
}
#undef SHUF4
#undef V4
#undef IV4

/* ------------------------------------------------------------ Adagrad
 *
 * For double, 1/sqrt(mem + eps) comes from the hardware's estimate (14 bits
 * with AVX-512, 12 with AVX2 through float) refined by Newton steps
 *     y += y (1/2 - (x/2) y^2),
 * each doubling the correct bits, to about one unit in the last place: far
 * cheaper than a square root and a division, which cost more than the rest
 * of the update.  Lanes outside [1e-37, 1e37] (where the float estimate
 * would fail) or NaN take the exact scalar path.
 */
#if REAL_IS_DOUBLE && CRNN_ISA_LEVEL >= 1
#define FAST_RSQRT 1

CRNN_ALWAYS_INLINE VEC OP(rsqrt)(VEC x)
{
#if CRNN_ISA_LEVEL >= 2 && CRNN_VECTOR_BYTES == 64
    VEC y = (VEC)_mm512_rsqrt14_pd((__m512d)x);
    enum { STEPS = 2 };
#elif CRNN_ISA_LEVEL >= 2 && CRNN_VECTOR_BYTES == 32
    VEC y = (VEC)_mm256_rsqrt14_pd((__m256d)x);
    enum { STEPS = 2 };
#else
    VEC y = (VEC)_mm256_cvtps_pd(_mm_rsqrt_ps(_mm256_cvtpd_ps((__m256d)x)));
    enum { STEPS = 3 };
#endif
    const VEC half_x = x * (REAL)0.5;
    for (int s = 0; s < STEPS; s++)
        y = y + y * ((REAL)0.5 - (half_x * y) * y);
    return y;
}

/* 1 if every lane of the comparison mask m is set. */
CRNN_ALWAYS_INLINE int OP(all_lanes)(IVEC m)
{
#if CRNN_VECTOR_BYTES == 64
    return _mm512_movepi64_mask((__m512i)m) == 0xFF;
#else
    return _mm256_movemask_pd((__m256d)m) == 0xF;
#endif
}
#endif

/* g = clip(g, [-limit, limit]) (NaN stays NaN); mem += g*g;
 * p -= lr * g / sqrt(mem + eps), element by element with a true square
 * root and division. */
static void OP(clip_adagrad_exact)(REAL *restrict p, REAL *restrict mem,
                                   REAL *restrict g, REAL limit, REAL lr,
                                   REAL eps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        REAL x = g[i];
        x = x > limit ? limit : (x < -limit ? -limit : x);
        g[i] = x;
        mem[i] += x * x;
        p[i] -= lr * x / REAL_SQRT(mem[i] + eps);
    }
}

/* The same, one pass over the three arrays, vectorised. */
static void OP(crnn_clip_adagrad)(REAL *restrict p, REAL *restrict mem,
                                  REAL *restrict g, REAL limit, REAL lr,
                                  REAL eps, size_t n)
{
    size_t i = 0;
#ifdef FAST_RSQRT
    const VEC lo = OP(splat)(-limit), hi = OP(splat)(limit);
    const VEC small = OP(splat)(1e-37), big = OP(splat)(1e37);
    for (; i + VL <= n; i += VL) {
        VEC x = OP(load_v)(g + i);
        x = OP(select)(x > hi, hi, x);
        x = OP(select)(x < lo, lo, x);
        const VEC m = OP(load_v)(mem + i) + x * x;
        const VEC s = m + eps;
        if (!OP(all_lanes)((s >= small) & (s <= big))) { /* rare */
            OP(clip_adagrad_exact)(p + i, mem + i, g + i, limit, lr, eps, VL);
            continue;
        }
        OP(store_v)(g + i, x);
        OP(store_v)(mem + i, m);
        OP(store_v)(p + i, OP(load_v)(p + i) - (lr * x) * OP(rsqrt)(s));
    }
#endif
    OP(clip_adagrad_exact)(p + i, mem + i, g + i, limit, lr, eps, n - i);
}
#undef FAST_RSQRT

#undef DEFINE_ARRAY_OP
#undef MANT_BITS
#undef EXP_BIAS
#undef LN2_HI
#undef LN2_LO
#undef EXP_LIMIT
#undef TANH_LIMIT
#undef LOG2E
#undef SHIFTER
#undef SIGN_BIT
#undef DEFINE_TILE
#undef DEFINE_LOAD_STORE
#undef TILE_MAX_ROWS
#undef TILE_VECS
#undef TILE_MAX_VECS
#undef TILE_KC
#undef VL
#undef VEC
#undef IVEC

#else /* !CRNN_VECTOR_EXT: plain loops, libm */

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

static void OP(crnn_transpose)(REAL *restrict dst, size_t ldd,
                               const REAL *restrict src, int rows, int cols,
                               int r0, int r1)
{
    for (int k = r0; k < r1; k++) {
        for (int i = 0; i < rows; i++)
            dst[(size_t)k * ldd + i] = src[(size_t)i * cols + k];
        for (size_t i = (size_t)rows; i < ldd; i++)
            dst[(size_t)k * ldd + i] = 0;
    }
}

static void OP(crnn_clip_adagrad)(REAL *restrict p, REAL *restrict mem,
                                  REAL *restrict g, REAL limit, REAL lr,
                                  REAL eps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        REAL x = g[i];
        x = x > limit ? limit : (x < -limit ? -limit : x);
        g[i] = x;
        mem[i] += x * x;
        p[i] -= lr * x / REAL_SQRT(mem[i] + eps);
    }
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

#endif /* CRNN_VECTOR_EXT */

#undef REAL_SQRT
#undef OP
#undef OPS_CAT
#undef OPS_CAT_
