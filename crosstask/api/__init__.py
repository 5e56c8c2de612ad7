"""The public model classes (`Classifier`, `Generator`), `fit` and `evaluate`, re-exported by `crosstask`."""
