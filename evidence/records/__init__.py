"""records: YAML study records -> validated, typed :class:`~evidence.records.model.Study`.

Safe YAML loading with positions (``yamlio``, ``yamlbuild``), the JSON Schema check
(``schemacheck``), controlled vocabularies (``vocabulary``), the record dataclasses
(``model``), the per-record rules (``rules``), whole-directory validation (``validate``),
the bibliography (``bib``), ``evidence new`` (``scaffold``), the field reference
(``fielddocs``) and safe file handling for every layer that reads or writes files
(``safefs``: inputs inside their directory, marked output directories, atomic writes).

May import: the standard library, PyYAML, jsonschema, pybtex and :mod:`evidence.errors`;
nothing else of the package (it is the bottom layer).

Add here: a validation rule (``rules.py``: a function in ``RecordChecker`` and its entry
in ``RULES``), a record field (``schema/study.schema.json`` and ``model.py``).
"""
