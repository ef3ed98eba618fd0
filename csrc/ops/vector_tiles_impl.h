/*
 * ops/vector_tiles_impl.h - vector types, register tiles and crnn_gemm
 * (part of ops_impl.h, which includes it once per float type and
 * instruction set; REAL, VEC, OP() and the tile sizes come from there).
 */

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
/* tile_row shares a row's vectors evenly between its tiles, and a ragged
 * last vector overlaps the one before it: both must be in one tile (a tile
 * loads all its C before it stores any), so no tile of several may get a
 * single vector.  That holds while every tile can take at least 3. */
typedef char OP(tiles_take_three_vectors)[TILE_VECS(TILE_MAX_ROWS) >= 3 ? 1
                                                                       : -1];
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
