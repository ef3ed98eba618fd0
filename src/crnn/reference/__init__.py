"""crnn.reference: slow, plain NumPy versions of what the C kernels compute.

Written from the equations (min-char-rnn's, and PyTorch's documentation for
nn.RNN (tanh), nn.LSTM, nn.GRU followed by nn.Linear and softmax, and for
torch.optim), with loops over streams, time steps and layers and float64
everywhere, as bottleneck ships its ``slow`` module: the tests check every
kernel against these, and a reader can see the math without the C.

    minchar   min-char-rnn: lossFun, sampling, Adagrad and its training loop
    cells     the stacked rnn / lstm / gru networks: forward, BPTT, sampling
    optim     torch.optim's Adam, AdamW, RMSprop, SGD, Adagrad, clipping, schedules
"""
