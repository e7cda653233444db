"""Export room: freezes a trained run into one self-describing ONNX file."""
