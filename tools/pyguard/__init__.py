"""pyguard: the PyTorch reference of Backdoor Guard's contracts (DESIGN.md sections 3-5).

Modules:
  st        safetensors reader/writer (no dependency on the `safetensors` package)
  archs     cnn-small, preact-resnet18, resnet18 with the DESIGN state_dict names and taps
  bundle    model bundle (model.json + weights.safetensors) I/O
  data      IDX (MNIST / Fashion-MNIST) reader
  triggers  badnets, blended, sig (pixel space, float images in [0, 1])
"""

__all__ = ["st", "archs", "bundle", "data", "triggers"]
