"""crosstask: make models generalise to tasks they were never trained on."""

__version__ = "0.1.0"
