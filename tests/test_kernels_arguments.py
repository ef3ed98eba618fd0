"""crnn._kernels argument checks: inputs never modified, read-only arrays, every bad input rejected untouched."""

import numpy as np
import pytest

from crnn.reference import minchar as ref
from crnn import _kernels as K
from _kernel_helpers import F32, F64, same_bytes


# ---------------------------------------------------------------------------
# valid argument sets for every kernel (used by the next three sections)

B0, T0, H0, V0 = 2, 3, 4, 5


def args_forward(dt, B=B0, T=T0, H=H0, V=V0):
    rng = np.random.default_rng(7)
    return {
        "work": np.zeros(K.train_workspace_size(B, T, H, V), dt),
        "h_last": np.zeros((B, H), dt),
        "params": ref.to_flat(ref.random_params(rng, H, V, 0.4, 0.1), dt),
        "inputs": rng.integers(0, V, (B, T), dtype=np.int32),
        "targets": rng.integers(0, V, (B, T), dtype=np.int32),
        "h0": rng.uniform(-0.5, 0.5, (B, H)).astype(dt),
    }


def args_backward(dt):
    a = args_forward(dt)
    K.forward(a["work"], a["h_last"], a["params"], a["inputs"], a["targets"], a["h0"])
    return {"grads": np.zeros_like(a["params"]), "dh0": np.zeros_like(a["h0"]), "work": a["work"],
            "params": a["params"], "inputs": a["inputs"], "targets": a["targets"]}


def args_train_step(dt):
    a = args_forward(dt)
    return {"params": a["params"], "mem": np.full_like(a["params"], 0.5), "grads": np.zeros_like(a["params"]),
            "work": a["work"], "h": a["h0"], "inputs": a["inputs"], "targets": a["targets"],
            "learning_rate": 0.1, "clip": 5.0, "eps": 1e-8}


def args_sample(dt, n=6):
    rng = np.random.default_rng(8)
    return {"out": np.zeros(n, np.int32), "h": rng.uniform(-0.5, 0.5, H0).astype(dt),
            "work": np.zeros(K.sample_workspace_size(H0, V0), dt),
            "params": ref.to_flat(ref.random_params(rng, H0, V0, 0.4, 0.1), dt),
            "x0": 1, "uniforms": rng.random(n), "temperature": 0.9}


def args_clip(dt):
    return {"grads": (np.random.default_rng(9).standard_normal(50) * 8).astype(dt), "limit": 5.0}


def args_adagrad(dt):
    rng = np.random.default_rng(10)
    return {"params": rng.standard_normal(40).astype(dt), "mem": rng.uniform(0, 1, 40).astype(dt),
            "grads": rng.standard_normal(40).astype(dt), "learning_rate": 0.1, "eps": 1e-8}


ARGS = {"forward": args_forward, "backward": args_backward, "train_step": args_train_step,
        "sample": args_sample, "clip": args_clip, "adagrad": args_adagrad}
# arguments each kernel may only read
IN_ARGS = {"forward": ["params", "inputs", "targets", "h0"], "backward": ["params", "inputs", "targets"],
           "train_step": ["inputs", "targets"], "sample": ["params", "uniforms"],
           "clip": [], "adagrad": ["grads"]}


def call(kernel, args):
    return getattr(K, kernel)(*args.values())


def snapshot(args):
    return {k: v.copy() for k, v in args.items() if isinstance(v, np.ndarray)}


@pytest.mark.parametrize("kernel", list(ARGS))
def test_valid_argument_sets_are_accepted(kernel, dtype):
    """The baselines of the bad-input tests below are themselves valid."""
    args = ARGS[kernel](dtype)
    before = snapshot(args)
    call(kernel, args)
    changed = [k for k in before if not same_bytes(before[k], args[k])]
    assert changed, "a kernel that writes nothing"


# ---------------------------------------------------------------------------
# inputs are never modified; read-only inputs are accepted

@pytest.mark.parametrize("kernel", [k for k in ARGS if IN_ARGS[k]])
def test_kernels_change_only_their_outputs(kernel, dtype):
    args = ARGS[kernel](dtype)
    before = snapshot(args)
    call(kernel, args)
    for name in IN_ARGS[kernel]:
        assert same_bytes(args[name], before[name]), f"{kernel} modified its input {name}"


