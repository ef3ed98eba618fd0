/* The parameter layout and workspace sizes of the stacked networks (see
 * net.h, net_internal.h): the only place these formulas are written. */
#include <stdio.h>

#include "net_internal.h"

/* Saturating size arithmetic: SIZE_MAX stands for "too large". */
static size_t mul(size_t a, size_t b)
{
    return (a != 0 && b > SIZE_MAX / a) ? SIZE_MAX : a * b;
}

static size_t add(size_t a, size_t b)
{
    return b > SIZE_MAX - a ? SIZE_MAX : a + b;
}

int crnn_net_gates(int cell)
{
    return cell == CRNN_CELL_LSTM ? 4 : cell == CRNN_CELL_GRU ? 3 : 1;
}

int crnn_net_state_width(int cell, int H)
{
    return cell == CRNN_CELL_LSTM ? 2 * H : H;
}

int crnn_net_param_entries(int cell, int L)
{
    return 2 * L + 1 + (cell == CRNN_CELL_RNN ? L : 2 * L) + 1;
}

static void set_entry(crnn_net_param *p, const char *name, int l, size_t rows,
                      size_t cols, size_t offset)
{
    if (l >= 0)
        snprintf(p->name, sizeof p->name, "%s_l%d", name, l);
    else
        snprintf(p->name, sizeof p->name, "%s", name);
    p->rows = rows;
    p->cols = cols;
    p->offset = offset;
}

/* Weights of every layer, W_out, biases of every layer, b_out: the entries
 * in buffer order, from crnn_net_layer_offsets. */
int crnn_net_params(crnn_net_param *out, int cell, int L, int H, int V)
{
    const size_t h = (size_t)H, v = (size_t)V;
    const size_t gh = mul((size_t)crnn_net_gates(cell), h);
    int n = 0;
    for (int l = 0; l < L; l++) {
        const crnn_net_offsets o = crnn_net_layer_offsets(cell, L, H, V, l);
        if (l == 0)
            set_entry(&out[n++], "weight_ih_T", 0, v, gh, o.w_ih);
        else
            set_entry(&out[n++], "weight_ih", l, gh, h, o.w_ih);
        set_entry(&out[n++], "weight_hh", l, gh, h, o.w_hh);
    }
    const crnn_net_offsets top = crnn_net_layer_offsets(cell, L, H, V, L);
    set_entry(&out[n++], "weight_out", -1, v, h, top.w_ih);
    for (int l = 0; l < L; l++) {
        const crnn_net_offsets o = crnn_net_layer_offsets(cell, L, H, V, l);
        if (cell == CRNN_CELL_RNN) {
            set_entry(&out[n++], "bias", l, h, 1, o.b_ih);
            continue;
        }
        set_entry(&out[n++], "bias_ih", l, gh, 1, o.b_ih);
        set_entry(&out[n++], "bias_hh", l, gh, 1, o.b_hh);
    }
    set_entry(&out[n++], "bias_out", -1, v, 1, top.b_ih);
    return n;
}

size_t crnn_net_param_total(int cell, int L, int H, int V)
{
    crnn_net_offsets o = crnn_net_layer_offsets(cell, L, H, V, L);
    return add(o.b_ih, (size_t)V);
}

/* The layout formula.  Layer k's weights take (in_k + H) * GH elements
 * (in_0 = V, else H); the output's V*H; layer k's biases H (rnn) or 2*GH. */
