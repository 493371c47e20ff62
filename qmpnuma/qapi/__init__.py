"""The QAPI toolchain: schema files in, pydantic models and introspection data out.

Build-time only (nothing imports it at run time but tests).  The stages, each its own
module: :mod:`~qmpnuma.qapi.parser` (QAPI-language syntax, includes, doc blocks),
:mod:`~qmpnuma.qapi.check` (shape of each definition), :mod:`~qmpnuma.qapi.schema`
(entities resolved, checked and pruned for a profile, with a visitor),
:mod:`~qmpnuma.qapi.gen_models` (the generated Python module),
:mod:`~qmpnuma.qapi.introspect` (``query-qmp-schema``) and :mod:`~qmpnuma.qapi.cli`
(``qmpnuma-qapi``).  Every error is a :class:`~qmpnuma.qapi.error.QAPIError` reading
``FILE:LINE: message``.
"""
