"""`export_cross_encoder`: a crosstask classifier as a standard sentence-transformers CrossEncoder, exactly.

The classifier is encoder → pooling (masked mean, or the first token) → dropout → linear layer to 2 logits
(incorrect, correct); P(correct) is the softmax's second entry. A sentence-transformers CrossEncoder built from
the modules Transformer (feature extraction) → Pooling ("mean" or "cls") → Dense(hidden → 2, identity
activation, written to "scores") computes the same logits from the same token ids, so

    CrossEncoder(DIR).predict(prompt, apply_softmax=True)[1] == crosstask score (to float rounding)

for `prompt` = crosstask's rendered pair text (`Classifier.render_pair(definition, input, candidate,
prompt=...)`) as ONE string (not a (query, document) pair, which would add a separator and token types the
classifier never saw) when it fits the model's max length. A longer prompt is where the two differ: the
CrossEncoder cuts its end, crosstask cuts the task input and never the candidate.

Not exported, because no standard format computes them exactly:
- a transformers `AutoModelForSequenceClassification`: BERT-style heads pool through a tanh dense layer
  (`pooler`), RoBERTa/DistilBERT-style heads through an extra dense layer and an activation, none through a
  masked mean; matching the classifier would need custom modeling code (`trust_remote_code`);
- a shared-context classifier (`--shared-context`): its context never attends to the candidate, an attention
  pattern no CrossEncoder has.
Every export is checked numerically before it is kept: a backbone whose sentence-transformers loading differs
from crosstask's (say, another encoder class) is refused instead of written.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import torch
from torch import nn

from crosstask.api.models import Classifier
from crosstask.core.errors import CrosstaskError
from crosstask.core.io import atomic_write_text
from crosstask.models.classifier import ENCODER_DIR

FORMATS = ("cross-encoder",)
ATOL = 1e-5
_POOLING = {"mean": "mean", "first": "cls"}
_PROBES = ["Definition: Is the review positive or negative?\n\nInput: A moving, funny film.\nOutput: positive.\n"
           "Is this example correct?", "Definition: x\n\nInput: y\nOutput: z.\nIs this example correct?"]


def _cross_encoder_modules(classifier: Classifier, encoder_dir: Path) -> list[nn.Module]:
    from sentence_transformers.base.modules import Dense, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    head = classifier.model.head
    transformer = Transformer(str(encoder_dir), transformer_task="feature-extraction",
                              max_seq_length=classifier.max_length)
    dense = Dense(head.in_features, head.out_features, activation_function=nn.Identity(),
                  module_output_name="scores")
    dense.linear.load_state_dict(head.state_dict())
    return [transformer, Pooling(head.in_features, _POOLING[classifier.config.model.pooling]), dense]


def _check_equal(classifier: Classifier, cross_encoder) -> float:
    """Largest |P(correct)| difference between the classifier and the export on the probe prompts."""
    tokenizer = classifier.tokenizer
    worst = 0.0
    for text in _PROBES:
        ids = tokenizer(text, truncation=True, max_length=classifier.max_length, return_tensors="pt")
        with torch.inference_mode():
            ours = torch.softmax(classifier.model.eval()(ids["input_ids"], ids["attention_mask"]).float(), -1)[0, 1]
        theirs = float(cross_encoder.predict(text, apply_softmax=True)[1])
        worst = max(worst, abs(float(ours) - theirs))
    return worst


def export_cross_encoder(model: Classifier | str | Path, output: str | Path, overwrite: bool = False) -> Path:
    """Write `model` (a Classifier, or a saved classifier / training run / hub id) as a sentence-transformers
    CrossEncoder into `output`, with a README.md saying how to feed it; checked to give the classifier's scores
    (atol 1e-5) before it is kept."""
    from sentence_transformers import CrossEncoder

    classifier = model if isinstance(model, Classifier) else Classifier.from_pretrained(model)
    if classifier.config.model.shared_context:
        raise CrosstaskError("a shared-context classifier has no CrossEncoder equivalent (its context never attends "
                             "to the candidate); export a classifier trained without --shared-context")
    if classifier.config.model.siamese:
        raise CrosstaskError("a siamese classifier has no CrossEncoder equivalent (it encodes the context and the "
                             "candidate apart); export a classifier trained without --siamese")
    output = Path(output)
    if output.exists() and any(output.iterdir()) and not overwrite:
        raise CrosstaskError(f"{output} is not empty (pass overwrite=True / --overwrite to replace it)")
    classifier.model.eval()
    device = str(next(classifier.model.parameters()).device)  # the check runs where the model is
    with tempfile.TemporaryDirectory(prefix="crosstask-export-") as work:
        encoder_dir = Path(work) / ENCODER_DIR
        classifier.model.encoder.save_pretrained(encoder_dir)
        classifier.tokenizer.save_pretrained(encoder_dir)
        staged = Path(work) / "cross-encoder"
        CrossEncoder(modules=_cross_encoder_modules(classifier, encoder_dir), device=device).save_pretrained(
            str(staged))
        difference = _check_equal(classifier, CrossEncoder(str(staged), device=device))
        if difference > ATOL:
            raise CrosstaskError(f"the CrossEncoder export differs from the classifier by {difference:.2e} (> {ATOL})"
                                 " on a probe prompt; not written")
        atomic_write_text(staged / "README.md", _card(classifier, difference))
        if output.exists():
            shutil.rmtree(output)
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staged), str(output))
    return output


def _card(classifier: Classifier, difference: float) -> str:
    base = classifier.settings.get("base_model") or classifier.config.model.model
    return f"""---
library_name: sentence-transformers
tags:
- crosstask
- cross-encoder
pipeline_tag: text-classification
---

# crosstask classifier as a CrossEncoder

An exact export of a crosstask encoder-classifier (base model `{base}`; pooling
`{classifier.config.model.pooling}`, linear head to 2 logits: incorrect, correct) as a sentence-transformers
CrossEncoder: Transformer → Pooling("{_POOLING[classifier.config.model.pooling]}") → Dense(→ 2, identity).
Checked on export: largest difference in P(correct) on probe prompts {difference:.1e}.

## Usage

Feed crosstask's rendered prompt as **one string** (not a pair) and take column 1 of the softmax:

```python
import crosstask
from sentence_transformers import CrossEncoder
model = CrossEncoder("<this folder>")
prompt = crosstask.{classifier.prompt!r}
text = crosstask.Classifier.render_pair("Is the review positive?", "Great film.", "positive", prompt=prompt)
p_correct = model.predict(text, apply_softmax=True)[1]
```

The classifier's max length: {classifier.max_length} tokens. Scores equal the classifier's when the prompt
fits it; beyond it the CrossEncoder cuts the end of the text, crosstask cuts the task input and keeps the
candidate.
"""
