"""Live state in Redis: the newest fix per device, a GEO set and a pub/sub feed.

Contract (docs/protocol.md, "Live state"):

- hash ``crewtrack:live:<device_id>`` with fields ``device_id lat lon acc t spd
  hdg bat job received_at status`` (strings; ``t`` and ``received_at`` epoch
  ms; empty string = unknown; ``job`` = job id clocked into, '' if none);
- GEO set ``crewtrack:geo`` (member = device id);
- channel ``crewtrack:live``: per flush, one JSON array of the updated hashes.

Writes go through one Lua script per round of at most 500 devices (one round
trip: per device one HMGET and a conditional HSET, then one GEOADD and one
PUBLISH). The script keeps the
newest fix by fix time, so a backlog synced late - or a second worker with an
older fix - never moves a technician backwards on the map; the ``job`` field
is likewise kept by the time of the clock event (``job_t``, internal).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import redis
import redis.asyncio as aioredis

from core.messages import Fix

KEY_PREFIX = "crewtrack:live:"
GEO_KEY = "crewtrack:geo"
CHANNEL = "crewtrack:live"
FIELDS = (
    "device_id",
    "lat",
    "lon",
    "acc",
    "t",
    "spd",
    "hdg",
    "bat",
    "job",
    "received_at",
    "status",
)
FLOAT_FIELDS = ("lat", "lon", "acc", "spd", "hdg", "bat")
INT_FIELDS = ("t", "received_at")

# KEYS: one live hash per update; ARGV[1] geo key, ARGV[2] channel, ARGV[3]
# the updates as one JSON array (one cjson.decode per call, not per device).
# An update may hold fix fields (with "t"), "job" + "job_t", and/or "status".
# Per device one HMGET (the newest-wins check against the fix time kept in
# the hash) and one HSET; the published state is built from the update and
# that read - a full HGETALL only when no newer fix came with the update.
_SCRIPT = """
local updates = cjson.decode(ARGV[3])
local geo = {}
local out = {}
local fixf = {'lat','lon','acc','spd','hdg','bat','received_at'}
for i, key in ipairs(KEYS) do
  local u = updates[i]
  local cur = redis.call('HMGET', key, 't', 'job_t', 'job', 'status')
  local set = {'device_id', u.device_id}
  local obj = nil
  local changed = false
  if u.t ~= nil and (not cur[1] or tonumber(u.t) >= tonumber(cur[1])) then
    obj = {device_id = u.device_id, t = tostring(u.t)}
    table.insert(set, 't'); table.insert(set, obj.t)
    for _, f in ipairs(fixf) do
      local v = ''
      if u[f] ~= nil and u[f] ~= cjson.null then v = tostring(u[f]) end
      table.insert(set, f); table.insert(set, v)
      obj[f] = v
    end
    table.insert(geo, u.lon); table.insert(geo, u.lat); table.insert(geo, u.device_id)
    changed = true
  end
  local job = cur[3]
  if u.job_t ~= nil and (not cur[2] or tonumber(u.job_t) >= tonumber(cur[2])) then
    job = u.job
    table.insert(set, 'job'); table.insert(set, u.job)
    table.insert(set, 'job_t'); table.insert(set, tostring(u.job_t))
    changed = true
  elseif not job then
    job = ''
    table.insert(set, 'job'); table.insert(set, '')
  end
  local status = cur[4]
  if u.status ~= nil then
    status = u.status
    table.insert(set, 'status'); table.insert(set, u.status)
    changed = true
  elseif not status then
    status = 'online'
    table.insert(set, 'status'); table.insert(set, 'online')
  end
  if changed then
    redis.call('HSET', key, unpack(set))
    if obj ~= nil then
      obj.job = job
      obj.status = status
      table.insert(out, obj)
    else
      local h = redis.call('HGETALL', key)
      obj = {}
      for j = 1, #h, 2 do
        if h[j] ~= 'job_t' then obj[h[j]] = h[j + 1] end
      end
      if obj.t ~= nil then table.insert(out, obj) end
    end
  end
end
if #geo > 0 then redis.call('GEOADD', ARGV[1], unpack(geo)) end
if #out > 0 then redis.call('PUBLISH', ARGV[2], cjson.encode(out)) end
return #out
"""
# One script call carries at most this many device updates: Lua's unpack()
# is limited by the C stack (LUAI_MAXCSTACK 8000, 3 GEOADD args each), and a
# bounded call keeps Redis (single-threaded) and the pub/sub feed responsive.
MAX_UPDATES_PER_CALL = 500


def key(device_id: str) -> str:
    return KEY_PREFIX + device_id


def fix_update(fix: Fix, received_ms: int) -> dict[str, Any]:
    """The live update a fix makes (merged per device before a flush)."""
    return {
        "device_id": fix.device_id,
        "t": fix.t_ms,
        "lat": fix.lat,
        "lon": fix.lon,
        "acc": fix.acc,
        "spd": fix.spd,
        "hdg": fix.hdg,
        "bat": fix.bat,
        "received_at": received_ms,
    }


def merge_update(pending: dict[str, dict[str, Any]], update: Mapping[str, Any]) -> None:
    """Fold ``update`` into ``pending`` (newest fix and newest job per device win)."""
    dev = update["device_id"]
    cur = pending.get(dev)
    if cur is None:
        pending[dev] = dict(update)
        return
    if "t" in update and ("t" not in cur or update["t"] >= cur["t"]):
        cur.update(
            {k: update[k] for k in update if k not in ("job", "job_t", "status")}
        )
    if "job_t" in update and ("job_t" not in cur or update["job_t"] >= cur["job_t"]):
        cur["job"], cur["job_t"] = update["job"], update["job_t"]
    if "status" in update:
        cur["status"] = update["status"]


def _chunks(updates: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    for i in range(0, len(updates), MAX_UPDATES_PER_CALL):
        yield updates[i : i + MAX_UPDATES_PER_CALL]


def _args(chunk: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    keys = [KEY_PREFIX + u["device_id"] for u in chunk]
    return keys, [GEO_KEY, CHANNEL, json.dumps(chunk)]


async def write_updates(client: aioredis.Redis, updates: list[dict[str, Any]]) -> int:
    """Apply merged updates; returns how many devices' positions were published."""
    script = client.register_script(_SCRIPT)
    published = 0
    for chunk in _chunks(updates):
        keys, argv = _args(chunk)
        published += int(await script(keys=keys, args=argv))
    return published


