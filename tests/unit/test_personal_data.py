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
