/*
 * optim_impl.h - the optimizer updates, written once for one float type and
 * instruction set.  Included by isa_variants.h once per instruction set,
 * after REAL, SUFFIX, REAL_IS_DOUBLE and ISA are defined, so every function
 * here is static and named name##SUFFIX##ISA.  See optim.h for the formulas.
 *
 * Every update is one pass over its arrays, element by element: each element
 * is read once and written once, so the pass costs its memory traffic.  The
 * loops are plain C that the compiler vectorizes for the variant's target;
 * the settings that change which arrays a pass touches (momentum, centered,
 * amsgrad, ...) are constants of an always-inlined body, so each variant of
 * a loop is compiled without tests inside it.
 *
 * The order of operations inside an element follows torch.optim's
 * single-tensor code (e.g. lerp for Adam's first moment, addcdiv's
 * (value * t1) / t2), so float64 results stay within a few units in the last
 * place of PyTorch's.
 */

#define OPT_CAT_(a, b, c) a##b##c
#define OPT_CAT(a, b, c) OPT_CAT_(a, b, c)
#define OPT(name) OPT_CAT(name, SUFFIX, ISA)

#if REAL_IS_DOUBLE
#define OPT_SQRT sqrt
#else
#define OPT_SQRT sqrtf
#endif

/* The gradient as an update sees it: clamp(g * scale, -limit, limit), NaN
 * kept (both comparisons are false for NaN). */
CRNN_ALWAYS_INLINE REAL OPT(clipped)(REAL g, REAL scale, REAL limit)
{
    const REAL x = g * scale;
    return x > limit ? limit : (x < -limit ? -limit : x);
}

/* lerp(a, b, w) as ATen computes it: a + w (b - a) for w < 1/2, else
 * b - (b - a)(1 - w).  Written as base + c (b - a) with the choice made once
 * per call (small: w < 1/2, c: w or -(1 - w)). */
CRNN_ALWAYS_INLINE REAL OPT(lerp)(REAL a, REAL b, REAL c, int small)
{
    return (small ? a : b) + c * (b - a);
}

/* ------------------------------------------------------------ sum of squares
 * Blocks of 4096 elements, each summed in 4 vectors of double accumulators
 * of the target's width (independent chains, enough to hide the latency of
 * the multiply-add) and a scalar one for the last few elements, combined
 * pairwise; the block sums added in order.  One fixed order for each
 * variant, so repeated calls give the same bits. */
#define SUMSQ_BLOCK 4096
#if CRNN_VECTOR_EXT
#define SQ_LANES (CRNN_VECTOR_BYTES / 8)
typedef double OPT(vd) __attribute__((vector_size(SQ_LANES * 8)));
typedef REAL OPT(vr) __attribute__((vector_size(SQ_LANES * sizeof(REAL))));

/* SQ_LANES elements of g as doubles.  For float on AVX2 / AVX-512 one
 * converting load (GCC 12 splits the generic conversion into 2-lane pieces,
 * which halves the pass's speed). */
CRNN_ALWAYS_INLINE OPT(vd) OPT(load_wide)(const REAL *g)
{
#if !REAL_IS_DOUBLE && CRNN_MULTI_ISA && CRNN_VECTOR_BYTES == 32
    return (OPT(vd))_mm256_cvtps_pd(_mm_loadu_ps(g));
#elif !REAL_IS_DOUBLE && CRNN_MULTI_ISA && CRNN_VECTOR_BYTES == 64
    return (OPT(vd))_mm512_cvtps_pd(_mm256_loadu_ps(g));
#else
    OPT(vr) r;
    memcpy(&r, g, sizeof r);
    return __builtin_convertvector(r, OPT(vd));
#endif
}
#endif

