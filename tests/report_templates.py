"""The boiler service report template the API and the phone tests both fill.

One template for "Perform a job": mandatory safety checks (checkbox, number,
validation), optional details (date, time, text, a barcode scanned or typed, a
witness's signature).
"""

from __future__ import annotations

from typing import Any


def boiler_template() -> dict[str, Any]:
    """The template's JSON (a new dict each time)."""
    details: list[dict[str, Any]] = [
        {"key": "visit_date", "label": "Visit date", "type": "date"},
        {"key": "arrival", "label": "Arrival time", "type": "time"},
        {"key": "remarks", "label": "Remarks", "type": "text"},
        {"key": "meter", "label": "Meter serial", "type": "barcode"},
        {"key": "witness", "label": "Witness", "type": "signature"},
    ]
    return {
        "name": "Boiler service report",
        "required_signatures": ["customer", "technician"],
        "families": [
            {
                "key": "safety",
                "name": "Safety checks",
                "fields": [
                    {
                        "key": "gas_tight",
                        "label": "Gas tightness OK",
                        "type": "checkbox",
                        "mandatory": True,
                    },
                    {
                        "key": "pressure",
                        "label": "Pressure (bar)",
                        "type": "number",
                        "mandatory": True,
                    },
                    {
                        "key": "approved",
                        "label": "Installation approved",
                        "type": "validation",
                        "mandatory": True,
                    },
                ],
            },
            {"key": "details", "name": "Details", "fields": details},
        ],
    }
