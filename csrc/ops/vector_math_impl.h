/*
 * ops/vector_math_impl.h - vectorised exp and tanh, dot products and crnn_gemv_rows
 * (part of ops_impl.h, which includes it once per float type and
 * instruction set; REAL, VEC, OP() and the tile sizes come from there).
 */

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
        OP(gemv_rows_scalar)(c, a, Bm, ldb, N, K, beta);
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