@pytest.mark.parametrize("kernel", [k for k in ARGS if IN_ARGS[k]])
def test_read_only_inputs_are_accepted(kernel, dtype):
    writable = ARGS[kernel](dtype)
    call(kernel, writable)
    args = ARGS[kernel](dtype)
    for name in IN_ARGS[kernel]:
        args[name].flags.writeable = False
    result = call(kernel, args)
    for name, value in args.items():
        if isinstance(value, np.ndarray):
            assert same_bytes(value, writable[name]), name
    if kernel == "forward":
        assert result == call(kernel, ARGS[kernel](dtype))


def test_forward_read_only_without_targets(dtype):
    a = args_forward(dtype)
    for name in ("params", "inputs", "h0"):
        a[name].flags.writeable = False
    a["targets"] = None
    assert call("forward", a) == 0.0


def test_read_only_work_is_rejected(dtype):
    a = args_forward(dtype)
    a["work"].flags.writeable = False
    with pytest.raises(ValueError, match=r"(?i)work"):
        call("forward", a)


# ---------------------------------------------------------------------------
# bad inputs raise, with a useful message, and change nothing

def strided(a):
    """A non-contiguous view with the same shape and values as `a`."""
    big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    v = big[..., ::2]
    v[...] = a
    assert not v.flags.c_contiguous
    return v


def put_id(name, value, where=-1):
    def mutate(a, dt):
        ids = a[name].copy()
        ids.flat[where] = value
        a[name] = ids
    return mutate


def replace(name, make):
    def mutate(a, dt):
        a[name] = make(a, dt)
    return mutate


def several(*mutations):
    def mutate(a, dt):
        for m in mutations:
            m(a, dt)
    return mutate


def other(dt):
    return F32 if dt == F64 else F64


ID_WORDS = {"inputs": r"(?i)input", "targets": r"(?i)target"}
DTYPE = r"(?i)dtype|float|type"
CONTIG = r"(?i)contiguous"
SHAPE = r"(?i)shape|size|length|dimension|match|expected|elements"
WORK = r"(?i)work"
EMPTY = r"(?i)\bT\b|step|empty|zero|at least|positive|>= ?1|length"

BAD = []  # (id, kernel, mutate, exception, message pattern)

for kern in ("forward", "backward", "train_step"):
    for ids in ("inputs", "targets"):
        BAD += [
            (f"{ids}=-1", kern, put_id(ids, -1), ValueError, ID_WORDS[ids]),
            (f"{ids}=V", kern, put_id(ids, V0), ValueError, ID_WORDS[ids]),
            (f"{ids}=V-mid", kern, put_id(ids, V0, where=T0), ValueError, ID_WORDS[ids]),
            (f"{ids}=huge", kern, put_id(ids, 2**31 - 1, where=0), ValueError, ID_WORDS[ids]),
            (f"{ids}-int64", kern, replace(ids, lambda a, dt, n=ids: a[n].astype(np.int64)), TypeError,
             r"(?i)int32|dtype|type"),
            (f"{ids}-float", kern, replace(ids, lambda a, dt, n=ids: a[n].astype(dt)), TypeError,
             r"(?i)int32|dtype|type"),
            (f"{ids}-strided", kern, replace(ids, lambda a, dt, n=ids: strided(a[n])), ValueError, CONTIG),
            (f"{ids}-fortran", kern, replace(ids, lambda a, dt, n=ids: np.asfortranarray(a[n])), ValueError,
             CONTIG),
            (f"{ids}-1d", kern, replace(ids, lambda a, dt, n=ids: a[n][0].copy()), ValueError,
             r"(?i)dimension|shape|ndim|2-?d"),
            (f"{ids}-longer", kern, replace(ids, lambda a, dt, n=ids: np.zeros((B0, T0 + 1), np.int32)),
             ValueError, SHAPE),
            (f"{ids}-more-rows", kern, replace(ids, lambda a, dt, n=ids: np.zeros((B0 + 1, T0), np.int32)),
             ValueError, SHAPE),
        ]
    BAD += [
        ("T=0", kern, several(replace("inputs", lambda a, dt: np.zeros((B0, 0), np.int32)),
                              replace("targets", lambda a, dt: np.zeros((B0, 0), np.int32))), ValueError, EMPTY),
        ("params+1", kern, replace("params", lambda a, dt: np.zeros(a["params"].size + 1, dt)), ValueError,
         r"(?i)param|size|length|shape"),
        ("params-1", kern, replace("params", lambda a, dt: np.zeros(a["params"].size - 1, dt)), ValueError,
         r"(?i)param|size|length|shape"),
        ("params-2d", kern, replace("params", lambda a, dt: a["params"].reshape(1, -1)), ValueError,
         r"(?i)dimension|shape|ndim|param"),
        ("params-strided", kern, replace("params", lambda a, dt: strided(a["params"])), ValueError, CONTIG),
        ("params-other-dtype", kern, replace("params", lambda a, dt: a["params"].astype(other(dt))), TypeError,
         DTYPE),
        ("params-float16", kern, replace("params", lambda a, dt: a["params"].astype(np.float16)), TypeError,
         DTYPE),
        ("params-int", kern, replace("params", lambda a, dt: a["params"].astype(np.int64)), TypeError, DTYPE),
        ("work-short", kern, replace("work", lambda a, dt, k=kern: np.zeros(
            (K.forward_workspace_size if k == "forward" else K.train_workspace_size)(B0, T0, H0, V0) - 1, dt)),
         ValueError, WORK),
        ("work-other-dtype", kern, replace("work", lambda a, dt: a["work"].astype(other(dt))), TypeError, DTYPE),
        ("work-strided", kern, replace("work", lambda a, dt: strided(a["work"])), ValueError, CONTIG),
    ]

