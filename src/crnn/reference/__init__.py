"""crnn.reference: slow, plain NumPy versions of what the C kernels compute.

Written from the equations (min-char-rnn's, and PyTorch's documentation for
the other cells and the optimizers), with loops over time steps and float64
everywhere, as bottleneck ships its ``slow`` module: the tests check every
kernel against these, and a reader can see the math without the C.

    minchar   min-char-rnn: lossFun, sampling, Adagrad and its training loop
"""
