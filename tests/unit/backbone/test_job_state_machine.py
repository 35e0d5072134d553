from shared.jobs import FINAL_STATES, JobState, can_transition, states_before


def test_states_only_move_forward():
    assert can_transition(JobState.SUBMITTED, JobState.SFM_RUNNING)
    assert can_transition(JobState.SFM_RUNNING, JobState.SFM_DONE)
    assert not can_transition(JobState.SFM_DONE, JobState.SFM_RUNNING)
    assert not can_transition(JobState.TRAIN_RUNNING, JobState.SFM_DONE)


def test_final_states_absorb_everything():
    for final in FINAL_STATES:
        for target in JobState:
            assert not can_transition(final, target)


def test_any_running_job_can_fail_or_be_cancelled():
    for state in set(JobState) - FINAL_STATES:
        assert can_transition(state, JobState.FAILED)
        assert can_transition(state, JobState.CANCELLED)


def test_states_before_a_stage_start_exclude_later_states():
    before = states_before(JobState.TRAIN_RUNNING)
    assert JobState.SFM_DONE in before
    assert JobState.TRAIN_DONE not in before
    assert not before & FINAL_STATES
