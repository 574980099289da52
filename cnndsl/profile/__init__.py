"""`cnndsl time`: per-layer forward and backward times of the module cnndsl builds.

    timing = time_network(cnndsl.load("specs/lenet5.cnn"), TimeOptions(batch=64))
    print(render_table(timing))

torch is imported inside the functions, so importing this package is cheap.
"""

from cnndsl.profile.timer import LayerTime, PassTime, TimeOptions, Timing, TimingError, time_network

__all__ = ["LayerTime", "PassTime", "TimeOptions", "Timing", "TimingError", "time_network"]
