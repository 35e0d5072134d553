from shared.routing import ROUTES, consumers_of, event_pattern


def test_our_events_reach_exactly_the_next_stage():
    assert consumers_of("spaceport", "JobSubmitted", {}) == ["sfm"]
    assert consumers_of("spaceport", "SfmCompleted", {}) == ["train"]
    assert consumers_of("spaceport", "TrainingCompleted", {}) == ["compress"]
    assert consumers_of("spaceport", "CompressionCompleted", {}) == ["notify"]
    assert consumers_of("spaceport", "JobFailed", {}) == ["notify"]
    assert sorted(consumers_of("spaceport", "JobCancelRequested", {})) == ["compress", "sfm", "train"]


def test_sagemaker_events_reach_only_the_stage_that_owns_the_job():
    detail = {"ProcessingJobName": "spaceport-compress-abc-a1"}
    assert consumers_of("aws.sagemaker", "SageMaker Processing Job State Change", detail) == ["compress"]
    assert consumers_of("aws.sagemaker", "SageMaker Processing Job State Change", {"ProcessingJobName": "x"}) == []
    training = {"TrainingJobName": "spaceport-train-abc-a1"}
    assert consumers_of("aws.sagemaker", "SageMaker Training Job State Change", training) == ["train"]


def test_only_manifests_in_the_inbox_submit_jobs():
    assert consumers_of("aws.s3", "Object Created", {"object": {"key": "inbox/roof/job.json"}}) == ["ingest"]
    assert consumers_of("aws.s3", "Object Created", {"object": {"key": "inbox/roof/a.jpg"}}) == []
    assert consumers_of("aws.s3", "Object Created", {"object": {"key": "jobs/x/sfm/job.json"}}) == []


def test_every_route_has_a_pattern_with_its_source():
    for route in ROUTES:
        assert event_pattern(route)["source"] == [route.source]
