from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dashboard.clock import localize_text
from dashboard.pages.day_board import figures, layout, model
from dashboard.queries import BoardJob, BoardTechnician, BoardVisit
from jobs_domain.actors import Role
from jobs_domain.permissions import Act, allowed

ZONE = ZoneInfo("Europe/Berlin")
DAY = date(2026, 3, 4)
START, END = model.day_bounds(DAY, ZONE)
TESS = BoardTechnician("t-1", "Tess Meyer", "North")
OLE = BoardTechnician("t-2", "Ole Berg", "South")


def at(hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 3, 4, hh, mm, tzinfo=ZONE).astimezone(UTC)


def job(
    job_id: str,
    start: datetime | None,
    end: datetime | None,
    crew: tuple[str, ...] = ("t-1",),
    status: str = "scheduled",
) -> BoardJob:
    return BoardJob(
        job_id,
        f"J-{job_id}",
        status,
        "Café Müller",
        "",
        "",
        start,
        end,
        3,
        crew[0] if crew else None,
        crew,
    )


def test_the_company_day_is_midnight_to_midnight_in_its_zone() -> None:
    start, end = model.day_bounds(DAY, ZONE)
    assert start == datetime(2026, 3, 3, 23, 0, tzinfo=UTC)
    assert end - start == timedelta(hours=24)


def test_a_row_holds_booked_windows_time_on_site_and_travel_between_sites() -> None:
    jobs = [job("1", at(8), at(9), status="completed"), job("2", at(10), at(11))]
    visits = [
        BoardVisit("s-1", "1", "t-1", at(8, 5), at(8, 50)),
        BoardVisit("s-2", "2", "t-1", at(9, 20), None),
    ]
    board = model.build_board([TESS, OLE], jobs, visits, START, END, at(9, 40))
    tess, ole = board.rows
    kinds = [(s.kind, s.label, s.start, s.end) for s in tess.segments]
    assert ("booked", "J-1", at(8), at(9)) in kinds
    assert ("on_site", "J-1", at(8, 5), at(8, 50)) in kinds
    assert ("on_site", "J-2", at(9, 20), at(9, 40)) in kinds  # still there: until now
    assert ("travel", "travel 30 min", at(8, 50), at(9, 20)) in kinds
    assert ole.segments == ()


def test_a_late_arrival_and_an_early_departure_are_flagged_where_they_happened() -> (
    None
):
    jobs = [job("1", at(8), at(10), status="completed")]
    visits = [BoardVisit("s-1", "1", "t-1", at(8, 25), at(9, 30))]
    board = model.build_board([TESS], jobs, visits, START, END, at(12))
    flags = [(f.kind, f.at, f.text) for f in board.rows[0].flags]
    assert flags == [
        ("late", at(8, 25), "J-1: arrived 25 min after the booked start"),
        ("early", at(9, 30), "J-1: left 30 min before the booked end"),
    ]


def test_arriving_within_the_grace_is_not_late() -> None:
    jobs = [job("1", at(8), at(10), status="in_progress")]
    visits = [BoardVisit("s-1", "1", "t-1", at(8, 9), None)]
    board = model.build_board([TESS], jobs, visits, START, END, at(9))
    assert board.rows[0].flags == ()


def test_the_tray_holds_unscheduled_unassigned_and_on_hold_jobs() -> None:
    jobs = [
        job("1", None, None, crew=(), status="pending"),
        job("2", at(10), at(11), crew=()),
        job("3", at(12), at(13), status="on_hold"),
        job("4", at(14), at(15)),
    ]
    board = model.build_board([TESS], jobs, [], START, END, at(9))
    assert [j.job_id for j in board.tray] == ["1", "2", "3"]


def test_a_team_filter_keeps_only_its_technicians_rows() -> None:
    board = model.build_board([TESS, OLE], [], [], START, END, at(9), team="South")
    assert [r.technician.name for r in board.rows] == ["Ole Berg"]


def test_a_window_typed_on_the_board_is_local_time_on_the_boards_day() -> None:
    start, end = model.window_from_form(DAY, "09:30", "11:00", ZONE)
    assert (start, end) == (at(9, 30), at(11))
    with pytest.raises(ValueError, match="end after it starts"):
        model.window_from_form(DAY, "11:00", "09:30", ZONE)
    with pytest.raises(ValueError, match="HH:MM"):
        model.window_from_form(DAY, "half past nine", "11:00", ZONE)


def test_the_figure_shows_local_times_a_now_line_and_the_working_day() -> None:
    jobs = [job("1", at(5, 30), at(7))]
    board = model.build_board([TESS], jobs, [], START, END, at(9))
    fig = figures.board_figure(board, at(9), ZONE, editable=True)
    rows = fig.data[0]
    assert list(rows.y) == ["Tess Meyer"]  # a row even with nothing booked
    booked, now_line = fig.layout.shapes
    assert (booked.x0, booked.x1) == ("2026-03-04 05:30:00", "2026-03-04 07:00:00")
    assert list(fig.layout.xaxis.range) == [
        "2026-03-04 05:30:00",
        "2026-03-04 20:00:00",
    ]
    assert now_line.x0 == "2026-03-04 09:00:00"
    assert "times in Europe/Berlin" in fig.layout.title.text


