/*
 * ops_impl.h - the primitives the kernels spend their time in, written once
 * for one float type and instruction set (REAL, IREAL, SUFFIX, ISA,
 * CRNN_VECTOR_BYTES and CRNN_VECTOR_REGS: see variants.h):
 *
 *   crnn_gemm       C (M,N) = beta*C + op(A) B, B (K,N), with op(A) (M,K)
 *                   given by strides: A itself, A^T, or k walked backwards
 *   crnn_vtanh      x = tanh(x) over an array (crnn_vexp: exp)
 *   crnn_vexp_shifted  x = exp(x - shift) over an array
 *   crnn_gemv_rows  c (N) = beta*c + B a, B (N,K): a dot product per row
 *   crnn_softmax    a padded row of logits to probabilities
 *   crnn_transpose  a block of rows of a transposed matrix
 *   crnn_clip_adagrad  clip and Adagrad in one pass
 *
 * Matrices are row-major with explicit strides; beta is 0 or 1.
 *
 * Every element of C is one sum over k in a fixed order, accumulated in
 * REAL with the same multiply-add in every code path (full vector, the
 * overlapping last vector of a row, scalar).  So a result does not depend on
 * how C is cut into tiles, and a threaded caller that splits C between
 * threads gets the same bits as one thread.
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

/* Rows [r0, r1) of dst (cols, rows) = src (rows, cols) transposed, dst's rows
 * padded to ldd with zeros, element by element (see crnn_transpose). */
static void OP(transpose_scalar)(REAL *restrict dst, size_t ldd,
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
        const int ragged = n % VL != 0;                                      \
        const VEC last = ragged ? F(OP(load_v)(x + n - VL)) : (VEC){0};      \
        for (size_t i = 0; i + VL <= n; i += VL)                             \
            OP(store_v)(x + i, F(OP(load_v)(x + i)));                        \
        if (ragged)                                                          \
            OP(store_v)(x + n - VL, last);                                   \
    }

DEFINE_ARRAY_OP(OP(crnn_vtanh), OP(tanh_vec))
DEFINE_ARRAY_OP(OP(crnn_vexp), OP(exp_vec))

static void OP(crnn_vexp_shifted)(REAL *x, REAL shift, int n)
{
    for (int i = 0; i < n; i++)
        x[i] -= shift;
    OP(crnn_vexp)(x, (size_t)n);
}

/* ------------------------------------------------------------ dot products
 *
 * The matrix-vector product for one stream reads the weight matrix in its
 * own row-major layout, one dot product per row: c[r] (+)= a . B[r], for
 * TILE_DOT_ROWS rows at a time with a vector accumulator each.  No
 * transposed copy to make or keep in cache; and since every output is its
 * own sum, the rows can be visited in either order with the same result
 * (the recurrences alternate it, see kernels_impl.h).
 */
/* Rows per group: 8 where vectors have 2 lanes (to hide the add latency)
 * or 8 lanes with 32 registers (the sums of a group then fill a vector),
 * else 4 (fewer streams from memory: measured faster for wide rows). */
#define DOT_LANES (CRNN_VECTOR_BYTES / (REAL_IS_DOUBLE ? 8 : 4))
#define TILE_DOT_ROWS                                                        \
    (DOT_LANES <= 2 || (DOT_LANES == 8 && CRNN_VECTOR_REGS >= 32) ? 8 : 4)

#define LANES_PP (CRNN_VECTOR_BYTES / (REAL_IS_DOUBLE ? 8 : 4))
#if (defined(__clang__) || __GNUC__ >= 12) && LANES_PP >= 4
#define HALF OP(half_t)
typedef REAL HALF __attribute__((vector_size(CRNN_VECTOR_BYTES / 2)));
#if LANES_PP == 16
#define LOW_HALF(v) __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7)
#define HIGH_HALF(v)                                                         \
    __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15)
#elif LANES_PP == 8
#define LOW_HALF(v) __builtin_shufflevector(v, v, 0, 1, 2, 3)
#define HIGH_HALF(v) __builtin_shufflevector(v, v, 4, 5, 6, 7)
#else
#define LOW_HALF(v) __builtin_shufflevector(v, v, 0, 1)
#define HIGH_HALF(v) __builtin_shufflevector(v, v, 2, 3)
#endif
#endif

/* The sum of the lanes of v (the two halves added first when possible). */
CRNN_ALWAYS_INLINE REAL OP(hsum)(VEC v)
{
#ifdef HALF
    const HALF h = LOW_HALF(v) + HIGH_HALF(v);
    REAL s = h[0];
    for (int l = 1; l < VL / 2; l++)
        s += h[l];
#else
    REAL s = v[0];
    for (int l = 1; l < VL; l++)
        s += v[l];
#endif
    return s;
}

