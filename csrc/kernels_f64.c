/* The double instantiation of the kernel templates. */
#include <math.h>
#include <string.h>

#include "crnn.h"

#define REAL double
#define SUFFIX _f64
#include "ops_impl.h"
#include "kernels_impl.h"
