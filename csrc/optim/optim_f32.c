/* The float optimizer updates: every instruction-set variant of optim_impl.h
 * (isa_variants.h) plus the public entry points (optim_api_impl.h). */
#include "internal.h"
#include "optim.h"

#define REAL float
#define REAL_IS_DOUBLE 0
#define SUFFIX _f32
#define CRNN_TEMPLATE "optim/optim_impl.h"
#define CRNN_WITH_OPS 0

#include "isa_variants.h"
#include "optim_api_impl.h"
