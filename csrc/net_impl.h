/*
 * net_impl.h - the stacked-network kernels (net.h), written once for one
 * float type and instruction set; included by isa_variants.h after
 * ops_impl.h, like kernels_impl.h.  Every function is static and named
 * name##SUFFIX##ISA; net_api_impl.h defines the public entry points.
 *
 * Memory plan: layer by layer over the whole chunk.  Only the recurrent
 * product of a step (all gates at once: one crnn_gemm, or for one stream
 * one pass of dot products over W_hh) runs per time step, with the gate
 * math right after it on the (streams, gates) block while it is in cache.
 * Everything else is chunk-wide: layer 0's input projection is a row
 * gather of W_ih^T, the input projections of layers > 0, the output
 * layer's logits/softmax/dlogits/dW, and every weight gradient are single
 * matrix products over the T*B rows of the chunk.
 *
 * Threads: one parallel region per call; every thread runs the same phases
 * on its share, separated by barriers (end_phase).  Recurrences are shared
 * by streams, chunk-wide products by rows of their output; every output
 * element is one sum computed by one thread in a fixed order, so results
 * are the same bits for any n_threads.
 */

#include "layers/common_impl.h"
#include "layers/rnn_impl.h"
#include "layers/lstm_impl.h"
#include "layers/gru_impl.h"
#include "layers/output_impl.h"

/* Everything a pass over one chunk needs. */
typedef struct {
    const REAL *params, *masks;
    const int32_t *inputs, *targets; /* (B, T); targets may be NULL */
    REAL *work;
    crnn_net_plan plan;
    int cell, L, B, T, H, V, GH, S, Vp, Vn;
    size_t GHp; /* row stride of whh_t, wih_t, da, dhh (crnn_net_ld) */
    int one_stream; /* B == 1: products as dot products (rec_product) */
    FN(stopper) stop;
} FN(net);

/* One recurrent layer's buffers and parameters (see net_internal.h). */
typedef struct {
    REAL *hs, *cs, *tc, *pre, *hn, *xin, *whh_t, *whh_p, *whh_tp, *wih_t, *wih_tp,
        *wih_p, *bsum;
    const REAL *w_ih, *w_hh, *b_ih, *b_hh;
    FN(rec_weights) rw;
    const REAL *in; /* l > 0: the input sequence (T,B,H) */
    crnn_net_offsets at;
} FN(layer);

static FN(net) FN(make_net)(REAL *work, const REAL *params,
                            const int32_t *inputs, const int32_t *targets,
                            const REAL *masks, const volatile int *cancel,
                            int cell, int L, int B, int T, int H, int V)
{
    FN(net) c;
    c.params = params;
    c.masks = masks;
    c.inputs = inputs;
    c.targets = targets;
    c.work = work;
    c.plan = crnn_net_workspace_plan(cell, L, B, T, H, V);
    c.cell = cell;
    c.L = L;
    c.B = B;
    c.T = T;
    c.H = H;
    c.V = V;
    c.GH = crnn_net_gates(cell) * H;
    c.GHp = crnn_net_ld((size_t)c.GH);
    c.S = crnn_net_state_width(cell, H);
    c.Vp = (int)crnn_padded((size_t)V);
    c.Vn = (V + LANES - 1) / LANES * LANES;
    c.one_stream = B == 1;
    FN(stopper_init)(&c.stop, cancel);
    return c;
}

