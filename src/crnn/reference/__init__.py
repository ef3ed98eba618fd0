"""Pure-NumPy reference implementations of crnn's networks.

Plain and slow on purpose: float64, loops over streams, time steps and
layers, PyTorch's documented equations for nn.RNN (tanh), nn.LSTM and
nn.GRU followed by nn.Linear and softmax.  The C kernels are tested against
these functions (see ``crnn.reference.cells``).
"""

from crnn.reference.cells import forward_backward, sample, sigmoid

__all__ = ["forward_backward", "sample", "sigmoid"]
