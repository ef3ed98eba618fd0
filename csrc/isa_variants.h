/*
 * isa_variants.h - compiles one kernel template once per instruction set.
 *
 * The including file defines REAL / SUFFIX (the float type) and
 *   CRNN_TEMPLATE  the template to compile, as a quoted header name
 *                  (relative to csrc/)
 *   CRNN_WITH_OPS  1 to compile the primitives of ops_impl.h first
 * and then includes this file.  Each variant is the same C code; only the
 * compiler's target differs (isa_variant.h compiles one), and
 * CRNN_ISA_LEVEL 0, 1, 2 lets a few lines use an instruction set's own
 * intrinsics (e.g. the reciprocal square root estimate in Adagrad).  Every
 * function a template defines is named name##SUFFIX##ISA; the public entry
 * points that pick one at run time (dispatch_macros.h) come after.
 */

#define ISA _baseline
#define CRNN_ISA_LEVEL 0
#define CRNN_VECTOR_BYTES 16
#define CRNN_VECTOR_REGS 16
#include "isa_variant.h"

#if CRNN_MULTI_ISA
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define ISA _avx2
#define CRNN_ISA_LEVEL 1
#define CRNN_VECTOR_BYTES 32
#define CRNN_VECTOR_REGS 16
#include "isa_variant.h"
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx2,fma", "prefer-vector-width=512")
#define ISA _avx512
#define CRNN_ISA_LEVEL 2
#define CRNN_VECTOR_BYTES 64
#define CRNN_VECTOR_REGS 32
#include "isa_variant.h"
#pragma GCC pop_options
#endif
