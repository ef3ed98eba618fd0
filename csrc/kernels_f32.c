/* The float kernels: every instruction-set variant plus the public entry points. */
#include "internal.h"

#define REAL float
#define SUFFIX _f32
#include "variants.h"