# per-kernel float arrays of shape (B, H)
for kern, name in [("forward", "h_last"), ("forward", "h0"), ("backward", "dh0"), ("train_step", "h")]:
    BAD += [
        (f"{name}-other-dtype", kern, replace(name, lambda a, dt, n=name: a[n].astype(other(dt))), TypeError, DTYPE),
        (f"{name}-fortran", kern, replace(name, lambda a, dt, n=name: np.asfortranarray(a[n])), ValueError, CONTIG),
        (f"{name}-strided", kern, replace(name, lambda a, dt, n=name: strided(a[n])), ValueError, CONTIG),
        (f"{name}-B+1", kern, replace(name, lambda a, dt: np.zeros((B0 + 1, H0), dt)), ValueError, SHAPE),
        (f"{name}-H+1", kern, replace(name, lambda a, dt: np.zeros((B0, H0 + 1), dt)), ValueError, SHAPE),
        (f"{name}-1d", kern, replace(name, lambda a, dt: np.zeros(H0, dt)), ValueError,
         r"(?i)dimension|shape|ndim|2-?d"),
    ]

BAD += [
    ("B=0", "forward", several(*[replace(n, lambda a, dt, n=n: a[n][:0].copy())
                                 for n in ("inputs", "targets", "h0", "h_last")]), ValueError,
     r"(?i)\bB\b|batch|stream|empty|zero|at least|positive"),
    ("forward-workspace-for-backward", "backward",
     replace("work", lambda a, dt: a["work"][:K.forward_workspace_size(B0, T0, H0, V0)].copy()), ValueError, WORK),
    ("targets-None", "backward", replace("targets", lambda a, dt: None), (TypeError, ValueError), r"(?i)target"),
    ("targets-None", "train_step", replace("targets", lambda a, dt: None), (TypeError, ValueError), r"(?i)target"),
]

for kern, names in [("backward", ["grads"]), ("train_step", ["grads", "mem"]), ("adagrad", ["grads", "mem"])]:
    for name in names:
        BAD += [
            (f"{name}+1", kern, replace(name, lambda a, dt, n=name: np.zeros(a[n].size + 1, dt)), ValueError,
             SHAPE),
            (f"{name}-1", kern, replace(name, lambda a, dt, n=name: np.zeros(a[n].size - 1, dt)), ValueError,
             SHAPE),
            (f"{name}-other-dtype", kern, replace(name, lambda a, dt, n=name: a[n].astype(other(dt))), TypeError,
             DTYPE),
            (f"{name}-strided", kern, replace(name, lambda a, dt, n=name: strided(a[n])), ValueError, CONTIG),
        ]

