"""Pure-NumPy reference implementations that crnn's C kernels are tested against.

Each module here is written from the published equations (PyTorch's
documentation, min-char-rnn), as plainly as possible and without regard for
speed, so that a fast kernel and its reference disagree only by rounding.
"""
