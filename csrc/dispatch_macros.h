/*
 * dispatch_macros.h - what a public entry point needs to forward to the
 * instruction-set variant crnn_get_isa() chose (dispatch.c):
 *   PUBLIC(name)              name##SUFFIX, the exported function
 *   DISPATCH(name, (args))    return the chosen variant's result
 *   DISPATCH_VOID(name, (args))  call it (ISO C forbids "return f();" in a
 *                             void function)
 * Included by api_impl.h, net_api_impl.h and optim/optim_api_impl.h, each
 * of which ends with #include "dispatch_macros_end.h".
 */

#define DISPATCH_CAT_(a, b, c) a##b##c
#define DISPATCH_CAT(a, b, c) DISPATCH_CAT_(a, b, c)
#define VARIANT(name, isa) DISPATCH_CAT(name, SUFFIX, isa)
#define PUBLIC(name) DISPATCH_CAT(name, SUFFIX, )

#if CRNN_MULTI_ISA
#define DISPATCH(name, args)                                                 \
    switch (crnn_get_isa()) {                                                \
    case CRNN_ISA_AVX512: return VARIANT(name, _avx512) args;                \
    case CRNN_ISA_AVX2: return VARIANT(name, _avx2) args;                    \
    default: return VARIANT(name, _baseline) args;                           \
    }
#define DISPATCH_VOID(name, args)                                            \
    switch (crnn_get_isa()) {                                                \
    case CRNN_ISA_AVX512: VARIANT(name, _avx512) args; break;                \
    case CRNN_ISA_AVX2: VARIANT(name, _avx2) args; break;                    \
    default: VARIANT(name, _baseline) args; break;                           \
    }
#else
#define DISPATCH(name, args) return VARIANT(name, _baseline) args;
#define DISPATCH_VOID(name, args) VARIANT(name, _baseline) args;
#endif
