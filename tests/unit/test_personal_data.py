import pytest

from shared.personal_data import find_raw_personal_data, id_card_is_valid, mask_id_card, mask_phone


def test_mask_phone():
    assert mask_phone("13812345678") == "138****5678"
    with pytest.raises(ValueError):
        mask_phone("021-5888")


def test_id_card_check_character():
    assert id_card_is_valid("11010519491231002X")
    assert not id_card_is_valid("110105194912310021")  # wrong check character
    assert mask_id_card("11010519491231002X") == "110105***********X"


def test_finds_raw_numbers_anywhere_but_accepts_masked_ones():
    assert find_raw_personal_data({"a": [{"b": "call 13812345678"}]}) == "a/0/b"
    assert find_raw_personal_data({"phone": "138****5678", "n": 13812345678}) is None
    assert find_raw_personal_data({"id": "0b9d7c1e-3c1e-4a55-9b5e-1f7c2f0f8a11"}) is None
    # a UUID whose last group happens to hold a mobile-like run of digits is not a phone number
    assert find_raw_personal_data({"id": "5f0c8e7a-2b8f-4d44-8a7e-a13812345678"}) is None
    assert find_raw_personal_data({"note": "电话13812345678"}) == "note"


# -- numbers in the forms people write them -----------------------------------------------------------------

import re  # noqa: E402

from hypothesis import given, settings as hsettings, strategies as st  # noqa: E402

from shared.personal_data import find_numbers, mask_data, mask_text  # noqa: E402

_FULL = str.maketrans("0123456789", "０１２３４５６７８９")
separators = st.sampled_from(["", " ", "-", ".", "  ", " - ", "\u3000", "－"])
chinese = st.text(alphabet="请联系王阿姨的电话楼道灯不亮谢谢，。：", max_size=6)


@st.composite
def mobiles(draw):
    return "1" + draw(st.sampled_from("3456789")) + "".join(draw(st.lists(st.sampled_from("0123456789"),
                                                                            min_size=9, max_size=9)))


@st.composite
def id_numbers(draw):
    region = draw(st.sampled_from(["110105", "310115", "440305", "320102"]))
    year = draw(st.integers(1920, 2020))
    month, day = draw(st.integers(1, 12)), draw(st.integers(1, 28))
    body = f"{region}{year}{month:02d}{day:02d}{draw(st.integers(0, 999)):03d}"
    total = sum(int(d) * w for d, w in zip(body, (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)))
    return body + "10X98765432"[total % 11]


def written(draw, groups: list[str], prefix: str = "") -> str:
    sep = draw(separators)
    text = prefix + sep.join(groups)
    return text.translate(_FULL) if draw(st.booleans()) else text


@given(st.data(), mobiles(), chinese, chinese)
def test_a_mobile_number_is_masked_however_it_is_written(data, number, before, after):
    grouping = data.draw(st.sampled_from([[number], [number[:3], number[3:7], number[7:]], [number[:3], number[3:]]]))
    prefix = data.draw(st.sampled_from(["", "+86", "+86 ", "0086", "0086-", "86"]))
    trailer = data.draw(st.sampled_from(["", "x", "X", "转", "号"]))
    text = before + written(data.draw, grouping, prefix) + trailer + after
    masked = mask_text(text)
    assert find_numbers(masked) == []
    assert number not in re.sub(r"[^0-9]", "", masked.translate(str.maketrans("０１２３４５６７８９", "0123456789")))
    assert f"{number[:3]}****{number[-4:]}" in masked


@given(st.data(), id_numbers(), chinese)
def test_an_id_number_is_masked_in_groups_or_whole(data, number, around):
    grouping = data.draw(st.sampled_from([[number], [number[:6], number[6:14], number[14:]],
                                          [number[i:i + 4] for i in range(0, 18, 4)]]))
    if data.draw(st.booleans()):
        number = number[:17] + number[17].lower() if number[17] == "X" else number
    text = around + written(data.draw, grouping) + around
    masked = mask_text(text)
    assert find_numbers(masked) == []
    assert number[6:14] not in masked


@given(st.sampled_from(["021", "010", "0571", "0755"]), st.integers(20000000, 89999999), separators)
def test_a_landline_is_masked(area, local, sep):
    text = f"物业电话{area}{sep}{local}"
    masked = mask_text(text)
    assert str(local)[:6] not in masked and masked.startswith(f"物业电话{area}****")


def test_an_old_fifteen_digit_id_is_masked_only_as_a_whole_number():
    assert mask_text("身份证110105491231002") == "身份证110105********2"
    assert mask_text("订单号 2026113012345678901") == "订单号 2026113012345678901"


@given(st.one_of(st.decimals(0, 10**8, places=2).map(str), st.dates().map(str), st.uuids().map(str),
                 st.datetimes().map(lambda d: d.isoformat()), st.integers(0, 10**6).map(lambda n: f"{n} 元")))
@hsettings(max_examples=300)
def test_amounts_dates_times_and_ids_are_not_personal_data(value):
    assert mask_text(value) == value


def test_every_string_of_an_event_is_masked_and_masking_twice_changes_nothing():
    data = {"donor": {"name": "王先生 13812345678"}, "notes": ["身份证 11010519491231002X"], "amount": "100.00",
            "case_id": "5f0c8e7a-2b8f-4d44-8a7e-a13812345678"}
    masked = mask_data(data)
    assert masked == {"donor": {"name": "王先生 138****5678"}, "notes": ["身份证 110105***********X"],
                      "amount": "100.00", "case_id": "5f0c8e7a-2b8f-4d44-8a7e-a13812345678"}
    assert mask_data(masked) == masked
