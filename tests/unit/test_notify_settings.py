from datetime import time, timedelta

import pytest

from shared.config import ConfigError, load_settings
from services.notify import settings as notify_settings


def test_without_a_file_the_embedded_default_applies(tmp_path):
    own = notify_settings.load(load_settings(environ={"DOORSTEP_DATA_DIR": str(tmp_path)}), environ={})
    assert own.default_channel == "file" and own.quiet_hours.start == time(22) and own.quiet_hours.end == time(8)
    assert own.digest_at == time(8, 30) and own.retry.attempts_per_channel == 3


def test_a_file_sets_channels_and_secrets_come_from_the_environment(tmp_path):
    path = tmp_path / "notify.yaml"
    path.write_text("quiet_hours: {start: '21:00', end: '07:00'}\nretry: {base_delay_s: 5}\n"
                    "channels:\n  email: {host: smtp.example.org, password_env: SMTP_PASSWORD}\n", "utf-8")
    settings = load_settings(environ={"DOORSTEP_NOTIFY_CONFIG": str(path)})
    own = notify_settings.load(settings, environ={"SMTP_PASSWORD": "pw"})
    assert own.quiet_hours.start == time(21) and own.retry.base_delay == timedelta(seconds=5)
    assert own.channels["email"] == {"host": "smtp.example.org", "password": "pw"}


@pytest.mark.parametrize("text, setting", [
    ("default_channel: fax\n", "default_channel"),
    ("quiet_hours: {start: '25:00', end: '08:00'}\n", "quiet_hours.start"),
    ("retry: {attempts_per_channel: 0}\n", "retry.attempts_per_channel"),
    ("channels:\n  email: {password_env: NOT_SET_ANYWHERE}\n", "channels.email.password_env"),
    ("colour: red\n", "colour: 不是可用的字段 / is not a known field"),
    ("channels:\n  email: {pasword_env: SMTP_PASSWORD}\n", "channels.email.pasword_env"),
    ("channels:\n  webhook: {secret: s, secret_env: HOOK_SECRET}\n",
     "channels.webhook: secret 与 secret_env 只能给一个 / give secret or secret_env, not both"),
    ("sender: {batch_size: '50'}\n", "sender.batch_size: 应为整数 / must be an integer"),
])
def test_a_wrong_value_stops_start_up_naming_it(tmp_path, text, setting):
    (tmp_path / "notify.yaml").write_text(text, "utf-8")
    with pytest.raises(ConfigError, match=setting.replace(".", r"\.")):
        notify_settings.load(load_settings(environ={"DOORSTEP_DATA_DIR": str(tmp_path)}), environ={})
