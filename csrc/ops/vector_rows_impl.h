/*
 * ops/vector_rows_impl.h - softmax, transpose and the fused clip + Adagrad pass
 * (part of ops_impl.h, which includes it once per float type and
 * instruction set; REAL, VEC, OP() and the tile sizes come from there).
 */

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
