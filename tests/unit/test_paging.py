"""The one paging model every office list pages with (dashboard/paging.py)."""

from __future__ import annotations

from dashboard.paging import PAGE_SIZE, OffsetPaging, Paging, first_page


def test_keyset_paging_moves_forward_after_the_last_cursor_and_back_to_the_start() -> (
    None
):
    first = Paging[int]()
    second = first.next(25)
    third = second.next(50)
    assert (first.current, second.current, third.current) == (None, 25, 50)
    assert third.page == 3
    assert third.previous() == second
    assert first.previous() == first


def test_a_page_kept_in_a_store_comes_back_as_the_same_page() -> None:
    paging = Paging[str]().next("a").next("b")
    assert Paging[str].of(paging.previous().data()).current == "a"
    assert Paging[str].of(None) == Paging[str].of(first_page()) == Paging[str]()


def test_one_row_more_than_shown_says_there_is_a_next_page() -> None:
    paging = Paging[int]()
    assert paging.limit == PAGE_SIZE + 1
    shown, more = paging.cut(list(range(PAGE_SIZE + 1)))
    assert (len(shown), more) == (PAGE_SIZE, True)
    assert paging.cut([1, 2]) == ([1, 2], False)


def test_the_pager_says_the_page_and_disables_what_cannot_be_clicked() -> None:
    assert Paging[int]().pager(more=True) == ("Page 1", True, False)
    assert Paging[int]().next(7).pager(more=False) == ("Page 2", False, True)


def test_offset_paging_starts_each_page_a_page_further() -> None:
    third = OffsetPaging().forward().forward()
    assert (third.page, third.offset) == (3, 2 * PAGE_SIZE)
    assert isinstance(third.previous(), OffsetPaging)
    assert third.previous().offset == PAGE_SIZE
    assert OffsetPaging.of(third.data()) == third
