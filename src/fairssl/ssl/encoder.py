"""The paper's 1D-CNN encoder and the window-length check, kept at their first import path.

The encoders now live in :mod:`fairssl.ssl.encoders` (the CNN in :mod:`fairssl.ssl.encoders.cnn`, with
a ResNet-1D, a patch Transformer and user factories behind one seam); this module re-exports what code
written against it uses.
"""

from fairssl.ssl.encoders.cnn import LAYER_NAMES, ConvBlock, Encoder
from fairssl.ssl.encoders.length import check_input_length, min_input_length

__all__ = ["LAYER_NAMES", "ConvBlock", "Encoder", "check_input_length", "min_input_length"]
