/*
 * net_variants.h - compiles the network kernels (net_impl.h, on the
 * primitives of ops_impl.h) once per instruction set for REAL / SUFFIX,
 * then the dispatching entry points (net_api_impl.h); as variants.h does
 * for the single-layer kernels.
 */

/* ops_impl.h defines primitives these kernels do not all use. */
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunused-function"
#endif

#define ISA _baseline
#define CRNN_ISA_LEVEL 0
#define CRNN_VECTOR_BYTES 16
#define CRNN_VECTOR_REGS 16
#include "ops_impl.h"
#include "net_impl.h"
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
#include "net_impl.h"
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
#include "net_impl.h"
#undef ISA
#undef CRNN_ISA_LEVEL
#undef CRNN_VECTOR_BYTES
#undef CRNN_VECTOR_REGS
#pragma GCC pop_options
#endif

#include "net_api_impl.h"
