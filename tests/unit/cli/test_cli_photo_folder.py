"""Which files `spaceport run` takes from the folder it is given."""

import pytest

from spaceport.api import photo_files
from spaceport.commands.common import CliError


def test_a_dataset_folder_with_an_images_subfolder_is_accepted(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.JPG").write_bytes(b"x")
    (tmp_path / "SOURCE.md").write_text("license")
    assert [p.name for p in photo_files(tmp_path)] == ["a.JPG"]


def test_photos_at_the_top_level_win_over_an_images_subfolder(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.jpg").write_bytes(b"x")
    (tmp_path / "b.png").write_bytes(b"x")
    assert [p.name for p in photo_files(tmp_path)] == ["b.png"]


def test_a_folder_without_photos_says_where_it_looked(tmp_path):
    with pytest.raises(CliError, match="images"):
        photo_files(tmp_path)