static FN(layer) FN(get_layer)(const FN(net) *c, int l)
{
    const crnn_net_plan *p = &c->plan;
    REAL *base = c->work + p->layers + (size_t)l * p->layer_stride;
    FN(layer) y;
    y.hs = base + p->hs;
    y.cs = base + p->cs;
    y.tc = base + p->tc;
    /* rnn: the pre-activations are computed in place in hs[1..T] */
    y.pre = c->cell == CRNN_CELL_RNN ? y.hs + (size_t)c->B * c->H
                                     : base + p->pre;
    y.hn = base + p->hn;
    y.xin = base + p->xin;
    y.whh_t = base + p->whh_t;
    y.whh_p = base + p->whh_p;
    y.whh_tp = base + p->whh_tp;
    y.wih_t = base + p->wih_t;
    y.wih_tp = base + p->wih_tp;
    y.wih_p = base + p->wih_p;
    y.bsum = base + p->bsum;
    y.at = crnn_net_layer_offsets(c->cell, c->L, c->H, c->V, l);
    y.w_ih = c->params + y.at.w_ih;
    y.w_hh = c->params + y.at.w_hh;
    y.b_ih = c->params + y.at.b_ih;
    y.b_hh = c->cell == CRNN_CELL_RNN ? NULL : c->params + y.at.b_hh;
    y.rw.w = y.w_hh;
    y.rw.wt = y.whh_t;
    y.rw.wtp = y.whh_tp;
    y.rw.wp = c->one_stream ? y.w_hh : y.whh_p;
    y.rw.ldt = c->GHp;
    y.rw.packed = !c->one_stream;
    y.in = NULL;
    if (l > 0) {
        const REAL *below = c->work + p->layers
                            + (size_t)(l - 1) * p->layer_stride + p->hs;
        y.in = c->masks ? y.xin : below + (size_t)c->B * c->H;
    }
    return y;
}

/* Phase 0 of forward, this thread's share: transposed weights, the bias
 * sums of the input projections, the initial states. */
static void FN(prepare)(const FN(net) *c, const REAL *state0, int tid, int nt)
{
    const int B = c->B, H = c->H, GH = c->GH, S = c->S;
    size_t lo, hi;
    for (int l = 0; l < c->L; l++) {
        const FN(layer) y = FN(get_layer)(c, l);
        FN(share)((size_t)H, 4, tid, nt, &lo, &hi);
        if (l > 0)
            FN(crnn_transpose)(y.wih_t, c->GHp, y.w_ih, GH, H, (int)lo,
                               (int)hi);
        if (l > 0) /* packed for project_input */
            FN(pack_rows)(y.wih_tp, y.wih_t, c->GHp, H, GH, (int)lo, (int)hi);
        if (!c->one_stream) { /* one stream reads W_hh itself */
            FN(crnn_transpose)(y.whh_t, c->GHp, y.w_hh, GH, H, (int)lo,
                               (int)hi);
            FN(pack_rows)(y.whh_tp, y.whh_t, c->GHp, H, GH, (int)lo, (int)hi);
            FN(share)((size_t)GH, 1, tid, nt, &lo, &hi);
            FN(pack_rows)(y.whh_p, y.w_hh, (size_t)H, GH, H, (int)lo, (int)hi);
        }
        if (l > 0) { /* packed for the gradient into the layer below */
            FN(share)((size_t)GH, 1, tid, nt, &lo, &hi);
            FN(pack_rows)(y.wih_p, y.w_ih, (size_t)H, GH, H, (int)lo, (int)hi);
        }
        FN(share)((size_t)GH, CRNN_PAD, tid, nt, &lo, &hi);
        for (size_t j = lo; j < hi; j++)
            y.bsum[j] = c->cell == CRNN_CELL_LSTM ? y.b_ih[j] + y.b_hh[j]
                                                  : y.b_ih[j];
        FN(share)((size_t)B, 1, tid, nt, &lo, &hi);
        for (size_t b = lo; b < hi; b++) {
            const REAL *s0 = state0 + ((size_t)l * B + b) * S;
            memcpy(y.hs + b * H, s0, (size_t)H * sizeof(REAL));
            if (c->cell == CRNN_CELL_LSTM)
                memcpy(y.cs + b * H, s0 + H, (size_t)H * sizeof(REAL));
        }
    }
    const crnn_net_offsets top = crnn_net_layer_offsets(c->cell, c->L, H,
                                                        c->V, c->L);
    FN(share)((size_t)H, 4, tid, nt, &lo, &hi);
    FN(crnn_transpose)(c->work + c->plan.wout_t, (size_t)c->Vp,
                       c->params + top.w_ih, c->V, H, (int)lo, (int)hi);
}

/* Layer l > 0's input projections, rows [lo, hi) of the chunk: the masked
 * input (dropout), then pre = bsum + in W_ih^T. */
