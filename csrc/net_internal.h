/* net_internal.h - layouts shared by net_layout.c and the network kernels
 * (net_impl.h); not part of the API. */
#ifndef CRNN_NET_INTERNAL_H
#define CRNN_NET_INTERNAL_H

#include "internal.h"
#include "net.h"

/* Offsets (elements) of one layer's parameters; layer L is the output
 * layer (w_ih = W_out, b_ih = b_out, no w_hh / b_hh).  b_hh is only
 * meaningful for lstm and gru (the rnn cell has one bias, b_ih). */
typedef struct {
    size_t w_ih, w_hh, b_ih, b_hh;
} crnn_net_offsets;

crnn_net_offsets crnn_net_layer_offsets(int cell, int L, int H, int V, int l);

/* The row stride of a workspace matrix whose rows hold n elements: whole
 * vectors plus one more, so that walking down a column of a wide matrix
 * with a power-of-two row length does not hit the same cache sets. */
static inline size_t crnn_net_ld(size_t n)
{
    return crnn_padded(n) + CRNN_PAD;
}

/* The workspace, in elements of the kernel's float type.  Every recurrent
 * layer has a block of layer_stride elements at layers + l*layer_stride;
 * the offsets of its pieces are relative to the block.  All sequences are
 * time-major (t, b, .).  GH = gates*H, Vp = V padded (crnn_padded).
 *   per layer:  hs (T+1,B,H)  hs[0] = h0, hs[t+1] = h_t
 *               cs (T+1,B,H)  lstm: the same for c
 *               tc (T,B,H)    lstm: tanh(c_t)
 *               pre (T,B,GH)  lstm, gru: input projections + biases, then
 *                             the gate values after their nonlinearity
 *                             (rnn: the pre-activations live in hs)
 *               hn (T,B,H)    gru: W_hn h + b_hn of each step
 *               xin (T,B,H)   layers > 0 with dropout: the masked input
 *               whh_t (H,GH)  W_hh transposed     (row stride ld(GH))
 *               whh_p (GH,H)  W_hh packed (pack_rows in layers/common_impl.h)
 *               whh_tp (H,GH) W_hh^T packed
 *               wih_t (H,GH)  layers > 0: W_ih transposed (ld(GH))
 *               wih_tp, wih_p layers > 0: W_ih^T and W_ih packed
 *               bsum (GH)     the biases added to the input projection
 *   shared:     wout_t (H,Vp), probs (T,B,Vp), row_loss (T*B doubles),
 *               hh (B,GH) gru: one step's recurrent product
 *   backward:   dy (T,B,Vp), dh_ext (T,B,H) gradient into h_t from above,
 *               da (T,B,GH) gradient of the pre-activations (ld(GH)),
 *               dhh (T,B,GH) gru: of the recurrent ones (ld(GH)),
 *               carry (B,S) the gradient flowing into the previous step,
 *               packed (2,T*B,H) one layer's hs[0..T) and input, packed */
typedef struct {
    size_t layer_stride;
    size_t hs, cs, tc, pre, hn, xin, whh_t, whh_p, whh_tp, wih_t, wih_tp, wih_p,
        bsum;
    size_t layers, wout_t, probs, row_loss, hh, forward_total;
    size_t dy, dh_ext, da, dhh, carry, packed, total;
} crnn_net_plan;

crnn_net_plan crnn_net_workspace_plan(int cell, int L, int B, int T, int H,
                                      int V);

#endif /* CRNN_NET_INTERNAL_H */