/* With as many rows as lanes: the nr = VL sums as one vector, lanes added
 * in pairs by shuffles (VL 4 or 8: two or three rounds instead of one
 * horizontal sum per row). */
#if defined(HALF) && (LANES_PP == 4 || LANES_PP == 8) && LANES_PP == TILE_DOT_ROWS
#define HAVE_SUM_ROWS 1
CRNN_ALWAYS_INLINE VEC OP(sum_rows)(const VEC *a)
{
#define PAIRS(x, y, ...) __builtin_shufflevector(x, y, __VA_ARGS__)
#if LANES_PP == 4
    const VEC u0 = PAIRS(a[0], a[1], 0, 4, 2, 6) + PAIRS(a[0], a[1], 1, 5, 3, 7);
    const VEC u1 = PAIRS(a[2], a[3], 0, 4, 2, 6) + PAIRS(a[2], a[3], 1, 5, 3, 7);
    return PAIRS(u0, u1, 0, 1, 4, 5) + PAIRS(u0, u1, 2, 3, 6, 7);
#else
    VEC u[4], v[2];
    for (int i = 0; i < 4; i++)
        u[i] = PAIRS(a[2 * i], a[2 * i + 1], 0, 8, 2, 10, 4, 12, 6, 14)
               + PAIRS(a[2 * i], a[2 * i + 1], 1, 9, 3, 11, 5, 13, 7, 15);
    for (int i = 0; i < 2; i++)
        v[i] = PAIRS(u[2 * i], u[2 * i + 1], 0, 1, 8, 9, 4, 5, 12, 13)
               + PAIRS(u[2 * i], u[2 * i + 1], 2, 3, 10, 11, 6, 7, 14, 15);
    return PAIRS(v[0], v[1], 0, 1, 2, 3, 8, 9, 10, 11)
           + PAIRS(v[0], v[1], 4, 5, 6, 7, 12, 13, 14, 15);
#endif
#undef PAIRS
}
#endif

/* nr dot products of a (K) with rows of B (stride ldb), K >= VL.  A ragged
 * end is one more vector ending at K, its lanes already counted masked out
 * of the products. */
CRNN_ALWAYS_INLINE void OP(dot_rows)(REAL *restrict c,
                                     const REAL *restrict a,
                                     const REAL *restrict Bm, size_t ldb,
                                     int K, int beta, const int nr)
{
    VEC acc[TILE_DOT_ROWS];
    _Pragma("GCC unroll 16") for (int r = 0; r < nr; r++) acc[r] = (VEC){0};
    int k = 0;
    for (; k + VL <= K; k += VL) {
        const VEC av = OP(load_v)(a + k);
        _Pragma("GCC unroll 16") for (int r = 0; r < nr; r++)
            acc[r] += av * OP(load_v)(Bm + r * ldb + k);
    }
    if (k < K) {
        const int start = K - VL;
        IVEC lane;
        for (int l = 0; l < VL; l++)
            lane[l] = l;
        const IVEC fresh = lane >= (IREAL)(k - start);
        const VEC av = OP(load_v)(a + start);
        _Pragma("GCC unroll 16") for (int r = 0; r < nr; r++) {
            const VEC prod = av * OP(load_v)(Bm + r * ldb + start);
            acc[r] += (VEC)(fresh & (IVEC)prod);
        }
    }
#ifdef HAVE_SUM_ROWS
    if (nr == VL) {
        const VEC sums = OP(sum_rows)(acc);
        OP(store_v)(c, beta ? OP(load_v)(c) + sums : sums);
        return;
    }
#endif
    _Pragma("GCC unroll 16") for (int r = 0; r < nr; r++)
        c[r] = beta ? c[r] + OP(hsum)(acc[r]) : OP(hsum)(acc[r]);
}

/* c[0..N) (+)= B a with B (N, K) row stride ldb: the dot products of a with
 * the rows of B, visited last to first if backwards; then tanh applied to c
 * if activate, group by group while the sums are at hand. */