static void FN(project_input)(const FN(net) *c, const FN(layer) *y, int l,
                              size_t lo, size_t hi)
{
    const int H = c->H, GH = c->GH;
    const size_t BH = (size_t)c->B * H;
    if (lo >= hi)
        return;
    if (c->masks) {
        const FN(layer) below = FN(get_layer)(c, l - 1);
        const REAL *m = c->masks + (size_t)(l - 1) * c->T * BH;
        for (size_t i = lo * H; i < hi * H; i++)
            y->xin[i] = m[i] * below.hs[BH + i];
    }
    for (size_t r = lo; r < hi; r++)
        memcpy(y->pre + r * GH, y->bsum, (size_t)GH * sizeof(REAL));
    FN(gemm_packed)(y->pre + lo * GH, (size_t)GH, y->in + lo * H, H, 1,
                    y->wih_tp, (int)(hi - lo), GH, H, 1);
}

/* One forward step of layer y at time t for streams [b0, b0 + n). */
static void FN(forward_step)(const FN(net) *c, const FN(layer) *y, int t,
                             size_t b0, int n)
{
    const int H = c->H, one = c->one_stream, dir = t & 1;
    const size_t r0 = (size_t)t * c->B + b0, r1 = r0 + c->B;
    switch (c->cell) {
    case CRNN_CELL_LSTM:
        FN(lstm_step)(y->pre + r0 * c->GH, y->hs + r1 * H, y->cs + r1 * H,
                      y->tc + r0 * H, y->hs + r0 * H, y->cs + r0 * H,
                      &y->rw, n, H, one, dir);
        break;
    case CRNN_CELL_GRU:
        FN(gru_step)(y->pre + r0 * c->GH, y->hn + r0 * H, y->hs + r1 * H,
                     y->hs + r0 * H, c->work + c->plan.hh + b0 * c->GH,
                     y->b_hh, &y->rw, n, H, one, dir);
        break;
    default:
        FN(rnn_step)(y->hs + r1 * H, y->hs + r0 * H, &y->rw, n, H, one, dir);
    }
}

/* The recurrence of layer l for this thread's streams: layer 0's input
 * rows gathered first, then step by step (cancel polled at every step);
 * then the final states and, if asked, every step's state. */
static void FN(recur)(FN(net) *c, const FN(layer) *y, int l, REAL *state_out,
                      REAL *states_seq, int phase, int tid, int nt)
{
    const int B = c->B, T = c->T, H = c->H, GH = c->GH, S = c->S;
    const int lstm = c->cell == CRNN_CELL_LSTM;
    size_t b0, b1;
    FN(share)((size_t)B, 1, tid, nt, &b0, &b1);
    if (b0 >= b1)
        return;
    if (l == 0)
        for (int t = 0; t < T; t++)
            for (size_t b = b0; b < b1; b++) {
                const REAL *row =
                    y->w_ih + (size_t)c->inputs[b * T + t] * GH;
                REAL *p = y->pre + ((size_t)t * B + b) * GH;
                for (int j = 0; j < GH; j++)
                    p[j] = row[j] + y->bsum[j];
            }
    for (int t = 0; t < T; t++) {
        if (FN(poll)(&c->stop, phase))
            return;
        FN(forward_step)(c, y, t, b0, (int)(b1 - b0));
    }
    for (size_t b = b0; b < b1; b++) {
        const size_t r = (size_t)T * B + b;
        REAL *dst = state_out + ((size_t)l * B + b) * S;
        memcpy(dst, y->hs + r * H, (size_t)H * sizeof(REAL));
        if (lstm)
            memcpy(dst + H, y->cs + r * H, (size_t)H * sizeof(REAL));
    }
    if (!states_seq)
        return;
    for (int t = 0; t < T; t++)
        for (size_t b = b0; b < b1; b++) {
            const size_t r = ((size_t)t + 1) * B + b;
            REAL *dst = states_seq + (((size_t)t * c->L + l) * B + b) * S;
            memcpy(dst, y->hs + r * H, (size_t)H * sizeof(REAL));
            if (lstm)
                memcpy(dst + H, y->cs + r * H, (size_t)H * sizeof(REAL));
        }
}

