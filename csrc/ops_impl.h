/*
 * ops_impl.h - the primitives the kernels spend their time in, written once
 * for one float type and instruction set (REAL, IREAL, SUFFIX, ISA,
 * CRNN_VECTOR_BYTES and CRNN_VECTOR_REGS: see isa_variants.h):
 *
 *   crnn_gemm       C (M,N) = beta*C + op(A) B, B (K,N), with op(A) (M,K)
 *                   given by strides: A itself, A^T, or k walked backwards
 *   crnn_vtanh      x = tanh(x) over an array (crnn_vexp: exp)
 *   crnn_vexp_shifted  x = exp(x - shift) over an array
 *   crnn_gemv_rows  c (N) = beta*c + B a, B (N,K): a dot product per row
 *   crnn_softmax    a padded row of logits to probabilities
 *   crnn_transpose  a block of rows of a transposed matrix
 *   crnn_clip_adagrad  clip and Adagrad in one pass
 *   crnn_softmax_nll, crnn_add_rows, crnn_argmax, crnn_draw  (ops/pick_impl.h)
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
 *
 * The code is in ops/: vector_tiles_impl.h (vector types, register tiles,
 * crnn_gemm), vector_math_impl.h (exp, tanh, crnn_gemv_rows),
 * vector_rows_impl.h (softmax, transpose, clip + Adagrad) and, without
 * vector extensions, plain_impl.h; then pick_impl.h, on top of either.
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

/* c[0..N) (+)= B a with B (N, K) row stride ldb, one plain dot product
 * per row (crnn_gemv_rows' plain loops, and its path for short rows). */
static void OP(gemv_rows_scalar)(REAL *c, const REAL *a, const REAL *Bm,
                                 size_t ldb, int N, int K, int beta)
{
    for (int r = 0; r < N; r++) {
        REAL s = 0;
        for (int k = 0; k < K; k++)
            s += a[k] * Bm[r * ldb + k];
        c[r] = beta ? c[r] + s : s;
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

#include "ops/vector_tiles_impl.h"
#include "ops/vector_math_impl.h"
#include "ops/vector_rows_impl.h"

#else /* !CRNN_VECTOR_EXT: plain loops, libm */

#include "ops/plain_impl.h"

#endif /* CRNN_VECTOR_EXT */

#include "ops/pick_impl.h"

#undef REAL_SQRT
#undef OP
#undef OPS_CAT
#undef OPS_CAT_
