/* The float kernels of the stacked networks: every instruction-set
 * variant of net_impl.h (isa_variants.h) plus the public entry points (net_api_impl.h). */
#include "net_internal.h"
/* ops_impl.h defines primitives these kernels do not all use. */
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunused-function"
#endif

#define REAL float
#define IREAL int32_t /* the signed integer of REAL's width */
#define REAL_IS_DOUBLE 0
#define SUFFIX _f32
#define CRNN_TEMPLATE "net_impl.h"
#define CRNN_WITH_OPS 1

#include "isa_variants.h"
#include "net_api_impl.h"
