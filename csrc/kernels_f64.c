/* The double kernels: every instruction-set variant plus the public entry points. */
#include "internal.h"

#define REAL double
#define SUFFIX _f64
#include "variants.h"
