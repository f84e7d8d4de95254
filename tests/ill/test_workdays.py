"""China's working-day deadlines across the 2025 National Day holiday and its swapped working weekends."""

from datetime import UTC, date, datetime

import chinese_calendar

from ill.workdays import BEIJING, add_month, is_workday, loan_due, working_days_after


def bj(*args) -> datetime:
    return datetime(*args, tzinfo=BEIJING)


def test_the_calendar_data_is_what_the_tests_assume():
    # Read from the library, not assumed: 2025-09-28 (Sunday) and 2025-10-11 (Saturday) were working days;
    # 2025-10-01..08 were holidays.
    assert date(2025, 9, 28).weekday() == 6 and chinese_calendar.is_workday(date(2025, 9, 28))
    assert date(2025, 10, 11).weekday() == 5 and chinese_calendar.is_workday(date(2025, 10, 11))
    assert all(chinese_calendar.is_holiday(date(2025, 10, d)) for d in range(1, 9))
    assert is_workday(date(2025, 9, 28)) and not is_workday(date(2025, 10, 1))


def test_answer_deadline_skips_the_national_day_holiday():
    # submitted Tuesday 09-30: one working day later is Thursday 10-09, deadline at its end
    assert working_days_after(bj(2025, 9, 30, 10, 0), 1) == bj(2025, 10, 10, 0, 0)
    assert working_days_after(bj(2025, 9, 30, 23, 59), 1) == bj(2025, 10, 10, 0, 0)


def test_a_swapped_working_sunday_counts():
    # submitted Saturday 09-27 (a rest day): the next working day is Sunday 09-28
    assert working_days_after(bj(2025, 9, 27, 15, 0), 1) == bj(2025, 9, 29, 0, 0)
    # submitted Friday 09-26: Sunday 09-28 is the first working day after it, not Monday
    assert working_days_after(bj(2025, 9, 26, 9, 0), 1) == bj(2025, 9, 29, 0, 0)


def test_ship_deadline_three_working_days_across_the_holiday_and_a_working_saturday():
    # from 09-30: 10-09 (Thu), 10-10 (Fri), 10-11 (Sat, swapped working day)
    assert working_days_after(bj(2025, 9, 30, 10, 0), 3) == bj(2025, 10, 12, 0, 0)
    # from 09-26: 09-28 (Sun, working), 09-29, 09-30
    assert working_days_after(bj(2025, 9, 26, 10, 0), 3) == bj(2025, 10, 1, 0, 0)


def test_beijing_date_decides_not_utc():
    # 2025-09-30 17:00 UTC is already 10-01 01:00 in Beijing, a holiday: the first working day after is 10-09
    assert working_days_after(datetime(2025, 9, 30, 17, 0, tzinfo=UTC), 1) == bj(2025, 10, 10, 0, 0)


def test_loan_due_one_month_later_moved_past_holidays():
    # lent 2025-09-01: due 10-01, a holiday, so due at the end of 10-09 (遇节假日顺延)
    assert loan_due(bj(2025, 9, 1, 14, 0)) == bj(2025, 10, 10, 0, 0)
    # lent 2025-09-11: due Saturday 10-11, a swapped working day, so no move
    assert loan_due(bj(2025, 9, 11, 14, 0)) == bj(2025, 10, 12, 0, 0)
    assert add_month(date(2025, 1, 31)) == date(2025, 2, 28)
    assert add_month(date(2025, 12, 15)) == date(2026, 1, 15)


def test_years_without_calendar_data_fall_back_to_monday_to_friday():
    far = date(2099, 6, 1)
    try:
        chinese_calendar.is_workday(far)
        has_data = True
    except NotImplementedError:
        has_data = False
    if not has_data:
        assert is_workday(date(2099, 6, 1)) is True  # a Monday
        assert is_workday(date(2099, 6, 6)) is False  # a Saturday
    assert working_days_after(bj(2099, 6, 5, 10, 0), 1) == bj(2099, 6, 9, 0, 0)
