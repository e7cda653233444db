"""The live engine room: numpy + onnxruntime only. Never imports torch."""
