/* The float instantiation of the kernel templates. */
#include <math.h>
#include <string.h>

#include "crnn.h"

#define REAL float
#define SUFFIX _f32
#include "ops_impl.h"
#include "kernels_impl.h"
