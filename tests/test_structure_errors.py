"""Bad input to dsconv.structure: clear ValueError/TypeError messages naming the argument."""

from __future__ import annotations

import numpy as np
import pytest

from dsconv.structure import (
    canonicalize,
    compose,
    decompose,
    decompose_pw_dw,
    degrees_of_freedom,
    is_separable,
    khatri_rao,
    shift_task_kernel,
    slice_ranks,
    slice_spectra,
)


def test_kernel_of_the_wrong_rank():
    with pytest.raises(ValueError, match=r"`weight` must have 3, 4 or 5 dimensions.*Received weight.shape=\(4, 9\)"):
        decompose(np.ones((4, 9)))
    with pytest.raises(ValueError, match="`weight` must have 3, 4 or 5 dimensions"):
        slice_spectra(np.ones((1, 1, 1, 1, 1, 1)))
    with pytest.raises(TypeError, match="`weight` must be a NumPy array"):
        is_separable([[[1.0]]])
    with pytest.raises(TypeError, match="`weight` must have a real floating dtype"):
        slice_ranks(np.ones((2, 2, 3), dtype=int))


def test_bad_rank_and_groups():
    w = np.ones((4, 2, 3, 3))
    with pytest.raises(ValueError, match=r"`rank` must be a positive integer \(>= 1\). Received rank=0"):
        decompose(w, rank=0)
    with pytest.raises(TypeError, match="`rank` must be an integer. Received rank=1.5"):
        decompose(w, rank=1.5)
    with pytest.raises(ValueError, match="`groups` must divide the output channels of `weight` \\(4\\). Received groups=3"):
        decompose(w, groups=3)
    with pytest.raises(ValueError, match="`depth_multiplier` must divide C_out = 4. Received depth_multiplier=3"):
        decompose_pw_dw(w, 3)
    with pytest.raises(ValueError, match=r"`rtol` must be a number in \[0, 1\). Received rtol=2"):
        slice_ranks(w, rtol=2)


def test_bad_factor_shapes():
    with pytest.raises(ValueError, match=r"`dw` must have shape \(C \* M, 1, \*kernel_size\)"):
        compose(np.ones((4, 2, 1, 1)), np.ones((2, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"`pw` must have shape \(C_out, C_in, 1, 1\)"):
        compose(np.ones((4, 2, 3, 3)), np.ones((2, 1, 3, 3)))
    with pytest.raises(ValueError, match="`pw` and `dw` must have shapes"):
        compose(np.ones((4, 3, 1, 1)), np.ones((2, 1, 3, 3)))
    with pytest.raises(ValueError, match="`order` must be one of 'dw_pw', 'pw_dw'. Received order='dwpw'"):
        canonicalize(np.ones((2, 1, 3)), np.ones((4, 2, 1)), order="dwpw")
    with pytest.raises(ValueError, match="`p` and `d_flat` must have the same number of columns"):
        khatri_rao(np.ones((3, 2)), np.ones((9, 3)))
    with pytest.raises(ValueError, match="`groups` must be 1 for order='pw_dw'"):
        compose(np.ones((2, 3, 1)), np.ones((4, 1, 3)), order="pw_dw", groups=2)


def test_bad_degrees_of_freedom_and_shift_task():
    with pytest.raises(ValueError, match="`in_channels` must be a positive integer"):
        degrees_of_freedom(0, 4, 3)
    with pytest.raises(ValueError, match="`d1` and `d2` must differ"):
        shift_task_kernel(3, 1, 1)
    with pytest.raises(ValueError, match=r"`d2` must be a kernel tap in \[0, k=3\). Received d2=3"):
        shift_task_kernel(3, 0, 3)
    with pytest.raises(ValueError, match="`ndim` must be 1 or 2. Received ndim=3"):
        shift_task_kernel(3, 0, 1, ndim=3)