static double OPT(sumsq_block)(const REAL *restrict g, size_t n)
{
    double sum = 0.0, rest = 0.0;
    size_t i = 0;
#if CRNN_VECTOR_EXT
    OPT(vd) a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    for (; i + 4 * SQ_LANES <= n; i += 4 * SQ_LANES) {
        const OPT(vd) x0 = OPT(load_wide)(g + i);
        const OPT(vd) x1 = OPT(load_wide)(g + i + SQ_LANES);
        const OPT(vd) x2 = OPT(load_wide)(g + i + 2 * SQ_LANES);
        const OPT(vd) x3 = OPT(load_wide)(g + i + 3 * SQ_LANES);
        a0 += x0 * x0;
        a1 += x1 * x1;
        a2 += x2 * x2;
        a3 += x3 * x3;
    }
    const OPT(vd) a = (a0 + a1) + (a2 + a3);
    for (int l = 0; l < SQ_LANES; l++)
        sum += a[l];
#endif
    for (; i < n; i++) {
        const double x = (double)g[i];
        rest += x * x;
    }
    return sum + rest;
}
#undef SQ_LANES

static double OPT(crnn_sumsq)(const REAL *g, size_t n)
{
    double total = 0.0;
    for (size_t b = 0; b < n; b += SUMSQ_BLOCK)
        total += OPT(sumsq_block)(g + b, n - b < SUMSQ_BLOCK ? n - b : SUMSQ_BLOCK);
    return total;
}
#undef SUMSQ_BLOCK

static void OPT(crnn_scale)(REAL *g, REAL s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        g[i] *= s;
}

/* ------------------------------------------------------------ Adagrad */

static void OPT(crnn_update_adagrad)(REAL *restrict p, REAL *restrict sum,
                                     const REAL *restrict g,
                                     const crnn_adagrad_hyper *h,
                                     crnn_grad_clip clip, size_t n)
{
    const REAL lr = (REAL)h->lr, eps = (REAL)h->eps;
    const REAL scale = (REAL)clip.scale, limit = (REAL)clip.limit;
    for (size_t i = 0; i < n; i++) {
        const REAL x = OPT(clipped)(g[i], scale, limit);
        sum[i] += x * x;
        p[i] -= lr * x / OPT_SQRT(sum[i] + eps);
    }
}

/* ------------------------------------------------------------ SGD */

typedef struct {
    REAL neg_lr, mu, keep, wd, scale, limit; /* keep = 1 - dampening */
} OPT(sgd_consts);

/* One pass; has_wd, has_mu, first, nesterov are constants at each call. */
CRNN_ALWAYS_INLINE void OPT(sgd_pass)(REAL *restrict p, REAL *restrict buf,
                                      const REAL *restrict g,
                                      const OPT(sgd_consts) *k, size_t n,
                                      int has_wd, int has_mu, int first,
                                      int nesterov)
{
    const REAL neg_lr = k->neg_lr, mu = k->mu, keep = k->keep, wd = k->wd;
    const REAL scale = k->scale, limit = k->limit;
    for (size_t i = 0; i < n; i++) {
        REAL x = OPT(clipped)(g[i], scale, limit);
        if (has_wd)
            x = x + wd * p[i];
        REAL d = x;
        if (has_mu) {
            const REAL b = first ? x : buf[i] * mu + keep * x;
            buf[i] = b;
            d = nesterov ? x + mu * b : b;
        }
        p[i] = p[i] + neg_lr * d;
    }
}

#define SGD_CASE(wd, mu, first, nest)                                        \
    OPT(sgd_pass)(p, buf, g, &k, n, wd, mu, first, nest)

