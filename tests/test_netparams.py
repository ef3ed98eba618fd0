"""crnn.netparams: views, initialisers, PyTorch state-dict conversion."""

import numpy as np
import pytest

from crnn import netparams as NP

CELLS = ("rnn", "lstm", "gru")


@pytest.mark.parametrize("cell", CELLS)
def test_views_write_into_the_buffer(cell):
    L, H, V = 2, 3, 4
    flat = np.zeros(NP.param_count(cell, L, H, V))
    v = NP.views(flat, cell, L, H, V)
    v["weight_hh_l1"][...] = 1.0
    assert flat.sum() == v["weight_hh_l1"].size
    with pytest.raises(ValueError, match="1-D array"):
        NP.views(flat[:-1], cell, L, H, V)


@pytest.mark.parametrize("cell", CELLS)
def test_init_schemes(cell):
    L, H, V = 2, 64, 30
    rng = np.random.default_rng(1)
    flat = NP.init_params(cell, L, H, V, rng)
    v = NP.views(flat, cell, L, H, V)
    if cell == "rnn":  # min-char-rnn's: N(0,1) * 0.01 weights, zero biases
        assert np.all(v["bias_l0"] == 0) and np.all(v["bias_out"] == 0)
        assert abs(np.std(v["weight_hh_l0"]) - 0.01) < 0.001
    else:  # PyTorch's: everything uniform(+-1/sqrt(H))
        bound = 1 / np.sqrt(H)
        assert np.max(np.abs(flat)) <= bound and np.max(np.abs(flat)) > 0.95 * bound
    c = NP.init_params(cell, L, H, V, np.random.default_rng(1), "char-rnn", np.float32)
    assert c.dtype == np.float32
    cv = NP.views(c, cell, L, H, V)
    if cell == "lstm":
        np.testing.assert_array_equal(cv["bias_ih_l1"][H:2 * H], 1.0)
        cv["bias_ih_l0"][H:2 * H] = 0
        cv["bias_ih_l1"][H:2 * H] = 0
    assert np.max(np.abs(c)) <= 0.08
    again = NP.init_params(cell, L, H, V, np.random.default_rng(1))
    np.testing.assert_array_equal(again, flat)
    with pytest.raises(ValueError, match="unknown init scheme"):
        NP.init_params(cell, L, H, V, rng, "xavier")


@pytest.mark.parametrize("cell", CELLS)
def test_embedding_init_is_an_embedding_table_times_pytorchs_w_ih(cell):
    """Layer 0's input weights are E @ W_ih.T (E ~ N(0,1), V x H; W_ih
    PyTorch's uniform): entries of standard deviation sqrt(H / (3H)) = 0.577;
    everything else is PyTorch's uniform(+-1/sqrt(H))."""
    L, H, V = 2, 128, 40
    flat = NP.init_params(cell, L, H, V, np.random.default_rng(2), "embedding")
    v = NP.views(flat, cell, L, H, V)
    assert abs(np.std(v["weight_ih_T_l0"]) - np.sqrt(1 / 3)) < 0.02
    assert abs(np.mean(v["weight_ih_T_l0"])) < 0.02
    bound = 1 / np.sqrt(H)
    rest = np.concatenate([a.ravel() for k, a in v.items() if k != "weight_ih_T_l0"])
    assert np.max(np.abs(rest)) <= bound
    again = NP.init_params(cell, L, H, V, np.random.default_rng(2), "embedding")
    np.testing.assert_array_equal(again, flat)


@pytest.mark.parametrize("cell", CELLS)
def test_torch_state_dict_keys_shapes_and_round_trip(cell):
    L, H, V = 2, 3, 5
    G = NP.GATES[cell]
    rng = np.random.default_rng(2)
    flat = rng.standard_normal(NP.param_count(cell, L, H, V))
    sd = NP.to_torch_state_dict(flat, cell, L, H, V)
    expect = {"out.weight": (V, H), "out.bias": (V,)}
    for l in range(L):
        expect[f"rnn.weight_ih_l{l}"] = (G * H, V if l == 0 else H)
        expect[f"rnn.weight_hh_l{l}"] = (G * H, H)
        expect[f"rnn.bias_ih_l{l}"] = expect[f"rnn.bias_hh_l{l}"] = (G * H,)
    assert {k: a.shape for k, a in sd.items()} == expect
    if cell == "rnn":
        assert all(np.all(sd[f"rnn.bias_hh_l{l}"] == 0) for l in range(L))
        sd["rnn.bias_hh_l0"] = np.full(H, 0.5)  # import adds it into the one bias
        back = NP.flat_from_torch_state_dict(sd, cell, L, H, V)
        np.testing.assert_allclose(NP.views(back, cell, L, H, V)["bias_l0"],
                                   NP.views(flat, cell, L, H, V)["bias_l0"] + 0.5)
        sd["rnn.bias_hh_l0"] = np.zeros(H)
    back = NP.flat_from_torch_state_dict({k: a.tolist() for k, a in sd.items()}, cell, L, H, V,
                                         np.float32)
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, flat.astype(np.float32))
    missing = dict(sd)
    del missing["rnn.weight_hh_l1"]
    with pytest.raises(ValueError, match="rnn.weight_hh_l1"):
        NP.flat_from_torch_state_dict(missing, cell, L, H, V)
    wrong = dict(sd, **{"out.bias": np.zeros(V + 1)})
    with pytest.raises(ValueError, match="out.bias"):
        NP.flat_from_torch_state_dict(wrong, cell, L, H, V)


def test_dropout_masks():
    rng = np.random.default_rng(3)
    m = NP.dropout_masks(rng, 0.25, 3, 50, 4, 20, np.float32)
    assert m.shape == (2, 50, 4, 20) and m.dtype == np.float32
    assert set(np.unique(m)) == {0.0, np.float32(1 / 0.75)}
    assert abs(np.mean(m == 0) - 0.25) < 0.03
    assert NP.dropout_masks(rng, 0.0, 3, 5, 1, 2) is None
    assert NP.dropout_masks(rng, 0.5, 1, 5, 1, 2) is None
    with pytest.raises(ValueError, match="dropout"):
        NP.dropout_masks(rng, 1.0, 2, 5, 1, 2)
