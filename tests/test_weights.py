"""Our own weights format (.npz + JSON config): round trip, and files that cannot be used."""
import numpy as np
import pytest

from llmviz.model.config import GPTConfig
from llmviz.model.weights import WeightsError, load_npz, save_npz
from doubles import NANO_SORT_SHAPE, random_params


@pytest.fixture
def saved(tmp_path):
    params = random_params(NANO_SORT_SHAPE)
    save_npz(tmp_path / "model", params, NANO_SORT_SHAPE)
    return tmp_path / "model", params


def test_round_trip_keeps_config_and_float16_values(saved):
    path, params = saved
    loaded, config = load_npz(path)
    assert config == NANO_SORT_SHAPE
    assert loaded.keys() == params.keys()
    for name, value in params.items():
        assert loaded[name].dtype == np.float32
        np.testing.assert_array_equal(loaded[name], value.astype(np.float16).astype(np.float32), err_msg=name)


def test_storage_is_float16(saved):
    path, _ = saved
    with np.load(path.with_suffix(".npz")) as f:
        assert {f[k].dtype for k in f.files} == {np.dtype(np.float16)}


def test_float32_storage_is_exact(tmp_path):
    params = random_params(NANO_SORT_SHAPE)
    save_npz(tmp_path / "exact", params, NANO_SORT_SHAPE, dtype=np.float32)
    loaded, _ = load_npz(tmp_path / "exact")
    for name, value in params.items():
        np.testing.assert_array_equal(loaded[name], value)


def test_untied_model_keeps_its_own_unembedding(tmp_path):
    config = GPTConfig(vocab_size=5, n_ctx=4, n_embd=8, n_head=2, n_layer=1, tied_embeddings=False)
    params = random_params(config)
    save_npz(tmp_path / "untied", params, config)
    loaded, loaded_config = load_npz(tmp_path / "untied")
    assert not loaded_config.tied_embeddings and loaded["lm_head.weight"].shape == (5, 8)


@pytest.mark.parametrize("content", [b"", b"not an archive", b"PK\x03\x04truncated zip"])
def test_unreadable_archive_raises_weights_error(saved, content):
    path, _ = saved
    path.with_suffix(".npz").write_bytes(content)
    with pytest.raises(WeightsError, match=r"cannot read weights .*model\.npz"):
        load_npz(path)


def test_single_array_file_is_not_a_model(saved):
    path, _ = saved
    with path.with_suffix(".npz").open("wb") as f:
        np.save(f, np.zeros(3))
    with pytest.raises(WeightsError, match="not named tensors"):
        load_npz(path)


def test_missing_file_names_it(tmp_path):
    with pytest.raises(WeightsError, match=r"nowhere\.json"):
        load_npz(tmp_path / "nowhere")


@pytest.mark.parametrize("config_text", ["{broken", "[1, 2]", '{"vocab_size": 3}', '{"vocab_size": 3, "n_ctx": 11, '
                                         '"n_embd": 48, "n_head": 5, "n_layer": 3}'])
def test_bad_config_raises_weights_error(saved, config_text):
    path, _ = saved
    path.with_suffix(".json").write_text(config_text)
    with pytest.raises(WeightsError, match=r"cannot read model config .*model\.json"):
        load_npz(path)


def test_misshaped_tensor_is_named_with_its_expected_shape(saved):
    path, params = saved
    params = dict(params, **{"h.0.mlp.c_proj.weight": np.zeros((48, 192), np.float32)})
    save_npz(path, params, NANO_SORT_SHAPE)
    with pytest.raises(WeightsError, match=r"'h\.0\.mlp\.c_proj\.weight' has shape \(48, 192\), expected \(192, 48\)"):
        load_npz(path)


def test_missing_tensor_is_named(saved):
    path, params = saved
    save_npz(path, {k: v for k, v in params.items() if k != "ln_f.bias"}, NANO_SORT_SHAPE)
    with pytest.raises(WeightsError, match=r"missing tensor 'ln_f\.bias' \(expected shape \(48,\)\)"):
        load_npz(path)
