"""Sub-commands of the ``evidence`` command line, one module each (see :mod:`evidence.cli`)."""
