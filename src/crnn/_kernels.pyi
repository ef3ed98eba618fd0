"""Type stub for the compiled kernel module ``crnn._kernels``.

Low-level API: thin, checked wrappers around the C kernels in ``csrc/``.
Every array argument must be a C-contiguous NumPy array.  Float arrays of one
call must all share one dtype (float32 or float64); ids are int32.  Bad
shapes, ranges or contiguity raise ``ValueError``; wrong dtypes ``TypeError``.
Nothing invalid ever reaches C.

Parameters live in one flat buffer of ``param_count(H, V)`` elements, in this
order (gradient and Adagrad buffers use the same layout)::

    WxhT (V, H)   Wxh stored transposed: row c is the input column of char c
    Whh  (H, H)
    Why  (V, H)
    bh   (H,)
    by   (V,)

``param_views`` gives min-char-rnn-shaped views into such a buffer
(``Wxh`` is (H, V), a transposed view of the stored ``WxhT``).

Loss convention: summed over the T time steps, averaged over the B streams
(so B = 1 is min-char-rnn's loss); gradients are those of that loss.
"""

from typing import Optional

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.floating]
IdArray = npt.NDArray[np.int32]

def param_count(hidden_size: int, vocab_size: int) -> int: ...
def param_views(flat: FloatArray, hidden_size: int, vocab_size: int) -> dict[str, FloatArray]: ...
def forward_workspace_size(batch: int, steps: int, hidden_size: int, vocab_size: int) -> int: ...
def train_workspace_size(batch: int, steps: int, hidden_size: int, vocab_size: int) -> int: ...
def sample_workspace_size(hidden_size: int, vocab_size: int) -> int: ...
def forward(
    work: FloatArray,  # OUT (B,T,H,V from the other args); len >= forward_workspace_size
    h_last: FloatArray,  # OUT (B, H): hidden state after the last step
    params: FloatArray,  # IN flat, param_count(H, V)
    inputs: IdArray,  # IN (B, T), ids in [0, V)
    targets: Optional[IdArray],  # IN (B, T) or None: then only the hidden states are computed, returns 0.0
    h0: FloatArray,  # IN (B, H)
    n_threads: int = 1,
) -> float: ...
def backward(
    grads: FloatArray,  # IN/OUT flat: gradients are ADDED (+=)
    dh0: FloatArray,  # OUT (B, H): gradient of the loss w.r.t. h0 (overwritten)
    work: FloatArray,  # IN/OUT: filled by forward() with the same arguments; len >= train_workspace_size
    params: FloatArray,
    inputs: IdArray,
    targets: IdArray,
    n_threads: int = 1,
) -> None: ...
def clip(grads: FloatArray, limit: float) -> None: ...  # IN/OUT, element-wise to [-limit, limit]
def adagrad(
    params: FloatArray,  # IN/OUT
    mem: FloatArray,  # IN/OUT: mem += g*g
    grads: FloatArray,  # IN: params -= lr * g / sqrt(mem + eps)
    learning_rate: float,
    eps: float = 1e-8,
) -> None: ...
def train_step(
    params: FloatArray,  # IN/OUT
    mem: FloatArray,  # IN/OUT Adagrad memory
    grads: FloatArray,  # OUT: the clipped gradient of this step
    work: FloatArray,  # OUT scratch, len >= train_workspace_size
    h: FloatArray,  # IN/OUT (B, H): initial state in, final state out
    inputs: IdArray,
    targets: IdArray,
    learning_rate: float,
    clip: float = 5.0,
    eps: float = 1e-8,
    n_threads: int = 1,
) -> float: ...  # zero grads, forward, backward, clip, Adagrad; returns the loss
def sample(
    out: IdArray,  # OUT (n,) sampled ids
    h: FloatArray,  # IN/OUT (H,)
    work: FloatArray,  # OUT scratch, len >= sample_workspace_size
    params: FloatArray,
    x0: int,  # the id fed first
    uniforms: npt.NDArray[np.float64],  # IN (n,) in [0, 1): one per sampled id
    temperature: float,  # >= 0; 0 picks the most likely id (the first on ties)
) -> None: ...
def trace_workspace_size(steps: int, hidden_size: int, vocab_size: int) -> int: ...
def trace(
    states: FloatArray,  # OUT (T, H): row t = hidden state after reading inputs[t]
    probs: FloatArray,  # OUT (T, V): row t = the prediction of inputs[t] (from h0 for t = 0, then states[t-1])
    work: FloatArray,  # OUT scratch, len >= trace_workspace_size(T, H, V)
    params: FloatArray,
    inputs: IdArray,  # IN (T,) ids in [0, V)
    h0: FloatArray,  # IN (H,): the state before inputs[0]; states[T-1] continues a text
) -> None: ...

def cpu_path() -> str: ...  # 'baseline', 'avx2' or 'avx512': the kernel variant in use
def vector_code() -> bool: ...
def set_cpu_path(name: str) -> str: ...  # cap the variant (testing); returns the one in use

# ---------------------------------------------------------------- stacked networks
# (csrc/net.h): L recurrent layers of one cell ("rnn", "lstm", "gru"; or 0, 1, 2)
# with PyTorch's equations, then a linear output layer.  State arrays are
# (L, B, S) with S = H, or 2H for the LSTM ([h | c]).  Layout of the flat
# parameter buffer: net_layout (see crnn.netparams).

CELLS: tuple[str, str, str]
Cell = str | int

