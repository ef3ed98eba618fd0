/* internal.h - shared by the kernel translation units, not part of the API. */
#ifndef CRNN_INTERNAL_H
#define CRNN_INTERNAL_H

#include <math.h>
#include <string.h>

#include "crnn.h"

#if defined(_MSC_VER) && !defined(__clang__)
#define restrict __restrict
#endif

/* Several instruction-set variants of every kernel are compiled on x86-64
 * with GCC or Clang and picked at run time; elsewhere only the portable one. */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) \
    && !defined(CRNN_NO_DISPATCH)
#define CRNN_MULTI_ISA 1
#else
#define CRNN_MULTI_ISA 0
#endif

#endif /* CRNN_INTERNAL_H */
