"""NN Designer's entry point, standing above the engine and the designer.

:mod:`nndesigner.launcher` is what the ``nndesigner`` console script runs: the app when no
subcommand is given, else the engine's command line. ``engine`` never imports ``designer``, so
only a module above both may choose between them.
"""