static void OP(crnn_gemv_rows)(REAL *c, const REAL *a, const REAL *Bm,
                               size_t ldb, int N, int K, int beta,
                               int backwards, int activate)
{
    if (K < VL) {
        for (int r = 0; r < N; r++) {
            REAL s = 0;
            for (int k = 0; k < K; k++)
                s += a[k] * Bm[r * ldb + k];
            c[r] = beta ? c[r] + s : s;
        }
        if (activate)
            OP(crnn_vtanh)(c, (size_t)N);
        return;
    }
    /* groups of TILE_DOT_ROWS rows, then of 4, 2, 1 for the remainder */
    const int full = N / TILE_DOT_ROWS * TILE_DOT_ROWS;
    const int rem4 = TILE_DOT_ROWS > 4 && N - full >= 4 ? 4 : 0;
    const int rem2 = (N - full - rem4) / 2 * 2, rem1 = N - full - rem4 - rem2;
    /* tanh group by group if a group fills a vector, else once at the end */
    const int per_group = activate && TILE_DOT_ROWS >= VL;
#define GROUP(r, nr)                                                         \
    do {                                                                     \
        OP(dot_rows)(c + (r), a, Bm + (r) * ldb, ldb, K, beta, nr);          \
        if (per_group)                                                       \
            OP(crnn_vtanh)(c + (r), (size_t)(nr));                           \
    } while (0)
    if (!backwards) {
        for (int r = 0; r < full; r += TILE_DOT_ROWS)
            GROUP(r, TILE_DOT_ROWS);
        if (rem4)
            GROUP(full, 4);
        if (rem2)
            GROUP(full + rem4, 2);
        if (rem1)
            GROUP(N - 1, 1);
    } else {
        if (rem1)
            GROUP(N - 1, 1);
        if (rem2)
            GROUP(full + rem4, 2);
        if (rem4)
            GROUP(full, 4);
        for (int r = full - TILE_DOT_ROWS; r >= 0; r -= TILE_DOT_ROWS)
            GROUP(r, TILE_DOT_ROWS);
    }
    if (activate && !per_group)
        OP(crnn_vtanh)(c, (size_t)N);
#undef GROUP
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

#if REAL_IS_DOUBLE && CRNN_VECTOR_BYTES < 32 /* no 4-lane double vectors */
static void OP(crnn_transpose)(REAL *restrict dst, size_t ldd,
                               const REAL *restrict src, int rows, int cols,
                               int r0, int r1)
{
    OP(transpose_scalar)(dst, ldd, src, rows, cols, r0, r1);
}
#else
#define V4 OP(v4_t)
#define IV4 OP(iv4_t)
typedef REAL V4 __attribute__((vector_size(4 * sizeof(REAL))));
typedef IREAL IV4 __attribute__((vector_size(4 * sizeof(REAL))));
#if defined(__clang__) || __GNUC__ >= 12
#define SHUF4(a, b, i, j, k, l) __builtin_shufflevector(a, b, i, j, k, l)
#else
#define SHUF4(a, b, i, j, k, l) __builtin_shuffle(a, b, (IV4){i, j, k, l})
#endif
DEFINE_LOAD_STORE(4, V4)

/* Rows [r0, r1) of dst (cols, rows) = src (rows, cols) transposed, dst's rows
 * padded to ldd with zeros: 4x4 blocks through registers (two rounds of
 * shuffles), element by element at the edges.  r0: a multiple of 4. */
static void OP(crnn_transpose)(REAL *restrict dst, size_t ldd,
                               const REAL *restrict src, int rows, int cols,
                               int r0, int r1)
{
    const int r4 = r0 + (r1 - r0) / 4 * 4, rows4 = rows / 4 * 4;
    for (int j = r0; j < r4; j += 4)
        for (int i = 0; i < rows4; i += 4) {
            const REAL *s0 = src + (size_t)i * cols + j;
            const V4 a0 = OP(load_4)(s0), a1 = OP(load_4)(s0 + cols);
            const V4 a2 = OP(load_4)(s0 + 2 * cols);
            const V4 a3 = OP(load_4)(s0 + 3 * cols);
            const V4 t0 = SHUF4(a0, a1, 0, 4, 1, 5);
            const V4 t1 = SHUF4(a0, a1, 2, 6, 3, 7);
            const V4 t2 = SHUF4(a2, a3, 0, 4, 1, 5);
            const V4 t3 = SHUF4(a2, a3, 2, 6, 3, 7);
            REAL *d0 = dst + (size_t)j * ldd + i;
            OP(store_4)(d0, SHUF4(t0, t2, 0, 1, 4, 5));
            OP(store_4)(d0 + ldd, SHUF4(t0, t2, 2, 3, 6, 7));
            OP(store_4)(d0 + 2 * ldd, SHUF4(t1, t3, 0, 1, 4, 5));
            OP(store_4)(d0 + 3 * ldd, SHUF4(t1, t3, 2, 3, 6, 7));
        }
    /* the edges: columns of dst past rows4, rows of dst past r4, padding */
    for (int k = r0; k < r4; k++) {
        for (int i = rows4; i < rows; i++)
            dst[(size_t)k * ldd + i] = src[(size_t)i * cols + k];
        for (size_t i = (size_t)rows; i < ldd; i++)
            dst[(size_t)k * ldd + i] = 0;
    }
    OP(transpose_scalar)(dst, ldd, src, rows, cols, r4, r1);
}
#undef SHUF4
#undef V4
#undef IV4
#endif

/* ------------------------------------------------------------ Adagrad
 *
 * For double, 1/sqrt(mem + eps) comes from the hardware's estimate (14 bits
 * with AVX-512, 12 with AVX2 through float) refined by Newton steps
 *     y += y (1/2 - (x/2) y^2),
 * each doubling the correct bits, to about one unit in the last place: far
 * cheaper than a square root and a division, which cost more than the rest
 * of the update.  Lanes outside [1e-37, 1e37) (where the float estimate
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

/* clip(x, [lo, hi]) with NaN kept: x86's max/min return their second
 * operand when either is NaN. */
CRNN_ALWAYS_INLINE VEC OP(clip)(VEC x, VEC lo, VEC hi)
{
#if CRNN_VECTOR_BYTES == 64
    return (VEC)_mm512_min_pd((__m512d)hi, _mm512_max_pd((__m512d)lo,
                                                         (__m512d)x));
#else
    return (VEC)_mm256_min_pd((__m256d)hi, _mm256_max_pd((__m256d)lo,
                                                         (__m256d)x));
#endif
}

/* 1 if every lane of s is a number in [1e-37, 1e37): one unsigned compare
 * of the bits (NaN and negative numbers have larger bit patterns). */
CRNN_ALWAYS_INLINE int OP(in_rsqrt_range)(VEC s)
{
    const double bounds[2] = {1e-37, 1e37};
    IREAL bits[2];
    memcpy(bits, bounds, sizeof bits);
    const IREAL lo = bits[0], span = bits[1] - bits[0];
#if CRNN_VECTOR_BYTES == 64
    const __m512i off = _mm512_sub_epi64((__m512i)s, _mm512_set1_epi64(lo));
    return _mm512_cmplt_epu64_mask(off, _mm512_set1_epi64(span)) == 0xFF;
#else
    /* no unsigned 64-bit compare in AVX2: flip the sign bits, compare signed */
    const __m256i flip = _mm256_set1_epi64x(INT64_MIN);
    const __m256i off = _mm256_xor_si256(
        _mm256_sub_epi64((__m256i)s, _mm256_set1_epi64x(lo)), flip);
    const __m256i lim = _mm256_xor_si256(_mm256_set1_epi64x(span), flip);
    return _mm256_movemask_pd((__m256d)_mm256_cmpgt_epi64(lim, off)) == 0xF;
#endif
}
#endif

/* The same, one pass over the three arrays, vectorised. */
static void OP(crnn_clip_adagrad)(REAL *restrict p, REAL *restrict mem,
                                  REAL *restrict g, REAL limit, REAL lr,
                                  REAL eps, size_t n)
{
    size_t i = 0;
#ifdef FAST_RSQRT
    const VEC lo = OP(splat)(-limit), hi = OP(splat)(limit);
    for (; i + VL <= n; i += VL) {
        const VEC x = OP(clip)(OP(load_v)(g + i), lo, hi);
        const VEC m = OP(load_v)(mem + i) + x * x;
        const VEC s = m + eps;
        if (!OP(in_rsqrt_range)(s)) { /* rare */
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
#undef TILE_DOT_ROWS
#undef DOT_LANES
#undef HALF
#undef LOW_HALF
#undef HIGH_HALF
#undef LANES_PP
#undef HAVE_SUM_ROWS
#undef VL
#undef VEC
#undef IVEC

#else /* !CRNN_VECTOR_EXT: plain loops, libm */

static void OP(crnn_gemv_rows)(REAL *c, const REAL *a, const REAL *Bm,
                               size_t ldb, int N, int K, int beta,
                               int backwards, int activate)
{
    (void)backwards;
    for (int r = 0; r < N; r++) {
        REAL s = 0;
        for (int k = 0; k < K; k++)
            s += a[k] * Bm[r * ldb + k];
        c[r] = beta ? c[r] + s : s;
        if (activate)
            c[r] = (REAL)tanh(c[r]);
    }
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

#endif /* CRNN_VECTOR_EXT */

#undef REAL_SQRT
#undef OP
#undef OPS_CAT
#undef OPS_CAT_
