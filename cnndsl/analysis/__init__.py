"""Static analysis of the IR: parameters, costs, receptive field, memory."""

from cnndsl.analysis.passes import Analysis, LayerStats, analyse

__all__ = ["Analysis", "LayerStats", "analyse"]
