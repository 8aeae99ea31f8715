from shared.auth import TokenFile, hash_token


def test_token_is_stored_hashed_and_authenticates_with_its_role(tmp_path):
    tokens = TokenFile(tmp_path / "tokens.yaml")
    secret, principal = tokens.create("treasurer", label="finance desk")
    stored = (tmp_path / "tokens.yaml").read_text()
    assert secret not in stored and hash_token(secret) in stored
    assert tokens.authenticate(secret).role == "treasurer"
    assert tokens.authenticate(secret + "x") is None


def test_a_token_added_later_is_seen_without_restart(tmp_path):
    reader = TokenFile(tmp_path / "tokens.yaml")
    assert reader.authenticate("dst_nothing") is None
    secret, _ = TokenFile(tmp_path / "tokens.yaml").create("counter")
    assert reader.authenticate(secret).role == "counter"
