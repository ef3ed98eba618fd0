/*
 * isa_variant.h - one instruction set's variant of CRNN_TEMPLATE (see
 * isa_variants.h, which defines ISA, CRNN_ISA_LEVEL, CRNN_VECTOR_BYTES and
 * CRNN_VECTOR_REGS before each inclusion; undefined again here).
 */

#if CRNN_WITH_OPS
#include "ops_impl.h"
#endif
#include CRNN_TEMPLATE

#undef ISA
#undef CRNN_ISA_LEVEL
#undef CRNN_VECTOR_BYTES
#undef CRNN_VECTOR_REGS
