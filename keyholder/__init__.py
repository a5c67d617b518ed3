"""The assembly: the provider with its console mounted (:mod:`keyholder.provider`),
the ``keyholder`` command line (:mod:`keyholder.cli`) and the demo
(:mod:`keyholder.demo`). The only package that imports all the others:
``claims`` <- ``idp`` <- ``admin_console`` <- ``services`` <- ``keyholder``."""
