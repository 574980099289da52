"""Using a trained network: `cnndsl predict` and the preprocessing an exported
graph records.

- ``preprocessing``  what turns an image into network input (size, layout, pixel
                     scale, mean/std, class names), from a checkpoint, the
                     command line or an ONNX file's metadata_props; torch-free
- ``images``         image files and folders -> float arrays at the input size
- ``runners``        the torch module or an ONNX Runtime session, one interface
- ``predict``        top-k classes per image, as a table, JSON or CSV
"""