static void OPT(crnn_update_sgd)(REAL *restrict p, REAL *restrict buf,
                                 const REAL *restrict g,
                                 const crnn_sgd_hyper *h, crnn_grad_clip clip,
                                 int64_t step, size_t n)
{
    const OPT(sgd_consts) k = {(REAL)-h->lr, (REAL)h->momentum,
                               (REAL)(1 - h->dampening), (REAL)h->weight_decay,
                               (REAL)clip.scale, (REAL)clip.limit};
    const int has_wd = h->weight_decay != 0, first = step <= 1;
    if (h->momentum == 0) {
        if (has_wd)
            SGD_CASE(1, 0, 0, 0);
        else
            SGD_CASE(0, 0, 0, 0);
    } else if (first) {
        if (h->nesterov)
            SGD_CASE(has_wd, 1, 1, 1);
        else
            SGD_CASE(has_wd, 1, 1, 0);
    } else if (h->nesterov) {
        if (has_wd)
            SGD_CASE(1, 1, 0, 1);
        else
            SGD_CASE(0, 1, 0, 1);
    } else {
        if (has_wd)
            SGD_CASE(1, 1, 0, 0);
        else
            SGD_CASE(0, 1, 0, 0);
    }
}
#undef SGD_CASE

/* ------------------------------------------------------------ RMSprop */

typedef struct {
    REAL neg_lr, alpha, one_minus_alpha, eps, wd, mu, c, scale, limit;
    int small; /* the lerp's form, for the centered average */
} OPT(rmsprop_consts);

CRNN_ALWAYS_INLINE void OPT(rmsprop_pass)(REAL *restrict p,
                                          REAL *restrict sq,
                                          REAL *restrict ga,
                                          REAL *restrict buf,
                                          const REAL *restrict g,
                                          const OPT(rmsprop_consts) *k,
                                          size_t n, int has_wd, int centered,
                                          int has_mu)
{
    const REAL neg_lr = k->neg_lr, alpha = k->alpha, oma = k->one_minus_alpha;
    const REAL eps = k->eps, wd = k->wd, mu = k->mu, c = k->c;
    const REAL scale = k->scale, limit = k->limit;
    const int small = k->small;
    for (size_t i = 0; i < n; i++) {
        REAL x = OPT(clipped)(g[i], scale, limit);
        if (has_wd)
            x = x + wd * p[i];
        const REAL s = sq[i] * alpha + oma * x * x;
        sq[i] = s;
        REAL avg;
        if (centered) {
            const REAL a = OPT(lerp)(ga[i], x, c, small);
            ga[i] = a;
            avg = OPT_SQRT(s - a * a) + eps;
        } else {
            avg = OPT_SQRT(s) + eps;
        }
        if (has_mu) {
            const REAL b = buf[i] * mu + x / avg;
            buf[i] = b;
            p[i] = p[i] + neg_lr * b;
        } else {
            p[i] = p[i] + neg_lr * x / avg;
        }
    }
}

#define RMS_CASE(wd, cen, mu)                                                \
    OPT(rmsprop_pass)(p, square_avg, grad_avg, buf, g, &k, n, wd, cen, mu)

static void OPT(crnn_update_rmsprop)(REAL *restrict p,
                                     REAL *restrict square_avg,
                                     REAL *restrict grad_avg,
                                     REAL *restrict buf,
                                     const REAL *restrict g,
                                     const crnn_rmsprop_hyper *h,
                                     crnn_grad_clip clip, size_t n)
{
    const double w = 1 - h->alpha; /* the centered average's lerp weight */
    const int small = w < 0.5;
    const OPT(rmsprop_consts) k = {
        (REAL)-h->lr, (REAL)h->alpha, (REAL)w, (REAL)h->eps,
        (REAL)h->weight_decay, (REAL)h->momentum,
        small ? (REAL)w : -(REAL)(1 - w), (REAL)clip.scale, (REAL)clip.limit,
        small};
    const int has_wd = h->weight_decay != 0, has_mu = h->momentum != 0;
    const int centered = grad_avg != NULL;
    if (has_wd) {
        if (centered)
            has_mu ? RMS_CASE(1, 1, 1) : RMS_CASE(1, 1, 0);
        else
            has_mu ? RMS_CASE(1, 0, 1) : RMS_CASE(1, 0, 0);
    } else {
        if (centered)
            has_mu ? RMS_CASE(0, 1, 1) : RMS_CASE(0, 1, 0);
        else
            has_mu ? RMS_CASE(0, 0, 1) : RMS_CASE(0, 0, 0);
    }
}
#undef RMS_CASE

