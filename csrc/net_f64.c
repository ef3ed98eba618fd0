/* The double network kernels: every instruction-set variant plus the public entry points. */
#include "net_internal.h"

#define REAL double
#define IREAL int64_t /* the signed integer of REAL's width */
#define REAL_IS_DOUBLE 1
#define SUFFIX _f64
#include "net_variants.h"
