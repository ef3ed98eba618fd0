/* Buffer layouts shared by both float types (see crnn.h). */
#include "crnn.h"

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

size_t crnn_forward_workspace(int B, int T, int H, int V)
{
    const size_t b = (size_t)B, t = (size_t)T, h = (size_t)H, v = (size_t)V;
    return (t + 1) * b * h + t * b * v + h * h + h * v;
}

size_t crnn_train_workspace(int B, int T, int H, int V)
{
    const size_t b = (size_t)B, t = (size_t)T, h = (size_t)H, v = (size_t)V;
    return crnn_forward_workspace(B, T, H, V) + t * b * v + t * b * h
           + 2 * b * h + v;
}

size_t crnn_sample_workspace(int H, int V)
{
    const size_t h = (size_t)H, v = (size_t)V;
    return h * h + h * v + h + v;
}
