"""Data sets for training: image folders, scikit-learn digits, WAV folders with MFCC, synthetic keywords.

Sub-modules are imported on first use (``dsconv.data.synthetic``, owned by the experiments, is never
imported eagerly). Every data set is map-style (``len``, ``ds[i] -> (float32 array, int label)``), has
``classes`` and ``set_epoch(epoch)``, and works with ``torch.utils.data.DataLoader`` as is.
"""

from __future__ import annotations

from dsconv._lazy import lazy_getattr

_EXPORTS = {
    "ArrayDataset": "dsconv.data.arrays",
    "split_indices": "dsconv.data.arrays",
    "ImageFolder": "dsconv.data.images",
    "load_digits": "dsconv.data.digits",
    "WavFolder": "dsconv.data.audio",
    "read_wav": "dsconv.data.audio",
    "mfcc": "dsconv.data.audio",
    "write_keyword_dataset": "dsconv.data.keywords",
    "DataSplits": "dsconv.data.catalog",
    "load_dataset": "dsconv.data.catalog",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