/* ------------------------------------------------------------ Adam, AdamW */

typedef struct {
    REAL decay;     /* AdamW's 1 - lr*wd */
    REAL wd;        /* Adam's L2 term */
    REAL c1;        /* lerp coefficient for the first moment */
    REAL beta2, one_minus_beta2, inv_bc2_sqrt, eps, neg_step, scale, limit;
    int small;
} OPT(adam_consts);

CRNN_ALWAYS_INLINE void OPT(adam_pass)(REAL *restrict p, REAL *restrict m,
                                       REAL *restrict v, REAL *restrict vmax,
                                       const REAL *restrict g,
                                       const OPT(adam_consts) *k, size_t n,
                                       int decoupled, int has_wd, int amsgrad)
{
    const REAL decay = k->decay, wd = k->wd, c1 = k->c1, beta2 = k->beta2;
    const REAL omb2 = k->one_minus_beta2, inv_bc2_sqrt = k->inv_bc2_sqrt;
    const REAL eps = k->eps, neg_step = k->neg_step;
    const REAL scale = k->scale, limit = k->limit;
    const int small = k->small;
    for (size_t i = 0; i < n; i++) {
        REAL x = OPT(clipped)(g[i], scale, limit);
        REAL q = p[i];
        if (decoupled && has_wd)
            q = q * decay;
        else if (has_wd)
            x = x + wd * q;
        const REAL a = OPT(lerp)(m[i], x, c1, small);
        m[i] = a;
        REAL s = v[i] * beta2 + omb2 * x * x;
        v[i] = s;
        if (amsgrad) {
            s = vmax[i] > s ? vmax[i] : s; /* torch.maximum */
            vmax[i] = s;
        }
        /* torch divides by sqrt(1 - beta2^t); one division per element is
         * enough to keep the pass memory-bound, so multiply by its inverse
         * (a difference of an ulp or so) */
        const REAL denom = OPT_SQRT(s) * inv_bc2_sqrt + eps;
        p[i] = q + neg_step * a / denom;
    }
}

#define ADAM_CASE(dec, wd, ams)                                              \
    OPT(adam_pass)(p, exp_avg, exp_avg_sq, max_exp_avg_sq, g, &k, n, dec,    \
                   wd, ams)

static void OPT(crnn_update_adam)(REAL *restrict p, REAL *restrict exp_avg,
                                  REAL *restrict exp_avg_sq,
                                  REAL *restrict max_exp_avg_sq,
                                  const REAL *restrict g,
                                  const crnn_adam_hyper *h,
                                  crnn_grad_clip clip, int64_t step, size_t n)
{
    /* The scalars as torch computes them, in double (Python floats). */
    const double t = (double)step, w = 1 - h->beta1;
    const double bc1 = 1 - pow(h->beta1, t), bc2 = 1 - pow(h->beta2, t);
    const int small = w < 0.5;
    const OPT(adam_consts) k = {
        (REAL)(1 - h->lr * h->weight_decay), (REAL)h->weight_decay,
        small ? (REAL)w : -(REAL)(1 - w), (REAL)h->beta2,
        (REAL)(1 - h->beta2), (REAL)(1 / sqrt(bc2)), (REAL)h->eps,
        (REAL)-(h->lr / bc1), (REAL)clip.scale, (REAL)clip.limit, small};
    const int has_wd = h->weight_decay != 0, dec = h->decoupled != 0;
    const int ams = max_exp_avg_sq != NULL;
    if (!has_wd)
        ams ? ADAM_CASE(0, 0, 1) : ADAM_CASE(0, 0, 0);
    else if (dec)
        ams ? ADAM_CASE(1, 1, 1) : ADAM_CASE(1, 1, 0);
    else
        ams ? ADAM_CASE(0, 1, 1) : ADAM_CASE(0, 1, 0);
}
#undef ADAM_CASE

#undef OPT_SQRT
#undef OPT
#undef OPT_CAT
#undef OPT_CAT_
