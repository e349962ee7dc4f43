"""Isartal Haustechnik GmbH: a heating and plumbing service company in Munich.

Pure data: the clients and their sites (real streets, coordinates spread over
the town), the price book, the report templates, the depots, the people and
the shape of a working day. ``crewtrack.demo.seed`` turns it into records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

COMPANY = "Isartal Haustechnik GmbH"
MAIL_DOMAIN = "isartal-haustechnik.example"  # .example: never a real mailbox
DEMO_MARK = "demo"  # the custom field every demo job carries: its day's key

M_PER_DEG = 111_320.0


@dataclass(frozen=True)
class Site:
    """A job site: an address, a location and either a radius or a footprint."""

    line1: str
    postcode: str
    lat: float
    lon: float
    radius_m: float | None = 60.0
    # building footprint as (east, north) offsets in metres from the location
    footprint_m: tuple[tuple[float, float], ...] = ()

    @property
    def address(self) -> dict[str, str]:
        return {
            "line1": self.line1,
            "postcode": self.postcode,
            "city": "München",
            "country": "DE",
        }

    @property
    def geofence(self) -> dict[str, object]:
        if not self.footprint_m:
            return {"radius_m": self.radius_m}
        k = M_PER_DEG * math.cos(math.radians(self.lat))
        ring = [
            [round(self.lon + east / k, 7), round(self.lat + north / M_PER_DEG, 7)]
            for east, north in self.footprint_m
        ]
        return {"polygon": ring}


@dataclass(frozen=True)
class ClientSpec:
    name: str
    email: str
    phone: str
    sites: tuple[Site, ...]
    notes: str = ""


# An L-shaped block, a courtyard building, a long hall, a rotated box: shapes a
# footprint has (offsets in metres, counter-clockwise, not closed).
L_SHAPE = ((-40, -30), (40, -30), (40, 0), (0, 0), (0, 35), (-40, 35))
COURTYARD = ((-45, -35), (45, -35), (45, 35), (-45, 35))
LONG_HALL = ((-70, -20), (70, -20), (70, 20), (-70, 20))
ROTATED = ((0, -45), (40, -5), (5, 40), (-40, 0))
OFFICE_BLOCK = ((-30, -40), (35, -40), (50, 10), (0, 45), (-35, 20))

CLIENTS: tuple[ClientSpec, ...] = (
    ClientSpec(
        "Bäckerei Huber",
        "laden@baeckerei-huber.example",
        "+49 89 3861 2040",
        (Site("Leopoldstraße 82", "80802", 48.16150, 11.58610, 50),),
    ),
    ClientSpec(
        "Hotel am Viktualienmarkt",
        "technik@hotel-viktualienmarkt.example",
        "+49 89 2311 0900",
        (Site("Utzschneiderstraße 14", "80469", 48.13390, 11.57640, None, COURTYARD),),
        "Deliveries and technicians through the courtyard gate.",
    ),
    ClientSpec(
        "Praxis Dr. Weber",
        "praxis@dr-weber.example",
        "+49 89 4488 1230",
        (Site("Rosenheimer Straße 145", "81671", 48.12420, 11.61010, 60),),
    ),
    ClientSpec(
        "Kita Sonnenschein",
        "leitung@kita-sonnenschein.example",
        "+49 89 7140 5566",
        (Site("Fürstenrieder Straße 220", "81377", 48.12300, 11.50920, None, L_SHAPE),),
        "Work only outside 8:00-9:00 (drop-off).",
    ),
    ClientSpec(
        "Familie Schmid",
        "schmid.family@mail.example",
        "+49 171 223 4455",
        (Site("Nymphenburger Straße 120", "80636", 48.15290, 11.54530, 40),),
    ),
    ClientSpec(
        "Café Riedl",
        "hallo@cafe-riedl.example",
        "+49 89 3006 7788",
        (Site("Belgradstraße 9", "80796", 48.16420, 11.56810, 45),),
    ),
    ClientSpec(
        "Wohnanlage Parkstadt WEG",
        "verwaltung@parkstadt-weg.example",
        "+49 89 9101 2200",
        (Site("Arabellastraße 5", "81925", 48.15420, 11.61580, None, ROTATED),),
    ),
    ClientSpec(
        "Autohaus Berger",
        "service@autohaus-berger.example",
        "+49 89 5801 3300",
        (Site("Landsberger Straße 290", "80687", 48.14210, 11.51310, None, LONG_HALL),),
    ),
    ClientSpec(
        "Metzgerei Gruber",
        "info@metzgerei-gruber.example",
        "+49 89 6901 4411",
        (Site("Tegernseer Landstraße 150", "81539", 48.11010, 11.58020, 50),),
    ),
    ClientSpec(
        "Isarfit Studio",
        "studio@isarfit.example",
        "+49 89 2024 5500",
        (Site("Zweibrückenstraße 12", "80331", 48.13310, 11.58480, 55),),
    ),
    ClientSpec(
        "Bürohaus Werksviertel",
        "facility@werksviertel-buero.example",
        "+49 89 4130 6000",
        (Site("Atelierstraße 10", "81671", 48.12600, 11.60400, None, OFFICE_BLOCK),),
    ),
    ClientSpec(
        "Hausverwaltung Lechner",
        "technik@hv-lechner.example",
        "+49 89 1892 7000",
        (
            Site("Schleißheimer Straße 250", "80809", 48.17100, 11.56700, 60),
            Site("Kapuzinerstraße 30", "80469", 48.12610, 11.56010, 50),
            Site("Dachauer Straße 190", "80637", 48.16510, 11.54210, 50),
        ),
        "Property manager: three buildings, keys at the caretaker's.",
    ),
)


@dataclass(frozen=True)
class ItemSpec:
    code: str
    name: str
    family: str
    kind: str  # part | service
    unit_price: str
    tax_rate: str = "19"
    serialized: bool = False
    bill_from_sessions: bool = False


FAMILIES = ("Labour", "Call-out", "Services", "Pumps", "Valves & fittings", "Sensors")

ITEMS: tuple[ItemSpec, ...] = (
    ItemSpec(
        "LAB-H", "Labour (per hour)", "Labour", "service", "72.00", "19", False, True
    ),
    ItemSpec("CALL-M", "Call-out fee Munich", "Call-out", "service", "49.00"),
    ItemSpec("SRV-BOIL", "Annual boiler service", "Services", "service", "139.00"),
    ItemSpec("SRV-LEAK", "Leak detection", "Services", "service", "95.00"),
    ItemSpec(
        "PMP-CIRC", "Circulator pump 25-60", "Pumps", "part", "289.00", "19", True
    ),
    ItemSpec("VLV-BALL", 'Ball valve ¾"', "Valves & fittings", "part", "14.90"),
    ItemSpec("GSK-SET", "Gasket set", "Valves & fittings", "part", "6.50"),
    ItemSpec(
        "TRV-HEAD", "Thermostatic radiator head", "Valves & fittings", "part", "24.90"
    ),
    ItemSpec("SNS-FLUE", "Flue gas sensor", "Sensors", "part", "119.00", "19", True),
)
PLAIN_PARTS = ("VLV-BALL", "GSK-SET", "TRV-HEAD")  # what the phones add on site
SERIALIZED_PARTS = ("PMP-CIRC", "SNS-FLUE")


def _field(
    key: str, label: str, kind: str, mandatory: bool = False
) -> dict[str, object]:
    return {"key": key, "label": label, "type": kind, "mandatory": mandatory}


TEMPLATES: tuple[dict[str, object], ...] = (
    {
        "name": "Boiler service",
        "required_signatures": [],
        "families": [
            {
                "key": "safety",
                "name": "Safety checks",
                "fields": [
                    _field("flue_ok", "Flue gas path tight", "checkbox", True),
                    _field("pressure", "System pressure (bar)", "number", True),
                    _field("co_ppm", "CO in flue gas (ppm)", "number", True),
                ],
            },
            {
                "key": "notes",
                "name": "Notes",
                "fields": [_field("remarks", "Remarks", "text")],
            },
        ],
    },
    {
        "name": "Leak repair",
        "required_signatures": [],
        "families": [
            {
                "key": "repair",
                "name": "Repair",
                "fields": [
                    _field("leak_found", "Leak located", "validation", True),
                    _field("repaired", "Leak repaired and dry", "checkbox", True),
                    _field("remarks", "Remarks", "text"),
                ],
            }
        ],
    },
    {
        "name": "Radiator check",
        "required_signatures": [],
        "families": [
            {
                "key": "heating",
                "name": "Heating circuit",
                "fields": [
                    _field("bled", "Radiators bled (count)", "number", True),
                    _field("pressure", "System pressure (bar)", "number", True),
                    _field("remarks", "Remarks", "text"),
                ],
            }
        ],
    },
)
# what each template's job is called, and the price-book item it is quoted with
WORK = {
    "Boiler service": ("Annual boiler service", "SRV-BOIL"),
    "Leak repair": ("Leak under the kitchen sink", "SRV-LEAK"),
    "Radiator check": ("Radiators cold upstairs", "CALL-M"),
}
# the values a technician fills in (the remarks carry a reserve's reason)
ANSWERS: dict[str, dict[str, object]] = {
    "Boiler service": {"flue_ok": True, "pressure": "1.6", "co_ppm": "38"},
    "Leak repair": {"leak_found": True, "repaired": True},
    "Radiator check": {"bled": "6", "pressure": "1.4"},
}
RESERVE = ("remarks", "Flue pipe corroded at the wall duct: replacement to quote")


@dataclass(frozen=True)
class Person:
    name: str
    role: str
    local: str  # e-mail local part
    team: str = ""
    phone: str = ""

    @property
    def email(self) -> str:
        return f"{self.local}@{MAIL_DOMAIN}"

    @property
    def device_id(self) -> str:
        return "demo-" + self.local.split(".")[0]


OFFICE = (
    Person("Katrin Vogel", "admin", "katrin.vogel"),
    Person("Claudia Roth", "dispatcher", "claudia.roth"),
    Person("Thomas Keller", "billing", "thomas.keller"),
)
TECHNICIANS = (
    Person(
        "Anna Berger", "technician", "anna.berger", "Heating North", "+49 160 111 0001"
    ),
    Person(
        "Lukas Maier", "technician", "lukas.maier", "Heating North", "+49 160 111 0002"
    ),
    Person(
        "Sophie Wagner",
        "technician",
        "sophie.wagner",
        "Heating North",
        "+49 160 111 0003",
    ),
    Person(
        "Jonas Fischer",
        "technician",
        "jonas.fischer",
        "Heating South",
        "+49 160 111 0004",
    ),
    Person(
        "Lea Hoffmann",
        "technician",
        "lea.hoffmann",
        "Heating South",
        "+49 160 111 0005",
    ),
    Person(
        "Felix Schneider",
        "technician",
        "felix.schneider",
        "Heating South",
        "+49 160 111 0006",
    ),
    Person("Mia Bauer", "technician", "mia.bauer", "Plumbing", "+49 160 111 0007"),
    Person("Paul Koch", "technician", "paul.koch", "Plumbing", "+49 160 111 0008"),
)
USERS = OFFICE + TECHNICIANS

WAREHOUSES = (
    ("Lager Freimann", "FRM"),
    ("Lager Obersendling", "OBS"),
)
VAN_PARTS = 40  # units of each plain part in a new van


@dataclass(frozen=True)
class DayShape:
    """How one technician's day is laid out around the moment it is planned.

    ``done`` jobs are already completed (history); ``on_site`` means the next
    one is in progress (clocked in a quarter of an hour ago); ``late`` means the
    next one's window is already over and nobody is there yet.
    """

    jobs: int
    done: int
    on_site: bool = False
    late: bool = False
    hold: bool = False  # one of the done jobs went On Hold instead


SHAPES: tuple[DayShape, ...] = (
    DayShape(4, 2),
    DayShape(4, 1, on_site=True),
    DayShape(3, 1, late=True),
    DayShape(5, 2),
    DayShape(4, 1, on_site=True),
    DayShape(3, 1, hold=True),
    DayShape(4, 0),
    DayShape(5, 1),
)
SLOT_MIN = 80  # a job's slot: a 60-minute window and the drive to the next
WINDOW_MIN = 60
UNASSIGNED = 3  # jobs per day nobody is booked on yet
TOMORROW_START_HOUR = 8


@dataclass(frozen=True)
class Plan:
    """A day's jobs before they exist: who, where, what and when (minutes)."""

    key: str
    technician: int | None  # index into TECHNICIANS; None = unassigned
    site: int  # index into ALL_SITES
    template: str
    start_min: float  # from the day's anchor
    state: str  # scheduled | completed | in_progress | on_hold | pending
    reserve: bool = False
    extra: dict[str, object] = field(default_factory=dict)


