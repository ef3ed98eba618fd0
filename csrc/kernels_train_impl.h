/*
 * kernels_train_impl.h - min-char-rnn's update for the one-layer tanh
 * network (part of kernels_impl.h, which includes it): element-wise clip
 * and Adagrad on their own, and train_step, in which forward, backward,
 * clip and Adagrad run as one team (Whh and Why are updated block by block
 * while their gradient is made, in weight_grad; the rest here).  This is
 * the fused specialisation of crnn.optim's Adagrad with clipping by value;
 * every other optimizer runs apart from backprop (optim/optim_impl.h).
 */

static void FN(crnn_clip)(REAL *g, REAL limit, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const REAL x = g[i];
        g[i] = x > limit ? limit : (x < -limit ? -limit : x);
    }
}

static void FN(crnn_adagrad)(REAL *restrict p, REAL *restrict mem,
                             const REAL *restrict g, REAL lr, REAL eps,
                             size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mem[i] += g[i] * g[i];
        p[i] -= lr * g[i] / REAL_SQRT(mem[i] + eps);
    }
}

/* The rest of train_step's update, this thread's share (Whh and Why were
 * updated as their gradients were made): the biases by index ranges, WxhT
 * rows of the characters present by columns. */
static void FN(update_pass)(const FN(chunk) *c, REAL *params, REAL *mem,
                            REAL *grads, int tid, int nt)
{
    const crnn_layout L = c->L;
    const int H = c->H;
    int lo, hi, c0, c1;
    FN(share)((int)(L.total - L.bh), CRNN_PAD, tid, nt, &lo, &hi);
    FN(crnn_clip_adagrad)(params + L.bh + lo, mem + L.bh + lo,
                          grads + L.bh + lo, c->clip, c->lr, c->eps,
                          (size_t)(hi - lo));
    FN(share)(H, CRNN_PAD, tid, nt, &c0, &c1);
    if (c0 >= c1)
        return;
    for (int v = 0; v < c->V; v++) {
        if (c->w.seen[v] == 0)
            continue;
        const size_t row = L.wxh_t + (size_t)v * H + c0;
        FN(crnn_clip_adagrad)(params + row, mem + row, grads + row, c->clip,
                              c->lr, c->eps, (size_t)(c1 - c0));
    }
}

/* train_step, this thread's share. */
static void FN(train_pass)(const FN(chunk) *c, REAL *params, REAL *mem,
                           REAL *grads, REAL *h, int tid, int nt)
{
    if (tid == 0) {
        /* WxhT rows of characters absent from the chunk: zero gradient,
         * no update (the same result for less work). */
        memset(c->w.seen, 0, (size_t)c->V * sizeof(REAL));
        for (int k = 0; k < c->B * c->T; k++)
            c->w.seen[c->inputs[k]] = 1;
    }
    FN(forward_pass)(c, h, h, tid, nt);
    CRNN_BARRIER(nt);
    FN(backward_pass)(c, grads, NULL, 1, tid, nt);
    CRNN_BARRIER(nt);
    FN(update_pass)(c, params, mem, grads, tid, nt);
}

static double FN(crnn_train_step)(REAL *params, REAL *mem, REAL *grads,
                                  REAL *work, REAL *h, const int32_t *inputs,
                                  const int32_t *targets, REAL lr, REAL clip,
                                  REAL eps, int B, int T, int H, int V,
                                  int n_threads)
{
    FN(chunk) c = FN(make_chunk)(work, params, inputs, targets, B, T, H, V);
    c.update_params = params;
    c.update_mem = mem;
    c.lr = lr;
    c.clip = clip;
    c.eps = eps;
    const int nt = FN(team_size)(n_threads, B, T, H);
    CRNN_RUN_TEAM(nt, FN(train_pass)(&c, params, mem, grads, h, tid, team));
    return FN(chunk_loss)(&c);
}