BAD += [
    ("params-strided", "adagrad", replace("params", lambda a, dt: strided(a["params"])), ValueError, CONTIG),
    ("params+1", "adagrad", replace("params", lambda a, dt: np.zeros(a["params"].size + 1, dt)), ValueError,
     SHAPE),
    ("params-int", "adagrad", replace("params", lambda a, dt: a["params"].astype(np.int64)), TypeError, DTYPE),
    ("grads-int", "clip", replace("grads", lambda a, dt: a["grads"].astype(np.int64)), TypeError, DTYPE),
    ("grads-float16", "clip", replace("grads", lambda a, dt: a["grads"].astype(np.float16)), TypeError, DTYPE),
    ("grads-strided", "clip", replace("grads", lambda a, dt: strided(a["grads"])), ValueError, CONTIG),
    # sampling
    ("n-mismatch", "sample", replace("out", lambda a, dt: np.zeros(a["out"].size + 1, np.int32)), ValueError,
     r"(?i)uniform|length|size|shape|\bn\b"),
    ("n-mismatch-uniforms", "sample", replace("uniforms", lambda a, dt: a["uniforms"][:-1].copy()), ValueError,
     r"(?i)uniform|length|size|shape|\bn\b"),
    ("x0=-1", "sample", replace("x0", lambda a, dt: -1), ValueError, r"(?i)x0"),
    ("x0=V", "sample", replace("x0", lambda a, dt: V0), ValueError, r"(?i)x0"),
    ("temperature<0", "sample", replace("temperature", lambda a, dt: -0.5), ValueError, r"(?i)temperature"),
    ("temperature-nan", "sample", replace("temperature", lambda a, dt: float("nan")), ValueError,
     r"(?i)temperature"),
    ("h-H+1", "sample", replace("h", lambda a, dt: np.zeros(H0 + 1, dt)), ValueError, SHAPE),
    ("h-2d", "sample", replace("h", lambda a, dt: a["h"].reshape(1, -1)), ValueError,
     r"(?i)dimension|shape|ndim|\bh\b"),
    ("h-other-dtype", "sample", replace("h", lambda a, dt: a["h"].astype(other(dt))), TypeError, DTYPE),
    ("h-strided", "sample", replace("h", lambda a, dt: strided(a["h"])), ValueError, CONTIG),
    ("work-short", "sample", replace("work", lambda a, dt: np.zeros(K.sample_workspace_size(H0, V0) - 1, dt)),
     ValueError, WORK),
    ("work-other-dtype", "sample", replace("work", lambda a, dt: a["work"].astype(other(dt))), TypeError, DTYPE),
    ("params+1", "sample", replace("params", lambda a, dt: np.zeros(a["params"].size + 1, dt)), ValueError,
     r"(?i)param|size|length|shape"),
    ("params-other-dtype", "sample", replace("params", lambda a, dt: a["params"].astype(other(dt))), TypeError,
     DTYPE),
    ("params-strided", "sample", replace("params", lambda a, dt: strided(a["params"])), ValueError, CONTIG),
    ("uniforms-float32", "sample", replace("uniforms", lambda a, dt: a["uniforms"].astype(np.float32)), TypeError,
     r"(?i)uniform|float64|dtype"),
    ("uniforms-strided", "sample", replace("uniforms", lambda a, dt: strided(a["uniforms"])), ValueError, CONTIG),
    ("out-int64", "sample", replace("out", lambda a, dt: a["out"].astype(np.int64)), TypeError,
     r"(?i)int32|dtype|type"),
    ("out-strided", "sample", replace("out", lambda a, dt: strided(a["out"])), ValueError, CONTIG),
]


@pytest.mark.parametrize("case_id,kernel,mutate,exc,pattern", BAD, ids=[f"{b[1]}-{b[0]}" for b in BAD])
def test_bad_input_raises_and_changes_nothing(case_id, kernel, mutate, exc, pattern, dtype):
    args = ARGS[kernel](dtype)
    mutate(args, dtype)
    before = snapshot(args)
    with pytest.raises(exc, match=pattern):
        call(kernel, args)
    for name, value in before.items():
        assert same_bytes(args[name], value), f"{name} changed although the call was rejected"


def set_arg(name, value):
    def mutate(a, dt):
        a[name] = value
    return mutate