ALL_SITES: tuple[tuple[int, Site], ...] = tuple(
    (ci, site) for ci, c in enumerate(CLIENTS) for site in c.sites
)
TEMPLATE_NAMES = tuple(str(t["name"]) for t in TEMPLATES)


def plan_day(day_key: str, *, history: bool) -> list[Plan]:
    """The jobs of one day. With ``history`` the day is under way: some jobs
    are done, some in progress, one late, one on hold; else all are ahead."""
    plans: list[Plan] = []
    n_sites = len(ALL_SITES)
    for t, shape in enumerate(SHAPES):
        done = shape.done if history else 0
        for k in range(shape.jobs):
            site = (t * 5 + k * 3) % n_sites
            template = TEMPLATE_NAMES[(t + k) % len(TEMPLATE_NAMES)]
            start = (k - done) * SLOT_MIN + 10 * (t % 3)
            state = "scheduled"
            if k < done:
                state = "on_hold" if shape.hold and k == done - 1 else "completed"
            elif k == done and history and shape.on_site:
                start, state = -20, "in_progress"
            elif k == done and history and shape.late:
                start = -75
            plans.append(
                Plan(
                    f"{day_key}/{t}/{k}",
                    t,
                    site,
                    template,
                    start,
                    state,
                    reserve=state == "completed" and (t + k) % 3 == 0,
                )
            )
    for u in range(UNASSIGNED):
        plans.append(
            Plan(
                f"{day_key}/u/{u}",
                None,
                (u * 7 + 2) % n_sites,
                TEMPLATE_NAMES[u % len(TEMPLATE_NAMES)],
                90 + 60 * u,
                "pending",
            )
        )
    return plans
