"""The IR: the one contract between the front end and every back end."""

from cnndsl.ir.graph import Graph, Node, ScopeFrame, Shape, format_shape

__all__ = ["Graph", "Node", "ScopeFrame", "Shape", "format_shape"]