def write_updates_sync(client: redis.Redis, updates: list[dict[str, Any]]) -> int:
    """Synchronous :func:`write_updates` (the HTTP upload path, tools)."""
    script = client.register_script(_SCRIPT)
    published = 0
    for chunk in _chunks(updates):
        keys, argv = _args(chunk)
        published += int(script(keys=keys, args=argv))
    return published


def parse_live(raw: Mapping[Any, Any]) -> dict[str, Any] | None:
    """A live hash (bytes or str keys) as typed values; None without a position."""
    h = {
        (k.decode() if isinstance(k, bytes) else k): (
            v.decode() if isinstance(v, bytes) else v
        )
        for k, v in raw.items()
    }
    if not h.get("lat") or not h.get("lon"):
        return None
    out: dict[str, Any] = {name: h.get(name, "") for name in FIELDS}
    for name in FLOAT_FIELDS:
        out[name] = float(out[name]) if out[name] != "" else None
    for name in INT_FIELDS:
        out[name] = int(float(out[name])) if out[name] != "" else None
    out["status"] = out["status"] or "online"
    return out


async def live_positions(client: aioredis.Redis) -> list[dict[str, Any]]:
    """Every device on the live map (from the GEO set), newest fix each, by device id."""
    members: Any = await client.zrange(GEO_KEY, 0, -1)
    if not members:
        return []
    async with client.pipeline(transaction=False) as pipe:
        for m in members:
            pipe.hgetall(key(m.decode() if isinstance(m, bytes) else str(m)))
        rows = await pipe.execute()
    return sorted(
        (p for p in (parse_live(r) for r in rows) if p is not None),
        key=lambda p: p["device_id"],
    )


def live_positions_sync(client: redis.Redis) -> list[dict[str, Any]]:
    """Synchronous :func:`live_positions` (Dash callbacks run in threads)."""
    members: Any = client.zrange(GEO_KEY, 0, -1)
    if not members:
        return []
    with client.pipeline(transaction=False) as pipe:
        for m in members:
            pipe.hgetall(key(m.decode() if isinstance(m, bytes) else str(m)))
        rows = pipe.execute()
    return sorted(
        (p for p in (parse_live(r) for r in rows) if p is not None),
        key=lambda p: p["device_id"],
    )


# Read-only: every device of the GEO set with the asked fields, as one JSON
# string (one round trip, one bulk reply parsed by json.loads in C, instead of
# one reply per device parsed in Python). ARGV[1] geo key, ARGV[2] key prefix,
# ARGV[3..] field names; missing fields come back as ''. Like the write script
# it reads keys it derives itself, so it needs a single Redis (or Sentinel),
# not Cluster.
_READ_SCRIPT = """
local members = redis.call('ZRANGE', ARGV[1], 0, -1)
if #members == 0 then return '[]' end
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
local out = {}
for i, m in ipairs(members) do
  local v = redis.call('HMGET', ARGV[2] .. m, unpack(fields))
  local row = {m}
  for j = 1, #fields do row[j + 1] = v[j] or '' end
  out[i] = row
end
return cjson.encode(out)
"""


def live_rows_sync(client: redis.Redis, fields: Iterable[str]) -> list[list[str]]:
    """``[device_id, *fields]`` (raw strings, '' = unknown) of every live device.

    One server-side read of only the fields asked for; devices in no
    particular order. The dashboard's live map reads this once a second.
    """
    names = list(fields)
    script = client.register_script(_READ_SCRIPT)
    raw: Any = script(keys=[], args=[GEO_KEY, KEY_PREFIX, *names])
    rows: list[list[str]] = json.loads(raw)
    return rows


def live_position_sync(client: redis.Redis, device_id: str) -> dict[str, Any] | None:
    """One device's live state, or None (synchronous :func:`live_position`)."""
    raw: Any = client.hgetall(key(device_id))
    return parse_live(raw)


async def live_position(
    client: aioredis.Redis, device_id: str
) -> dict[str, Any] | None:
    """One device's live state, or None."""
    return parse_live(await client.hgetall(key(device_id)))


def parse_message(data: bytes | str) -> list[dict[str, Any]]:
    """Decode one ``crewtrack:live`` pub/sub message into typed device states."""
    items = json.loads(data)
    return [p for p in (parse_live(i) for i in items) if p is not None]


async def devices_near(
    client: aioredis.Redis, lat: float, lon: float, radius_m: float
) -> list[str]:
    """Device ids within ``radius_m`` metres of a point (GEOSEARCH on the GEO set)."""
    found = await client.geosearch(
        GEO_KEY, longitude=lon, latitude=lat, radius=radius_m, unit="m", sort="ASC"
    )
    return [m.decode() if isinstance(m, bytes) else str(m) for m in found]
