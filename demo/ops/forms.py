from __future__ import annotations

KINDS = {
    "quick": ("Quick", ["items", "note"]),
    "report": ("Report", ["rows"]),
    "flaky": ("Flaky", []),
    "long": ("LongImport", ["records"]),
    "pipeline": ("Pipeline", []),
    "atomic": ("AtomicImport", ["records"]),
}
