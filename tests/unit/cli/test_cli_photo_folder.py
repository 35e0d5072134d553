"""Which files `spaceport run` takes from the folder it is given, and what it refuses before copying."""

import pytest

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
