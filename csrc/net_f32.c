/* The float network kernels: every instruction-set variant plus the public entry points. */
#include "net_internal.h"

#define REAL float
#define IREAL int32_t /* the signed integer of REAL's width */
#define REAL_IS_DOUBLE 0
#define SUFFIX _f32
#include "net_variants.h"