def net_layout(cell: Cell, num_layers: int, hidden_size: int, vocab_size: int) -> list[tuple[str, tuple[int, ...], int]]: ...
def net_param_count(cell: Cell, num_layers: int, hidden_size: int, vocab_size: int) -> int: ...
def net_state_width(cell: Cell, hidden_size: int) -> int: ...
def net_workspace_size(cell: Cell, num_layers: int, batch: int, steps: int, hidden_size: int, vocab_size: int, train: bool = True) -> int: ...
def net_sample_workspace_size(cell: Cell, num_layers: int, hidden_size: int, vocab_size: int) -> int: ...
def net_forward(
    work: FloatArray,  # OUT scratch, len >= net_workspace_size(..., train) (train=True if net_backward follows)
    state_out: FloatArray,  # OUT (L, B, S): state after the last step (may be state0 itself)
    params: FloatArray,  # IN flat, net_param_count(...)
    inputs: IdArray,  # IN (B, T)
    targets: Optional[IdArray],  # IN (B, T) or None: no loss (0.0 returned)
    state0: FloatArray,  # IN (L, B, S)
    *,
    cell: Cell,
    num_layers: int,
    hidden_size: int,
    vocab_size: int,
    masks: Optional[FloatArray] = None,  # IN (L-1, T, B, H): dropout multipliers (0 or 1/(1-p)) on each layer's output but the last
    states_seq: Optional[FloatArray] = None,  # OUT (T, L, B, S): the state after every step
    probs_out: Optional[FloatArray] = None,  # OUT (T, B, V): softmax outputs
    cancel: Optional[npt.NDArray[np.int32]] = None,  # element 0 polled every step: non-zero stops the call
    n_threads: int = 1,
) -> Optional[float]: ...  # loss = (1/B) sum of -log p (nats); None if cancelled (outputs undefined)
def net_backward(
    grads: FloatArray,  # IN/OUT flat: gradients ADDED (+=)
    dstate0: Optional[FloatArray],  # OUT (L, B, S) d loss / d state0, or None
    work: FloatArray,  # IN/OUT: from net_forward with train=True and the same arguments (left reusable)
    params: FloatArray,
    inputs: IdArray,
    targets: IdArray,
    *,
    cell: Cell,
    num_layers: int,
    hidden_size: int,
    vocab_size: int,
    masks: Optional[FloatArray] = None,  # the masks given to net_forward
    cancel: Optional[npt.NDArray[np.int32]] = None,
    n_threads: int = 1,
) -> bool: ...  # True when done; False if cancelled (grads undefined)
def net_sample(
    out: IdArray,  # OUT (n,)
    state: FloatArray,  # IN/OUT (L, 1, S)
    work: FloatArray,  # OUT scratch, len >= net_sample_workspace_size
    params: FloatArray,
    x0: int,
    uniforms: npt.NDArray[np.float64],  # IN (n,) in [0, 1)
    temperature: float,  # >= 0; 0 = argmax (first on ties); crnn_sample's rule
    *,
    cell: Cell,
    num_layers: int,
    hidden_size: int,
    vocab_size: int,
) -> None: ...


# ---------------------------------------------------------------- optimizers (csrc/optim.h)
# One pass each over flat arrays of params' shape and dtype, which must not
# overlap.  The gradient is read (never written) as
#     x = clamp(grads * clip_scale, -clip_limit, clip_limit)
# (no clipping: clip_scale=1, clip_limit=inf; by value: clip_limit=bound; by
# norm: clip_scale=min(1, max_norm / (sqrt(sumsq(grads)) + 1e-6)), which may be
# NaN for a non-finite norm: the update is then NaN, as torch's is).  A state
# buffer that these settings do not use must be None, one they use must be
# given.  step counts updates from 1.  Every hyperparameter is a required
# keyword: crnn.optim holds the defaults.

def sumsq(grads: FloatArray) -> float: ...  # sum of squares, accumulated in double, fixed order
def scale(grads: FloatArray, factor: float) -> None: ...  # IN/OUT: grads *= factor
def update_adagrad(
    params: FloatArray,  # IN/OUT
    sum: FloatArray,  # IN/OUT: sum += x*x;  params -= lr * x / sqrt(sum + eps)
    grads: FloatArray,  # IN
    *, lr: float, eps: float, clip_scale: float, clip_limit: float,
) -> None: ...
def update_sgd(
    params: FloatArray,  # IN/OUT
    momentum_buffer: Optional[FloatArray],  # IN/OUT, None iff momentum == 0
    grads: FloatArray,  # IN
    *, lr: float, momentum: float, dampening: float, weight_decay: float,
    nesterov: bool, step: int, clip_scale: float, clip_limit: float,
) -> None: ...  # torch.optim.SGD; step 1 sets momentum_buffer = x
def update_rmsprop(
    params: FloatArray,  # IN/OUT
    square_avg: FloatArray,  # IN/OUT
    grad_avg: Optional[FloatArray],  # IN/OUT: given iff centered
    momentum_buffer: Optional[FloatArray],  # IN/OUT, None iff momentum == 0
    grads: FloatArray,  # IN
    *, lr: float, alpha: float, eps: float, weight_decay: float, momentum: float,
    clip_scale: float, clip_limit: float,
) -> None: ...  # torch.optim.RMSprop
def update_adam(
    params: FloatArray,  # IN/OUT
    exp_avg: FloatArray,  # IN/OUT
    exp_avg_sq: FloatArray,  # IN/OUT
    max_exp_avg_sq: Optional[FloatArray],  # IN/OUT: given iff amsgrad
    grads: FloatArray,  # IN
    *, lr: float, beta1: float, beta2: float, eps: float, weight_decay: float,
    decoupled: bool, step: int, clip_scale: float, clip_limit: float,
) -> None: ...  # torch.optim.Adam; decoupled=True: AdamW
