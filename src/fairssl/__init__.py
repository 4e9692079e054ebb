"""fairssl: does self-supervised pre-training make my model fairer, at what cost, and where?"""

__version__ = "0.1.0"
