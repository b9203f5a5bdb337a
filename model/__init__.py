"""A GPT-2 forward pass in NumPy that records every intermediate tensor for the visualizer."""
from model.config import GPTConfig
from model.gpt import Trace, forward, trace
from model.recorder import NULL_RECORDER, Recorder, TensorSpec, tensor_specs

__all__ = ["GPTConfig", "Trace", "forward", "trace", "NULL_RECORDER", "Recorder", "TensorSpec", "tensor_specs"]
