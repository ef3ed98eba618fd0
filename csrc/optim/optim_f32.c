/* The float optimizer updates: every instruction-set variant plus the public
 * entry points declared in optim.h. */
#include "internal.h"
#include "optim.h"

#define REAL float
#define REAL_IS_DOUBLE 0
#define SUFFIX _f32
#include "optim_variants.h"