BAD_SCALARS = [
    # n_threads (appended as the last positional argument)
    *[(f"n_threads={n}", k, set_arg("n_threads", n), ValueError, r"(?i)n_threads")
      for k in ("forward", "backward", "train_step") for n in (0, -2)],
    ("n_threads=1.5", "forward", set_arg("n_threads", 1.5), TypeError, r"(?i)n_threads"),
    # optimiser settings
    ("limit<0", "clip", set_arg("limit", -1.0), ValueError, r"(?i)limit"),
    ("limit-nan", "clip", set_arg("limit", float("nan")), ValueError, r"(?i)limit"),
    *[(f"lr={lr}", k, set_arg("learning_rate", lr), ValueError, r"(?i)learning_rate")
      for k in ("adagrad", "train_step") for lr in (0.0, -0.1, float("nan"), float("inf"))],
    *[(f"eps={e}", k, set_arg("eps", e), ValueError, r"(?i)eps")
      for k in ("adagrad", "train_step") for e in (0.0, -1e-8, float("nan"))],
    ("clip=0", "train_step", set_arg("clip", 0.0), ValueError, r"(?i)clip"),
    ("clip<0", "train_step", set_arg("clip", -5.0), ValueError, r"(?i)clip"),
    ("clip-nan", "train_step", set_arg("clip", float("nan")), ValueError, r"(?i)clip"),
    # sampling
    *[(f"uniform={u}", "sample", put_id("uniforms", u, where=2), ValueError, r"(?i)uniform")
      for u in (1.0, -0.25, float("nan"), 7.0)],
    ("x0-float", "sample", set_arg("x0", 1.0), TypeError, r"(?i)x0"),
    ("x0-huge", "sample", set_arg("x0", 2**40), ValueError, r"(?i)x0"),
    ("temperature-inf", "sample", set_arg("temperature", float("inf")), ValueError, r"(?i)temperature"),
    # not arrays at all
    ("params-list", "forward", replace("params", lambda a, dt: a["params"].tolist()), TypeError,
     r"(?i)params"),
    ("inputs-list", "forward", replace("inputs", lambda a, dt: a["inputs"].tolist()), TypeError,
     r"(?i)inputs"),
    ("grads-list", "clip", replace("grads", lambda a, dt: a["grads"].tolist()), TypeError, r"(?i)grads"),
    ("h-None", "sample", set_arg("h", None), TypeError, r"(?i)\bh\b"),
    ("h0-None", "forward", set_arg("h0", None), TypeError, r"(?i)h0"),
]


@pytest.mark.parametrize("case_id,kernel,mutate,exc,pattern", BAD_SCALARS,
                         ids=[f"{b[1]}-{b[0]}" for b in BAD_SCALARS])
def test_bad_scalar_or_object_raises_and_changes_nothing(case_id, kernel, mutate, exc, pattern, dtype):
    test_bad_input_raises_and_changes_nothing(case_id, kernel, mutate, exc, pattern, dtype)


@pytest.mark.parametrize("kernel,out", [("forward", "h_last"), ("backward", "grads"), ("backward", "dh0"),
                                        ("train_step", "params"), ("train_step", "mem"), ("train_step", "h"),
                                        ("sample", "out"), ("sample", "h"), ("clip", "grads"),
                                        ("adagrad", "params"), ("adagrad", "mem")])
def test_read_only_outputs_are_rejected(kernel, out, dtype):
    args = ARGS[kernel](dtype)
    args[out].flags.writeable = False
    before = snapshot(args)
    with pytest.raises(ValueError, match=r"(?i)writ|read-only|readonly"):
        call(kernel, args)
    for name, value in before.items():
        assert same_bytes(args[name], value), name


def test_sample_zero_ids_is_a_no_op(dtype):
    a = args_sample(dtype, n=0)
    h = a["h"].copy()
    call("sample", a)
    assert same_bytes(a["h"], h)


def test_numpy_integer_scalars_are_accepted(dtype):
    a = args_sample(dtype)
    b = args_sample(dtype)
    b["x0"] = np.int64(a["x0"])
    call("sample", a)
    call("sample", b)
    assert same_bytes(a["out"], b["out"]) and same_bytes(a["h"], b["h"])
