"""The transition table itself: complete in the ISO 18626 vocabulary, closed states closed."""

from ill import machine as m


def test_every_iso_status_is_reachable_in_the_table():
    reached = {t.to_status for t in m.TRANSITIONS} | {m.REQUEST_RECEIVED}
    assert set(m.ISO_STATUSES) - {m.RETRY_POSSIBLE, m.UNFILLED} <= reached
    assert m.RETRY_POSSIBLE in reached and m.UNFILLED in reached


def test_final_states_allow_nothing():
    for status in m.FINAL:
        for kind in m.KINDS:
            assert m.allowed_actions(status, m.NONE, kind) == []


def test_requester_actions_use_iso_names():
    assert {m.RECEIVED, m.SHIPPED_RETURN, m.CANCEL, m.NOTIFY} == {"Received", "ShippedReturn", "Cancel",
                                                                     "Notification"}


def test_a_copy_completes_on_shipping_and_a_loan_goes_out():
    assert m.find(m.SHIP, m.WILL_SUPPLY, m.NONE, m.COPY).to_status == m.COPY_COMPLETED
    t = m.find(m.SHIP, m.WILL_SUPPLY, m.NONE, m.LOAN)
    assert (t.to_status, t.to_phase) == (m.LOANED, m.TRANSIT)
    assert m.find(m.LEND, m.LOANED, m.LIBRARY, m.COPY) is None


def test_actors_per_action():
    assert m.allowed_actions(m.REQUEST_RECEIVED, m.NONE, m.LOAN, m.LENDER) == [
        m.EXPECT, m.WILL, m.ANSWER_UNFILLED, m.ANSWER_RETRY, m.NOTIFY]
    assert m.allowed_actions(m.REQUEST_RECEIVED, m.NONE, m.LOAN, m.READER_) == [m.CANCEL, m.NOTIFY]
    # the clock's own actions are never offered to people
    assert m.TIMEOUT not in m.allowed_actions(m.REQUEST_RECEIVED, m.NONE, m.LOAN)
