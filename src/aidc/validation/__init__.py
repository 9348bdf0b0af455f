"""The validation harness: MLPerf-style measurements of a model on one device, run inside a job.

Entry point: ``python -m aidc.validation.harness`` (docs/validation.md). Nothing here is
imported by the server; onnx and onnxruntime (the ``validation`` extra) load only when used.
"""
