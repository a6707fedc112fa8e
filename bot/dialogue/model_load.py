"""Load Rasa's TensorFlow models for serving without tracing Keras's training step (engine start-up).

``RasaModel.load`` builds a model's variables by fitting it on one example, then loads the trained weights
over them. Tracing that training step (gradients, optimiser) was ~40 % of the engine's start-up in a
py-spy profile (bench/RESULTS.md, issue 17). For serving, one eager prediction builds the variables a
prediction uses; the trained weights are loaded over them (the optimiser's state in the checkpoint is
not needed), what a model precomputes from its weights (DIET's label embeddings) is computed again, and
the prediction is traced once with the loaded weights. Loading for fine-tuning, or without a prediction
example, keeps Rasa's way. The served model's parses are compared with plain ``rasa run``'s in
tests/bot/test_rasa_equivalence.py.
"""

from __future__ import annotations

from typing import Any

from rasa.utils.tensorflow.model_data import RasaModelData
from rasa.utils.tensorflow.models import RasaModel

_rasa_load = RasaModel.load.__func__


def _load_for_serving(
    cls: type[RasaModel],
    model_file_name: str,
    model_data_example: RasaModelData,
    predict_data_example: RasaModelData | None = None,
    finetune_mode: bool = False,
    *args: Any,
    **kwargs: Any,
) -> RasaModel:
    if finetune_mode or predict_data_example is None or predict_data_example.is_empty():
        return _rasa_load(
            cls, model_file_name, model_data_example, predict_data_example, finetune_mode, *args, **kwargs
        )
    model = cls(*args, **kwargs)
    run_eagerly = bool(kwargs.get("config", {}).get("run_eagerly"))
    model._run_eagerly = True  # build the variables with one eager prediction: nothing is traced
    model.run_inference(predict_data_example)
    model.load_weights(model_file_name).expect_partial()  # the optimiser's slots are not restored
    model._run_eagerly = run_eagerly
    model.prepare_for_predict()  # again: what it computed came from the weights before loading
    model._tf_predict_step = None
    model.run_inference(predict_data_example)  # traced once, with the trained weights
    return model


def install() -> None:
    """Make ``RasaModel.load`` (and its subclasses') load for serving; idempotent."""
    if getattr(RasaModel.load, "_for_serving", False):
        return
    loader = classmethod(_load_for_serving)
    loader.__func__._for_serving = True  # type: ignore[attr-defined]
    RasaModel.load = loader
