"""cnndsl: a compiler for convolutional network architectures.

    net = cnndsl.load("specs/resnet34.cnn")
    net.report()       # the JSON report as a dict
"""

from cnndsl.errors import SpecError
from cnndsl.network import Network, load, loads

__version__ = "0.1.0"
__all__ = ["Network", "SpecError", "load", "loads", "__version__"]
