"""Text to AST: the Lark grammar in grammar/cnn.lark and the tree builder."""

from cnndsl.syntax.parser import parse_text

__all__ = ["parse_text"]
