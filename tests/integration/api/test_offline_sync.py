"""An app that was offline syncs late and out of order: nothing is refused for
arriving late, nothing counts twice, and the sessions come out as they happened."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.integration.api.conftest import People
from tests.integration.api.test_help_pages import V1, Client, ok
from tests.integration.api.test_offline_backend import _scheduled_job_with_tess


async def _event(
    client: Client, people: People, jid: str, event: str, at: datetime, key: str
) -> Any:
    return await client.post(
        f"{V1}/jobs/{jid}/sessions",
        json={"event": event, "at": at.isoformat()},
        headers={**people.auth("tess"), "Idempotency-Key": key},
    )


async def test_a_clock_out_synced_before_its_clock_in_is_kept_then_placed(
    client: Client, people: People
) -> None:
    jid = await _scheduled_job_with_tess(client, people)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    out = await _event(client, people, jid, "clock_out", t0 + timedelta(hours=2), "o")
    assert out.status == 202
    pending = await out.json()
    assert (pending["placed"], pending["reason"]) == (False, "not-clocked-in")
    await ok(await _event(client, people, jid, "clock_in", t0, "i"), 201)
    replay = await _event(
        client, people, jid, "clock_out", t0 + timedelta(hours=2), "o"
    )
    assert replay.headers.get("Idempotent-Replayed") == "true"
    sessions = await ok(
        await client.get(f"{V1}/jobs/{jid}/sessions", headers=people.auth("tess"))
    )
    assert sessions["pending"] == []
    [session] = sessions["items"]
    assert session["state"] == "closed"
    assert session["worked_seconds"] == 7200
    history = await ok(
        await client.get(f"{V1}/jobs/{jid}/history", headers=people.auth("dispatcher"))
    )
    told = {h["action"]: h["details"] for h in history["items"]}
    assert told["session_clock_out_pending"]["reason"] == "not-clocked-in"
    assert "received_at" in told["clocked_in"], "it happened hours before it arrived"


async def test_clocking_into_the_next_job_ends_the_open_one_until_its_own_clock_out_syncs(
    client: Client, people: People
) -> None:
    first = await _scheduled_job_with_tess(client, people)
    second = await _scheduled_job_with_tess(client, people)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=4)
    await ok(await _event(client, people, first, "clock_in", t0, "a-in"), 201)
    later = t0 + timedelta(hours=2)
    await ok(await _event(client, people, second, "clock_in", later, "b-in"), 201)

    async def first_session() -> Any:
        listed = await ok(
            await client.get(f"{V1}/jobs/{first}/sessions", headers=people.auth("tess"))
        )
        return listed["items"][0]

    assert (await first_session())["worked_seconds"] == 7200, "ended by the clock-in"
    real_out = t0 + timedelta(minutes=90)
    await ok(await _event(client, people, first, "clock_out", real_out, "a-out"))
    session = await first_session()
    assert session["worked_seconds"] == 5400, "the phone's own clock-out wins"
    assert [e["kind"] for e in session["evidence"]] == ["clock_in", "clock_out"]
    history = await ok(
        await client.get(
            f"{V1}/jobs/{first}/history", headers=people.auth("dispatcher")
        )
    )
    actions = [h["action"] for h in history["items"]]
    assert "clocked_out_automatically" in actions
    assert "session_clock_out" in actions


async def _pull(client: Client, people: People, who: str, since: str | None) -> Any:
    items: list[Any] = []
    removed: list[str] = []
    while True:
        query = f"?limit=1&since={since}" if since else "?limit=1"
        page = await ok(
            await client.get(f"{V1}/sync/changes{query}", headers=people.auth(who))
        )
        items += page["items"]
        removed += page["removed"]
        since = page["next_cursor"]
        if not page["has_more"]:
            return items, removed, since


async def test_the_change_feed_sends_a_technicians_changed_jobs_once_caught_up(
    client: Client, people: People
) -> None:
    mine = await _scheduled_job_with_tess(client, people)
    other = await _scheduled_job_with_tess(client, people)
    everything, _, cursor = await _pull(client, people, "tess", None)
    ids = [j["id"] for j in everything]
    assert {mine, other} <= set(ids), "paged one job at a time, none missed"
    assert len(ids) == len(set(ids))
    nothing, _, cursor = await _pull(client, people, "tess", cursor)
    assert nothing == [], "no change, nothing to pull"
    await ok(
        await client.post(
            f"{V1}/jobs/{mine}/notes",
            json={"visibility": "internal", "text": "Gate code 4711"},
            headers=people.auth("dispatcher"),
        ),
        201,
    )
    changed, removed, cursor = await _pull(client, people, "tess", cursor)
    assert [j["id"] for j in changed] == [mine]
    assert [n["text"] for n in changed[0]["notes"]] == ["Gate code 4711"]
    assert removed == []
    tess = people.technician_ids["tess"]
    taken_off = await client.delete(
        f"{V1}/jobs/{other}/crew/{tess}", headers=people.auth("dispatcher")
    )
    assert taken_off.status == 204
    changed, removed, _ = await _pull(client, people, "tess", cursor)
    assert changed == []
    assert removed == [other], "the app drops the job it was taken off"


async def test_a_clock_event_marks_the_job_changed_in_the_feed(
    client: Client, people: People
) -> None:
    jid = await _scheduled_job_with_tess(client, people)
    _, _, cursor = await _pull(client, people, "dispatcher", None)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    await ok(await _event(client, people, jid, "clock_in", t0, "feed-in"), 201)
    changed, _, _ = await _pull(client, people, "dispatcher", cursor)
    assert [j["id"] for j in changed] == [jid]
    assert changed[0]["sessions"][0]["state"] == "running"
