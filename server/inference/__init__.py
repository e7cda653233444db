"""Running models: onnxruntime sessions under the contract, warmed and cancellable (``model``);
placing a real sound with a model's encoder (``like``); offline rendering to WAV (``render``).
Never imports torch."""
