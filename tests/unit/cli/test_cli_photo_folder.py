"""Which files `spaceport run` takes from the folder it is given, and what it refuses before copying."""

import pytest

from shared.photo_formats import Skip
from spaceport.api import photo_folder
from spaceport.commands.common import CliError
from tests.support.photos import jpeg_bytes


def write(folder, names):
    for k, name in enumerate(names):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(jpeg_bytes(k, 64, 48))


def test_a_dataset_folder_with_an_images_subfolder_is_accepted(tmp_path):
    write(tmp_path, [f"images/{k}.JPG" for k in range(8)])
    (tmp_path / "SOURCE.md").write_text("license")
    found = photo_folder(tmp_path)
    assert found.selection.photos == [f"images/{k}.JPG" for k in range(8)]
    assert any("SOURCE.md" in w for w in found.warnings)


def test_photos_at_the_top_and_in_sub_folders_are_all_taken(tmp_path):
    write(tmp_path, [f"top_{k}.jpg" for k in range(4)] + [f"second pass/p_{k}.jpg" for k in range(4)])
    assert len(photo_folder(tmp_path).selection.photos) == 8


def test_a_folder_without_photos_says_where_it_looked(tmp_path):
    with pytest.raises(CliError, match="sub-folders"):
        photo_folder(tmp_path)


def test_a_bad_address_is_refused_before_anything_is_read(tmp_path):
    write(tmp_path, [f"{k}.jpg" for k in range(8)])
    with pytest.raises(CliError, match="email address"):
        photo_folder(tmp_path, "not an address")


def test_too_few_photos_are_refused_with_the_local_path(tmp_path):
    write(tmp_path, ["a.jpg", "b.jpg"])
    with pytest.raises(CliError) as refused:
        photo_folder(tmp_path)
    assert "too_few_images" in str(refused.value) and str(tmp_path) in str(refused.value)
    assert "s3://" not in str(refused.value)


def test_one_video_file_is_a_job_with_its_subtitle_and_nothing_else_from_its_folder(tmp_path):
    from tests.support.videos import video_bytes

    (tmp_path / "DJI_0001.MP4").write_bytes(video_bytes(".mp4"))
    (tmp_path / "DJI_0001.SRT").write_text("1\n00:00:00,000 --> 00:00:00,100\n[latitude: 1]\n")
    write(tmp_path, ["other.jpg"])
    found = photo_folder(tmp_path / "DJI_0001.MP4")
    assert set(found.files) == {"DJI_0001.MP4", "DJI_0001.SRT"} and found.counted == "1 video"


def test_a_single_photo_is_too_few_and_the_message_names_its_folder(tmp_path):
    write(tmp_path, ["IMG_1.jpg"])
    with pytest.raises(CliError) as refused:
        photo_folder(tmp_path / "IMG_1.jpg")
    message = str(refused.value)
    assert "(too_few_images)" in message and "IMG_1.jpg is a single photo" in message
    assert f"give the folder of photos instead ({tmp_path})" in message and "video" not in message.split(";")[0]


@pytest.mark.parametrize("name, content, what", [
    ("DSC_0001.NEF", b"II*\x00" + bytes(200), "a single file, camera RAW"),
    ("notes.txt", b"shopping list", "a single file, not a photo"),
    ("empty.jpg", b"", "a single file, empty"),
])
def test_a_single_file_that_is_not_a_photo_or_video_says_what_it_is(tmp_path, name, content, what):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(CliError, match=rf"\(too_few_images\): .*{name} is {what}.*folder of photos instead"):
        photo_folder(tmp_path / name)


def test_a_single_file_named_as_a_video_that_is_not_one_is_an_unreadable_video(tmp_path):
    (tmp_path / "clip.mp4").write_text("<html>download failed</html>")
    with pytest.raises(CliError, match=r"\(unreadable_video\): .*clip.mp4 is named as a video, but not one"):
        photo_folder(tmp_path / "clip.mp4")


def test_a_folder_with_a_video_and_two_photos_is_enough(tmp_path):
    from tests.support.videos import video_bytes

    write(tmp_path, ["a.jpg", "b.jpg"])
    (tmp_path / "walk.mov").write_bytes(video_bytes(".mov"))
    assert photo_folder(tmp_path).counted == "2 photos and 1 video"


def test_a_folder_whose_only_video_is_not_one_blames_the_video(tmp_path):
    (tmp_path / "clip.mp4").write_text("<html>download failed</html>")
    with pytest.raises(CliError, match="unreadable_video.*clip.mp4"):
        photo_folder(tmp_path)


def test_the_notes_say_what_each_video_gave():
    from spaceport.photos import photo_notes

    video = {"name": "DJI_0001.MP4", "frames_kept": 95, "used_s": 60.0, "rejected_blurry": 6,
             "rejected_redundant": 14}
    (note,) = photo_notes({"photos": {"count": 0, "videos": [video]}})
    assert note == "DJI_0001.MP4: 95 frames from 60.0 s (skipped: 6 blurry, 14 where the camera barely moved)"


def test_a_data_dir_inside_the_folder_is_neither_read_nor_taken_for_photos(tmp_path):
    write(tmp_path, [f"IMG_{k}.jpg" for k in range(8)])
    write(tmp_path, [f"work/spaceport/inbox/old/IMG_{k}.jpg" for k in range(8)])  # an earlier job's copy
    found = photo_folder(tmp_path, data_dir=tmp_path / "work")
    assert found.selection.photos == [f"IMG_{k}.jpg" for k in range(8)]
    assert found.warnings == ["1 skipped, the local data dir (the copies and outputs of earlier jobs): work/"]


def test_a_data_dir_that_is_the_folder_itself_keeps_its_photos_and_leaves_out_what_is_ours(tmp_path):
    write(tmp_path, [f"IMG_{k}.jpg" for k in range(8)])
    write(tmp_path, ["spaceport/inbox/old/IMG_0.jpg", "runs/r/opt/ml/processing/input/IMG_1.jpg"])
    for name in ("spaceport.db", "spaceport.db-wal", "runtime.lock", "sources.json"):
        (tmp_path / name).write_bytes(b"ours")
    found = photo_folder(tmp_path, data_dir=tmp_path)
    assert found.selection.photos == [f"IMG_{k}.jpg" for k in range(8)]
    assert not found.selection.skipped_for(Skip.NOT_PHOTO, Skip.DUPLICATE)
    assert {s.name for s in found.selection.skipped} == {"runs/", "runtime.lock", "sources.json", "spaceport.db",
                                                         "spaceport.db-wal", "spaceport/"}  # fmt: skip


def test_the_notes_count_unplaced_photos_among_those_the_solve_had_and_name_skipped_ones():
    from spaceport.photos import photo_notes

    skipped = "1 photo is smaller than 180 pixels on the short side and was skipped: thumb.jpg"
    photos = {"count": 18, "solved": 16, "unplaced": ["DSC_0434.JPG"], "skipped": [skipped], "left_out": ["x"]}
    assert photo_notes({"photos": photos}, left_out=False) == [skipped, "not placed in 3D (1 of 16): DSC_0434.JPG"]
