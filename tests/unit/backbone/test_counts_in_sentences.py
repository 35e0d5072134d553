"""A count in a sentence a person reads agrees with it: '1 identical copy dropped', '1 photo shares
enough features with no other photo', never '1 identical copies' or '1 photos share'."""

from shared.photo_formats import Skip, Skipped, describe_skipped
from shared.wording import agree, counted, plural


def test_plural_and_agreement_follow_the_count():
    assert [plural(n, "photo") for n in (0, 1, 2)] == ["0 photos", "1 photo", "2 photos"]
    assert plural(1, "identical copy", "identical copies") == "1 identical copy"
    assert plural(3, "identical copy", "identical copies") == "3 identical copies"
    assert agree(1, "are dark (underexposed)") == "is dark (underexposed)"
    assert agree(1, "share enough features") == "shares enough features"
    assert agree(2, "are dark") == "are dark" and agree(1, "could not be read") == "could not be read"
    assert [counted(1, 0), counted(0, 1), counted(2, 1)] == ["1 photo", "1 video", "2 photos and 1 video"]


def test_one_identical_copy_reads_in_the_singular():
    lines = describe_skipped([Skipped("IMG_1 (1).JPG", Skip.DUPLICATE, same_as="IMG_1.JPG")])
    assert lines == ["1 identical copy dropped: IMG_1 (1).JPG (= IMG_1.JPG)"]
