"""Back ends read only the IR (cnndsl.ir) and never the AST.

Each back end is a subpackage; `cnndsl build --target NAME` looks NAME up in
TARGETS: module path -> a module exposing `build_file(network, output, options)`.
"""

TARGETS = {
    "torch": "cnndsl.backends.torch",
    "onnx": "cnndsl.backends.onnx",
}
