"""The forward pass a model's family runs: GPT-2 (model/gpt.py) or Llama (model/llama.py), chosen by its config.

Callers that serve any model (the server, generation, the CLI) go through here; each family's module
stays a plain textbook pass that knows nothing of the other.
"""
from llmviz.model import gpt, llama
from llmviz.model.recorder import NULL_RECORDER

FAMILIES = {"gpt2": gpt, "llama": llama}


def family(config):
    return FAMILIES[config.architecture]


def forward(params, config, tokens, rec=NULL_RECORDER, temperature: float = 1.0):
    """[T] token ids -> ([T, V] logits, [T, V] probabilities), by the pass of the config's family."""
    return family(config).forward(params, config, tokens, rec, temperature)


def trace(params, config, tokens, temperature: float = 1.0, on_record=None, **inspection) -> gpt.Trace:
    """A recorded pass; `inspection` (interventions, lens) goes to the family's trace as is."""
    return family(config).trace(params, config, tokens, temperature, on_record, **inspection)


def final_logits(params, config, x, rec=NULL_RECORDER):  # [T, C] residual -> [T, V]: final norm, unembedding
    return family(config).final_logits(params, config, x, rec)
