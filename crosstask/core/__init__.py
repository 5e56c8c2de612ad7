"""The base layer: errors, atomic file I/O, run directories, precision, progress, logging, checks."""
