/*
 * ops_impl.h - the primitives the kernels spend their time in, written once
 * for one float type and instruction set (REAL, SUFFIX, ISA and
 * CRNN_VECTOR_BYTES, the target's vector width: see variants.h):
 *
 *   crnn_gemm_nn    C (M,N) += A (M,K) B (K,N)
 *   crnn_gemm_tn    C (M,N) += A^T B,  A (K,M), B (K,N)
 *   crnn_vtanh      x = tanh(x) over an array
 *   crnn_vexp_shifted  x = exp(x - shift) over an array
 *
 * Inner loops run along contiguous rows of B and C, so they vectorise
 * without reordering any sum (no -ffast-math needed).
 */

#define OPS_CAT_(a, b, c) a##b##c
#define OPS_CAT(a, b, c) OPS_CAT_(a, b, c)
#define OP(name) OPS_CAT(name, SUFFIX, ISA)

static void OP(crnn_gemm_nn)(REAL *restrict C, const REAL *restrict A,
                             const REAL *restrict Bm, int M, int N, int K)
{
    for (int i = 0; i < M; i++) {
        REAL *c = C + (size_t)i * N;
        const REAL *a = A + (size_t)i * K;
        for (int k = 0; k < K; k++) {
            const REAL aik = a[k];
            const REAL *b = Bm + (size_t)k * N;
            for (int j = 0; j < N; j++)
                c[j] += aik * b[j];
        }
    }
}

static void OP(crnn_gemm_tn)(REAL *restrict C, const REAL *restrict A,
                             const REAL *restrict Bm, int M, int N, int K)
{
    for (int k = 0; k < K; k++) {
        const REAL *a = A + (size_t)k * M;
        const REAL *b = Bm + (size_t)k * N;
        for (int i = 0; i < M; i++) {
            const REAL aki = a[i];
            REAL *c = C + (size_t)i * N;
            for (int j = 0; j < N; j++)
                c[j] += aki * b[j];
        }
    }
}

static void OP(crnn_vtanh)(REAL *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (REAL)tanh(x[i]);
}

static void OP(crnn_vexp_shifted)(REAL *x, REAL shift, int n)
{
    for (int i = 0; i < n; i++)
        x[i] = (REAL)exp(x[i] - shift);
}

#undef OP
#undef OPS_CAT
#undef OPS_CAT_
