"""A real phone photo is accepted everywhere a photo goes, under one documented limit."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

from tests.integration.api.conftest import World
from tests.integration.api.test_perform_a_job import job_with_report


# A 6 MiB JPEG: a normal phone photo, above the old 1 MiB JSON and 5 MiB image caps.
async def send(w: World, method: str, path: str, status: int, body: Any) -> Any:
    """``w.call`` for a large body: streamed, as a phone app uploads it."""
    response = await w.api.request(
        method,
        "/api/v1" + path,
        data=io.BytesIO(json.dumps(body).encode()),
        headers={**w.people.auth("tess"), "Content-Type": "application/json"},
    )
    data = await response.json(content_type=None)
    assert response.status == status, (method, path, response.status, data)
    return data


BIG_JPEG = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\x00" * (6 * 1024 * 1024)).decode()


async def test_a_6_mib_phone_photo_goes_into_report_photos_reserves_and_signatures(
    world: World,
) -> None:
    w = world
    _, job_id = await job_with_report(w, "Photos")
    photo = await send(
        w,
        "POST",
        f"/jobs/{job_id}/report/attachments",
        201,
        {"kind": "photo", "image": BIG_JPEG, "description": "Boiler"},
    )
    assert photo["image"]["size"] == 6 * 1024 * 1024 + 4
    await send(
        w,
        "POST",
        f"/jobs/{job_id}/report/reserves",
        201,
        {"field_key": "remarks", "comment": "Flue cracked", "photos": [BIG_JPEG]},
    )
    await send(
        w,
        "PUT",
        f"/jobs/{job_id}/report/signatures/customer",
        200,
        {"signer_name": "Ann", "image": BIG_JPEG},
    )


async def test_a_photo_above_the_upload_limit_is_refused_with_the_limit_named(
    world: World,
) -> None:
    w = world
    _, job_id = await job_with_report(w, "Too big")
    limit = w.settings.max_attachment_bytes
    huge = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\x00" * limit).decode()
    problem = await send(
        w,
        "POST",
        f"/jobs/{job_id}/report/attachments",
        422,
        {"kind": "photo", "image": huge},
    )
    assert problem["errors"] == [
        {"pointer": "/image", "detail": f"image is larger than {limit} bytes"}
    ]
