"""The model zoo: registered factories over one builder per family.

``create_model(name, **kwargs)`` builds a model, ``list_models(pattern)`` lists the names,
``register_model`` adds one (a name registered twice is an error). Every factory takes
``num_classes``, ``in_channels``, ``width`` (the width multiplier alpha), ``resolution`` (the input
size its cost figures are for, exposed as ``model.default_input_size``) and ``dense`` (the
standard-convolution twin); EfficientNet adds ``depth``. ``depth_multiplier`` keeps its one meaning,
the per-channel multiplier of a depthwise layer. The published figures each family reproduces, and
under which counting convention, are in :mod:`dsconv.models._published`.

Example:
    >>> from dsconv.models import create_model, list_models
    >>> "mobilenet_v1_dense" in list_models("mobilenet*")
    True
    >>> create_model("ds_cnn_s").default_input_size
    (1, 49, 10)
"""

from dsconv.models import (  # noqa: F401 - importing a family registers its models
    deeplab,
    ds_cnn,
    efficientnet,
    mobilenet_v1,
    mobilenet_v2,
    mobilenet_v3,
    perception,
    xception,
)
from dsconv.models._registry import create_model, list_models, register_model

__all__ = ["create_model", "list_models", "register_model"]
