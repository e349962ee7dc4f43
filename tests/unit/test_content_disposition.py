"""An uploaded file is served under its own name, whatever characters it has."""

from __future__ import annotations

from aiohttp.multipart import content_disposition_filename, parse_content_disposition

from api.attachments import content_disposition


def test_a_name_with_quotes_accents_and_control_characters_survives_the_header() -> (
    None
):
    name = 'Zaun "vorher" \u00e4\u00df\r\n;x.png'
    header = content_disposition("inline", name)
    assert "\r" not in header
    assert "\n" not in header
    kind, params = parse_content_disposition(header)
    assert kind == "inline"
    assert content_disposition_filename(params, "filename") == name
    assert params["filename"] == "Zaun _vorher_ _____x.png"


def test_a_plain_name_reads_the_same_in_both_parameters() -> None:
    _, params = parse_content_disposition(content_disposition("inline", "before.png"))
    assert params["filename"] == "before.png"
    assert content_disposition_filename(params, "filename") == "before.png"