/* Forward, this thread's share.  Returns 1 if cancelled (all threads). */
static int FN(forward_pass)(FN(net) *c, REAL *state_out, const REAL *state0,
                            REAL *states_seq, REAL *probs_out, int tid,
                            int nt)
{
    const size_t rows = (size_t)c->T * c->B;
    size_t lo, hi;
    int phase = 0;
    FN(prepare)(c, state0, tid, nt);
    if (FN(end_phase)(&c->stop, &phase, tid, nt))
        return 1;
    for (int l = 0; l < c->L; l++) {
        const FN(layer) y = FN(get_layer)(c, l);
        if (l > 0) {
            FN(share)(rows, 1, tid, nt, &lo, &hi);
            FN(project_input)(c, &y, l, lo, hi);
            if (FN(end_phase)(&c->stop, &phase, tid, nt))
                return 1;
        }
        FN(recur)(c, &y, l, state_out, states_seq, phase, tid, nt);
        if (FN(end_phase)(&c->stop, &phase, tid, nt))
            return 1;
    }
    if (!c->targets && !probs_out)
        return 0;
    const FN(layer) top = FN(get_layer)(c, c->L - 1);
    const crnn_net_offsets out = crnn_net_layer_offsets(c->cell, c->L, c->H,
                                                        c->V, c->L);
    REAL *probs = c->work + c->plan.probs;
    FN(share)(rows, 1, tid, nt, &lo, &hi);
    FN(output_forward)(probs, (char *)(c->work + c->plan.row_loss),
                       top.hs + (size_t)c->B * c->H, c->work + c->plan.wout_t,
                       c->params + out.b_ih, c->targets, lo, hi, c->B, c->T,
                       c->H, c->V, c->Vp, c->Vn);
    if (probs_out)
        for (size_t r = lo; r < hi; r++)
            memcpy(probs_out + r * c->V, probs + r * c->Vp,
                   (size_t)c->V * sizeof(REAL));
    return 0;
}

#include "net_backward_impl.h"

static void FN(forward_team)(FN(net) *c, REAL *state_out, const REAL *state0,
                             REAL *states_seq, REAL *probs_out, int *stopped,
                             int tid, int nt)
{
    const int s = FN(forward_pass)(c, state_out, state0, states_seq,
                                   probs_out, tid, nt);
    if (tid == 0)
        *stopped = s;
}

static int FN(crnn_net_forward)(double *loss, REAL *work, REAL *state_out,
                                const REAL *params, const int32_t *inputs,
                                const int32_t *targets, const REAL *state0,
                                const REAL *masks, REAL *states_seq,
                                REAL *probs_out, const volatile int *cancel,
                                int cell, int L, int B, int T, int H, int V,
                                int n_threads)
{
    FN(net) c = FN(make_net)(work, params, inputs, targets, masks, cancel,
                             cell, L, B, T, H, V);
    const int nt = FN(net_team_size)(n_threads, crnn_net_gates(cell), L, B, T,
                                     H);
    int stopped = 0;
    CRNN_RUN_TEAM(nt, FN(forward_team)(&c, state_out, state0, states_seq,
                                      probs_out, &stopped, tid, team));
    if (stopped)
        return 1;
    if (targets && loss) {
        /* the row losses summed in row order, over B */
        const char *row_loss = (const char *)(work + c.plan.row_loss);
        double sum = 0.0;
        for (size_t r = 0; r < (size_t)T * B; r++) {
            double x;
            memcpy(&x, row_loss + r * sizeof x, sizeof x);
            sum += x;
        }
        *loss = sum / B;
    }
    return 0;
}

static void FN(backward_team)(FN(net) *c, REAL *grads, REAL *dstate0,
                              int *stopped, int tid, int nt)
{
    const int s = FN(backward_pass)(c, grads, dstate0, tid, nt);
    if (tid == 0)
        *stopped = s;
}

static int FN(crnn_net_backward)(REAL *grads, REAL *dstate0, REAL *work,
                                 const REAL *params, const int32_t *inputs,
                                 const int32_t *targets, const REAL *masks,
                                 const volatile int *cancel, int cell, int L,
                                 int B, int T, int H, int V, int n_threads)
{
    FN(net) c = FN(make_net)(work, params, inputs, targets, masks, cancel,
                             cell, L, B, T, H, V);
    const int nt = FN(net_team_size)(n_threads, crnn_net_gates(cell), L, B, T,
                                     H);
    int stopped = 0;
    CRNN_RUN_TEAM(nt, FN(backward_team)(&c, grads, dstate0, &stopped, tid,
                                       team));
    return stopped;
}

#include "net_sample_impl.h"

#undef LANES
#undef FN
#undef NET_CAT
#undef NET_CAT_
