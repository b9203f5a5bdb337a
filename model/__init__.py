"""A GPT-2 forward pass in NumPy that records every intermediate tensor for the visualizer."""
from llmviz.model.config import GPTConfig
from llmviz.model.gpt import Trace, forward, trace
from llmviz.model.recorder import NULL_RECORDER, Recorder, TensorSpec, tensor_specs

__all__ = ["GPTConfig", "Trace", "forward", "trace", "NULL_RECORDER", "Recorder", "TensorSpec", "tensor_specs"]
