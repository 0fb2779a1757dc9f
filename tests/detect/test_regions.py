"""Choosing the crop the pose model looks at (pure functions, no model)."""

from __future__ import annotations

import numpy as np

from cashwatch.detect.regions import (
    MAX_AREA_FRACTION,
    Region,
    choose_region,
    crop_imgsz,
    cut_by_edge,
)

FRAME = (1280, 720)


def _contains(region: Region, box: tuple[float, float, float, float]) -> bool:
    return (
        region.x1 <= box[0] and region.y1 <= box[1] and region.x2 >= box[2] and region.y2 >= box[3]
    )


def test_a_person_touched_by_the_change_is_taken_in_whole() -> None:
    person = (500.0, 200.0, 640.0, 600.0)
    region = choose_region((620, 300, 680, 360), np.array([person]), FRAME)
    assert region is not None and _contains(region, person)


def test_people_away_from_the_change_stay_out() -> None:
    far = (1000.0, 100.0, 1100.0, 400.0)
    region = choose_region((100, 100, 160, 160), np.array([far]), FRAME)
    assert region is not None and region.x2 < far[0]


def test_a_person_reached_through_another_is_taken_in_too() -> None:
    # The change touches A; A's margin reaches B, who must not be cut either.
    a, b = (300.0, 200.0, 400.0, 500.0), (440.0, 200.0, 540.0, 500.0)
    region = choose_region((300, 250, 330, 280), np.array([a, b]), FRAME)
    assert region is not None and _contains(region, a) and _contains(region, b)


def test_a_large_change_means_the_whole_frame() -> None:
    assert choose_region((0, 0, 900, 700), np.zeros((0, 4)), FRAME) is None
    small = choose_region((0, 0, 400, 400), np.zeros((0, 4)), FRAME)
    assert small is not None
    assert small.width * small.height <= MAX_AREA_FRACTION * FRAME[0] * FRAME[1]


def test_the_region_stays_inside_the_frame() -> None:
    region = choose_region((1250, 690, 1280, 720), np.zeros((0, 4)), FRAME)
    assert region is not None and region.x2 == 1280 and region.y2 == 720


def test_crop_input_size_keeps_the_whole_frame_scale() -> None:
    # 1280 px → 640: a crop 400 px wide is 200 px at that scale, padded to 224.
    assert crop_imgsz(Region(0, 0, 400, 300), FRAME, 640) == 224
    assert crop_imgsz(Region(0, 0, 1280, 720), FRAME, 640) == 640
    assert crop_imgsz(Region(0, 0, 10, 10), FRAME, 640) == 32


def test_a_box_on_an_inner_edge_may_be_cut() -> None:
    region = Region(400, 100, 800, 500)
    assert cut_by_edge(np.array([[400.5, 200, 500, 300]]), region, FRAME)
    assert cut_by_edge(np.array([[600, 200, 799, 300]]), region, FRAME)
    assert not cut_by_edge(np.array([[450, 150, 750, 450]]), region, FRAME)
    # the frame's own edge cuts nobody the crop could have seen whole
    edge = Region(0, 0, 300, 300)
    assert not cut_by_edge(np.array([[0, 0, 100, 100]]), edge, FRAME)
    assert not cut_by_edge(np.zeros((0, 4)), region, FRAME)


def test_crop_coordinates_go_back_to_the_frame() -> None:
    region = Region(100, 50, 300, 250)
    assert region.to_frame(np.array([[0.0, 0, 10, 20]])).tolist() == [[100, 50, 110, 70]]
    points = np.zeros((1, 17, 2), np.float32)
    assert region.to_frame(points)[0, 0].tolist() == [100, 50]
    frame = np.zeros((720, 1280, 3), np.uint8)
    assert region.crop(frame).shape == (200, 200, 3)
