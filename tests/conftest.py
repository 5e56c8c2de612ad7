import os
from pathlib import Path

import pytest
from fault_helpers import saved_models  # noqa: F401 (a session fixture of test_malformed_cli / _data)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SHARED_DATA = Path(os.environ.get("CROSSTASK_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


@pytest.fixture(scope="session")
def superni_dir() -> Path:
    path = SHARED_DATA / "superni"
    if not path.is_dir():
        pytest.skip(f"real SuperNI data not found at {path}")
    return path


@pytest.fixture(scope="session")
def recross_dir() -> Path:
    path = SHARED_DATA / "recross"
    if not path.is_dir():
        pytest.skip(f"real ReCross data not found at {path}")
    return path


@pytest.fixture(scope="session")
def bert(tmp_path_factory) -> str:
    """A tiny random BERT (seeded) with the packaged tokenizer, shared by the tests that train through the CLI."""
    import torch
    from tiny_models import tiny_bert

    torch.manual_seed(0)
    return tiny_bert(tmp_path_factory.mktemp("tiny-bert") / "bert")
