/* The float kernels of the one-layer tanh network: every
 * instruction-set variant of kernels_impl.h (isa_variants.h) plus the public entry points (api_impl.h). */
#include "internal.h"

#define REAL float
#define IREAL int32_t /* the signed integer of REAL's width */
#define REAL_IS_DOUBLE 0
#define SUFFIX _f32
#define CRNN_TEMPLATE "kernels_impl.h"
#define CRNN_WITH_OPS 1

#include "isa_variants.h"
#include "api_impl.h"
