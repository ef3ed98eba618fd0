/*
 * variants.h - compiles the kernel templates once per instruction set for
 * the float type REAL / SUFFIX, then the dispatching public entry points.
 * Each variant is the same C code; only the compiler's target differs
 * (CRNN_ISA_LEVEL 0, 1, 2 lets a few lines use an instruction set's own
 * intrinsics, e.g. the reciprocal square root estimate in Adagrad).
 */

#define ISA _baseline
#define CRNN_ISA_LEVEL 0
#define CRNN_VECTOR_BYTES 16
#define CRNN_VECTOR_REGS 16
#include "ops_impl.h"
#include "kernels_impl.h"
#undef ISA
#undef CRNN_ISA_LEVEL
#undef CRNN_VECTOR_BYTES
#undef CRNN_VECTOR_REGS

#if CRNN_MULTI_ISA
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define ISA _avx2
#define CRNN_ISA_LEVEL 1
#define CRNN_VECTOR_BYTES 32
#define CRNN_VECTOR_REGS 16
#include "ops_impl.h"
#include "kernels_impl.h"
#undef ISA
#undef CRNN_ISA_LEVEL
#undef CRNN_VECTOR_BYTES
#undef CRNN_VECTOR_REGS
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx2,fma", "prefer-vector-width=512")
#define ISA _avx512
#define CRNN_ISA_LEVEL 2
#define CRNN_VECTOR_BYTES 64
#define CRNN_VECTOR_REGS 32
#include "ops_impl.h"
#include "kernels_impl.h"
#undef ISA
#undef CRNN_ISA_LEVEL
#undef CRNN_VECTOR_BYTES
#undef CRNN_VECTOR_REGS
#pragma GCC pop_options
#endif

#include "api_impl.h"
