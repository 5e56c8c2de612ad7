"""Experiments: the SuperNI train / evaluate steps and the ReCross loop, written to disk with provenance."""
