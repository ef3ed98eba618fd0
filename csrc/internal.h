/* internal.h - shared by the kernel translation units, not part of the API. */
#ifndef CRNN_INTERNAL_H
#define CRNN_INTERNAL_H

#include <math.h>
#include <string.h>

#include "crnn.h"

#if defined(_MSC_VER) && !defined(__clang__)
#define restrict __restrict
#endif

/* Several instruction-set variants of every kernel are compiled on x86-64
 * with GCC and picked at run time; elsewhere only the portable one.  Clang
 * is left out: it ignores "#pragma GCC target", so its "AVX" variants would
 * be baseline code under a misleading name. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) \
    && !defined(CRNN_NO_DISPATCH)
#define CRNN_MULTI_ISA 1
#else
#define CRNN_MULTI_ISA 0
#endif

#if CRNN_MULTI_ISA
#include <immintrin.h> /* usable inside functions compiled for a target */
#endif

/* Rows of V logits are padded to a multiple of this many elements in the
 * workspace, so every instruction set's vectors fit a whole number of times
 * (64 bytes of float, 128 bytes of double). */
#define CRNN_PAD 16
static inline size_t crnn_padded(size_t n)
{
    return (n + CRNN_PAD - 1) / CRNN_PAD * CRNN_PAD;
}

/* The kernels' hot loops use GCC/Clang vector extensions (explicit register
 * tiles, branch-free exp/tanh); other compilers get plain loops (which
 * -DCRNN_NO_VECTOR_EXT also selects, to test them). */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(CRNN_NO_VECTOR_EXT)
#define CRNN_VECTOR_EXT 1
#define CRNN_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define CRNN_VECTOR_EXT 0
#define CRNN_ALWAYS_INLINE static inline
#endif

/* OpenMP when the build enables it (setup.py adds -fopenmp if the compiler
 * accepts it); otherwise every parallel region runs on one thread. */
/* A pragma from inside a macro (MSVC spells the operator __pragma). */
#if defined(_MSC_VER) && !defined(__clang__)
#define CRNN_PRAGMA(x) __pragma(x)
#else
#define CRNN_PRAGMA(x) _Pragma(#x)
#endif

/* 1 if a team of threads may be started now (dispatch.c), and noted. */
int crnn_team_allowed(void);

#ifdef _OPENMP
#include <omp.h>
#define CRNN_THREAD_ID() omp_get_thread_num()
#define CRNN_THREAD_COUNT() omp_get_num_threads()
#else
#define CRNN_THREAD_ID() 0
#define CRNN_THREAD_COUNT() 1
#endif

/* Threads worth using for a pass: at most one per core and one per stream
 * (the recurrences are shared out by streams), and only as many as get a
 * million of the pass's multiply-adds each, enough to pay for starting a
 * team and the few barriers of a pass. */
static inline int crnn_team_size(int n_threads, int streams,
                                 double multiply_adds)
{
#ifdef _OPENMP
    int n = n_threads;
    if (n > omp_get_num_procs())
        n = omp_get_num_procs();
    if (n > streams)
        n = streams;
    if (n > multiply_adds / 1e6)
        n = (int)(multiply_adds / 1e6);
    if (n > 1 && !crnn_team_allowed())
        n = 1;
    return n < 1 ? 1 : n;
#else
    (void)n_threads, (void)streams, (void)multiply_adds;
    return 1;
#endif
}

/* A barrier of a team of nt threads (nothing for one thread). */
#ifdef _OPENMP
#define CRNN_BARRIER(nt)                                                     \
    do {                                                                     \
        if ((nt) > 1) {                                                      \
            CRNN_PRAGMA(omp barrier)                                         \
        }                                                                    \
    } while (0)
#else
#define CRNN_BARRIER(nt) ((void)(nt))
#endif

/* Runs call with tid and team set, on a team of nt threads (or directly
 * when nt is 1 or there is no OpenMP). */
#ifdef _OPENMP
#define CRNN_RUN_TEAM(nt, call)                                              \
    do {                                                                     \
        if ((nt) > 1) {                                                      \
            CRNN_PRAGMA(omp parallel num_threads(nt))                        \
            {                                                                \
                const int tid = CRNN_THREAD_ID();                            \
                const int team = CRNN_THREAD_COUNT();                        \
                call;                                                        \
            }                                                                \
        } else {                                                             \
            const int tid = 0, team = 1;                                     \
            call;                                                            \
        }                                                                    \
    } while (0)
#else
#define CRNN_RUN_TEAM(nt, call)                                              \
    do {                                                                     \
        const int tid = 0, team = 1;                                         \
        (void)(nt);                                                          \
        call;                                                                \
    } while (0)
#endif

#endif /* CRNN_INTERNAL_H */