def test_the_board_widens_to_show_now_before_the_working_day() -> None:
    board = model.build_board([TESS], [], [], START, END, at(2, 30))
    fig = figures.board_figure(board, at(2, 30), ZONE, editable=True)
    assert list(fig.layout.xaxis.range) == [
        "2026-03-04 01:30:00",
        "2026-03-04 20:00:00",
    ]


def test_stored_messages_name_their_times_in_the_company_zone() -> None:
    text = "27 min on site while not clocked in (visit from 2026-03-04T08:32:00+00:00)"
    assert localize_text(text, ZONE) == (
        "27 min on site while not clocked in (visit from 2026-03-04 09:32:00)"
    )


def test_booked_windows_are_draggable_on_their_own_row_and_named_by_job() -> None:
    jobs = [job("1", at(9), at(10)), job("2", at(11), at(12), crew=("t-2",))]
    board = model.build_board([TESS, OLE], jobs, [], START, END, at(8))
    fig = figures.board_figure(board, at(8), ZONE, editable=True)
    shapes = {s.name: s for s in fig.layout.shapes if s.name.startswith("job:")}
    assert set(shapes) == {"job:1", "job:2"}
    assert all(s.editable for s in shapes.values())
    rows = list(fig.layout.yaxis.categoryarray)
    ole = rows.index("Ole Berg")
    assert shapes["job:2"].y0 < ole < shapes["job:2"].y1 + 0.5
    assert shapes["job:2"].label.text == "J-2"
    assert fig.layout.editrevision  # a redraw puts a refused drag back


def test_a_drop_on_another_row_reassigns_and_snaps_the_window_to_five_minutes() -> None:
    rows = ["t-1", "t-2"]
    drop = model.drop_from_board(
        {
            "job_id": "j",
            "x0": "2026-03-04 10:07:59.1",
            "x1": "2026-03-04 11:08:01.7",
            "y": 1 - 0.15,  # the middle of the window, dragged a little low
        },
        rows,
        ZONE,
    )
    assert drop == model.Drop("j", "t-2", at(10, 10), at(11, 10))


def test_a_drop_above_the_first_row_or_below_the_last_stays_on_the_board() -> None:
    rows = ["t-1", "t-2"]
    high = {"job_id": "j", "x0": "2026-03-04 09:00", "x1": "2026-03-04 10:00"}
    assert model.drop_from_board({**high, "y": -3}, rows, ZONE).technician_id == "t-1"
    assert model.drop_from_board({**high, "y": 9}, rows, ZONE).technician_id == "t-2"


def test_a_drop_squeezed_to_nothing_or_garbled_is_refused() -> None:
    rows = ["t-1"]
    with pytest.raises(ValueError, match="end after it starts"):
        model.drop_from_board(
            {"job_id": "j", "x0": "2026-03-04 09:01", "x1": "2026-03-04 09:02", "y": 0},
            rows,
            ZONE,
        )
    with pytest.raises(ValueError, match="cannot read"):
        model.drop_from_board({"job_id": "j", "x0": "noon"}, rows, ZONE)


def _find(node: object, ident: str) -> object:
    if getattr(node, "id", None) == ident:
        return node
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str):
            found = _find(child, ident)
            if found is not None:
                return found
    return None


def test_the_plan_form_is_closed_to_a_role_the_api_refuses_scheduling() -> None:
    from dashboard.pages.day_board import layout

    billing = layout.page({}, role="billing")
    save = _find(billing, layout.PLAN_SAVE)
    assert getattr(save, "disabled", False) is True
    note = _find(billing, layout.PLAN_RESULT)
    assert "billing" in str(getattr(note, "children", ""))
    dispatcher = _find(layout.page({}, role="dispatcher"), layout.PLAN_SAVE)
    assert not getattr(dispatcher, "disabled", False)


@pytest.mark.parametrize(
    ("role", "draggable"),
    [("dispatcher", True), ("admin", True), ("billing", False), ("", False)],
)
def test_booked_windows_drag_only_for_a_role_the_matrix_lets_schedule_and_reassign(
    role: str, draggable: bool
) -> None:
    if role:  # the board reads the API's own matrix
        may = allowed(Role(role), Act.SCHEDULE) and allowed(Role(role), Act.ASSIGN_CREW)
        assert layout.may_plan(role) is may is draggable
    jobs = [job("1", at(9), at(10))]
    board = model.build_board([TESS], jobs, [], START, END, at(8))
    fig = figures.board_figure(board, at(8), ZONE, editable=layout.may_plan(role))
    (booked,) = (s for s in fig.layout.shapes if s.name == "job:1")
    assert booked.editable is draggable
    legend = {t.name for t in fig.data}
    assert ("Booked (drag to move)" in legend) is draggable
    assert ("Booked" in legend) is not draggable
