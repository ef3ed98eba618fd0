/* dispatch_macros_end.h - undoes dispatch_macros.h. */
#undef DISPATCH
#undef DISPATCH_VOID
#undef PUBLIC
#undef VARIANT
#undef DISPATCH_CAT
#undef DISPATCH_CAT_
