/* Buffer layouts shared by both float types (see crnn.h; the workspace
 * pieces are carved in kernels_impl.h, in the order listed here). */
#include <stdint.h>

#include "internal.h"

crnn_layout crnn_param_layout(int H, int V)
{
    const size_t h = (size_t)H, v = (size_t)V;
    crnn_layout L;
    L.wxh_t = 0;
    L.whh = L.wxh_t + v * h;
    L.why = L.whh + h * h;
    L.bh = L.why + v * h;
    L.by = L.bh + h;
    L.total = L.by + v;
    return L;
}

/* Sizes saturate at SIZE_MAX instead of wrapping around, so a caller that
 * checks "buffer >= size" can never be fooled by absurd dimensions. */
static size_t mul(size_t a, size_t b)
{
    return (a != 0 && b > SIZE_MAX / a) ? SIZE_MAX : a * b;
}

static size_t add(size_t a, size_t b)
{
    return b > SIZE_MAX - a ? SIZE_MAX : a + b;
}

size_t crnn_forward_workspace(int B, int T, int H, int V)
{
    const size_t b = (size_t)B, t = (size_t)T, h = (size_t)H;
    const size_t vp = crnn_padded((size_t)V);
    size_t n = mul(mul(t + 1, b), h);   /* hs (T+1,B,H)                  */
    n = add(n, mul(mul(t, b), vp));     /* probs (T,B,Vp)                */
    n = add(n, mul(h, h));              /* Whh^T                         */
    n = add(n, mul(h, vp));             /* Why^T (H,Vp)                  */
    return add(n, mul(2 * t, b));       /* row losses: T*B doubles       */
}

size_t crnn_train_workspace(int B, int T, int H, int V)
{
    const size_t b = (size_t)B, t = (size_t)T, h = (size_t)H, v = (size_t)V;
    size_t n = crnn_forward_workspace(B, T, H, V);
    n = add(n, mul(mul(t, b), crnn_padded(v))); /* dy (T,B,Vp)           */
    n = add(n, mul(mul(t, b), h));      /* dhraw                         */
    n = add(n, mul(b, h));              /* dhnext                        */
    return add(n, v);                   /* seen                          */
}

size_t crnn_sample_workspace(int H, int V)
{
    /* h (H) | logits (Vp) */
    return add((size_t)H, crnn_padded((size_t)V));
}

size_t crnn_trace_workspace(int T, int H, int V)
{
    /* Why^T (H,Vp) | logits (T,Vp) */
    const size_t vp = crnn_padded((size_t)V);
    return mul(add((size_t)H, (size_t)T), vp);
}