crnn_net_offsets crnn_net_layer_offsets(int cell, int L, int H, int V, int l)
{
    crnn_net_offsets o;
    const size_t h = (size_t)H, v = (size_t)V;
    const size_t gh = mul((size_t)crnn_net_gates(cell), h);
    /* the weights of layers before l, then the biases of layers before l */
    size_t weights = 0;
    for (int k = 0; k < l && k < L; k++)
        weights = add(weights, mul(add(k == 0 ? v : h, h), gh));
    size_t all_weights = weights;
    for (int k = l; k < L; k++)
        all_weights = add(all_weights, mul(add(k == 0 ? v : h, h), gh));
    all_weights = add(all_weights, mul(v, h));
    const size_t bias_block = cell == CRNN_CELL_RNN ? h : mul(2, gh);
    if (l >= L) { /* output layer */
        o.w_ih = weights;
        o.w_hh = SIZE_MAX;
        o.b_ih = add(all_weights, mul((size_t)L, bias_block));
        o.b_hh = SIZE_MAX;
        return o;
    }
    o.w_ih = weights;
    o.w_hh = add(weights, mul(l == 0 ? v : h, gh));
    o.b_ih = add(all_weights, mul((size_t)l, bias_block));
    o.b_hh = cell == CRNN_CELL_RNN ? SIZE_MAX : add(o.b_ih, gh);
    return o;
}

crnn_net_plan crnn_net_workspace_plan(int cell, int L, int B, int T, int H,
                                      int V)
{
    const size_t b = (size_t)B, t = (size_t)T, h = (size_t)H;
    const size_t gh = mul((size_t)crnn_net_gates(cell), h);
    const size_t ghp = crnn_net_ld(gh);
    const size_t tbh = mul(mul(t, b), h), tbgh = mul(mul(t, b), gh);
    const size_t vp = crnn_padded((size_t)V);
    const int lstm = cell == CRNN_CELL_LSTM, gru = cell == CRNN_CELL_GRU;
    crnn_net_plan p;
    size_t at = 0;
#define PIECE(field, n)                                                      \
    do {                                                                     \
        p.field = at;                                                        \
        at = add(at, (n));                                                   \
    } while (0)
    PIECE(hs, add(tbh, mul(b, h)));
    PIECE(cs, lstm ? add(tbh, mul(b, h)) : 0);
    PIECE(tc, lstm ? tbh : 0);
    PIECE(pre, cell == CRNN_CELL_RNN ? 0 : tbgh);
    PIECE(hn, gru ? tbh : 0);
    PIECE(xin, L > 1 ? tbh : 0);
    PIECE(whh_t, mul(h, ghp));
    PIECE(whh_p, mul(gh, h));
    PIECE(whh_tp, mul(h, gh));
    PIECE(wih_t, L > 1 ? mul(h, ghp) : 0);
    PIECE(wih_tp, L > 1 ? mul(h, gh) : 0);
    PIECE(wih_p, L > 1 ? mul(gh, h) : 0);
    PIECE(bsum, gh);
    p.layer_stride = at;
    at = 0;
    PIECE(layers, mul((size_t)L, p.layer_stride));
    PIECE(wout_t, mul(h, vp));
    PIECE(probs, mul(mul(t, b), vp));
    PIECE(row_loss, mul(2 * t, b)); /* doubles, in float or double units */
    PIECE(hh, gru ? mul(b, gh) : 0);
    p.forward_total = at;
    PIECE(dy, mul(mul(t, b), vp));
    PIECE(dh_ext, tbh);
    PIECE(da, mul(mul(t, b), ghp));
    PIECE(dhh, gru ? mul(mul(t, b), ghp) : 0);
    PIECE(carry, mul(b, lstm ? 2 * h : h));
    PIECE(packed, mul(L > 1 ? 2 : 1, tbh));
    p.total = at;
#undef PIECE
    return p;
}

size_t crnn_net_workspace(int cell, int L, int B, int T, int H, int V,
                          int train)
{
    const crnn_net_plan p = crnn_net_workspace_plan(cell, L, B, T, H, V);
    return train ? p.total : p.forward_total;
}

size_t crnn_net_sample_workspace(int cell, int L, int H, int V)
{
    /* pre (GH) | hh (GH) | new h (H) | logits (Vp) */
    const size_t gh = mul((size_t)crnn_net_gates(cell), (size_t)H);
    (void)L;
    return add(add(mul(2, gh), (size_t)H), crnn_padded((size_t)V));
}
