/* The double optimizer updates: every instruction-set variant plus the public
 * entry points declared in optim.h. */
#include "internal.h"
#include "optim.h"

#define REAL double
#define REAL_IS_DOUBLE 1
#define SUFFIX _f64
#include "optim_variants.h"
