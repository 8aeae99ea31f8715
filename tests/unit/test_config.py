import pytest

from shared.config import ConfigError, load_settings


def test_defaults_are_the_embedded_system():
    settings = load_settings(environ={})
    assert settings.broker_uri == "memory://"
    assert settings.db_url("routing") == "sqlite:///var/routing.db"
    assert settings.port("notify") == 8004


def test_environment_overrides_file_and_names_per_service_databases(tmp_path):
    config = tmp_path / "doorstep.yaml"
    config.write_text("street: huamu\nbroker_uri: amqp://a@b/\n", "utf-8")
    settings = load_settings(environ={"DOORSTEP_CONFIG": str(config), "DOORSTEP_BROKER": "amqp://x@y/",
                                      "DOORSTEP_DB_INTAKE": "postgresql://h/intake_only"})
    assert settings.street == "huamu"
    assert settings.broker_uri == "amqp://x@y/"
    assert settings.db_url("intake") == "postgresql://h/intake_only"
    assert settings.db_url("funds") == "sqlite:///var/funds.db"


@pytest.mark.parametrize("environ, setting", [
    ({"DOORSTEP_DB": "postgresql://h/doorstep"}, "DOORSTEP_DB"),  # one database for four services
    ({"DOORSTEP_DB": "mysql://h/{service}"}, "DOORSTEP_DB"),
    ({"DOORSTEP_DB_FUNDS": "oracle://x"}, "DOORSTEP_DB_FUNDS"),
    ({"DOORSTEP_STREET": "陆家嘴"}, "DOORSTEP_STREET"),
    ({"DOORSTEP_BROKER": "redis://h"}, "DOORSTEP_BROKER"),
    ({"DOORSTEP_HTTP_PORT": "eighty"}, "DOORSTEP_HTTP_PORT"),
    ({"DOORSTEP_HTTP_PORT": "70000"}, "DOORSTEP_HTTP_PORT"),
    ({"DOORSTEP_HANDLER_ATTEMPTS": "0"}, "DOORSTEP_HANDLER_ATTEMPTS"),
    ({"DOORSTEP_RETENTION_DELIVERY_BODY_DAYS": "0"}, "DOORSTEP_RETENTION_DELIVERY_BODY_DAYS"),
    ({"DOORSTEP_RETENTION_CLOSED_CASE_DAYS": "five years"}, "DOORSTEP_RETENTION_CLOSED_CASE_DAYS"),
    ({"DOORSTEP_RETENTION_TIMER_S": "-1"}, "DOORSTEP_RETENTION_TIMER_S"),
    # what retention redacts must be older than the events the outbox keeps for replay
    ({"DOORSTEP_RETENTION_RESIDENT_DAYS": "30"}, "DOORSTEP_RETENTION_RESIDENT_DAYS"),
    ({"DOORSTEP_OUTBOX_RETENTION_DAYS": "2000"}, "DOORSTEP_RETENTION_CLOSED_CASE_DAYS"),
    ({"DOORSTEP_CONFIG": "/no/such/file.yaml"}, "DOORSTEP_CONFIG"),
])
def test_a_wrong_value_stops_start_up_naming_the_setting(environ, setting):
    with pytest.raises(ConfigError) as error:
        load_settings(environ=environ)
    assert error.value.setting == setting
    assert str(error.value).startswith(setting)


def test_street_files_come_from_the_street_folder_unless_a_path_names_one(tmp_path):
    folder = tmp_path / "street"
    folder.mkdir()
    (folder / "catalog.yaml").write_text("extends: default\n", "utf-8")
    (folder / "..data").mkdir()  # a ConfigMap volume's own link
    own_directory = tmp_path / "directory.yaml"
    own_directory.write_text("units: []\n", "utf-8")
    settings = load_settings(environ={"DOORSTEP_STREET_DIR": str(folder),
                                      "DOORSTEP_ROUTING_DIRECTORY": str(own_directory),
                                      "DOORSTEP_ROUTING_TIMER_S": "0.5"})
    assert settings.street_file("catalog") == folder / "catalog.yaml"
    assert settings.street_file("routing_directory") == own_directory
    assert settings.street_file("stations") is None  # absent: the packaged default
    assert settings.routing_timer_s == 0.5
    assert load_settings(environ={}).street_file("catalog") is None


@pytest.mark.parametrize("files, environ, message", [
    ([], {"DOORSTEP_CATALOG": "/no/such/catalog.yaml"}, "DOORSTEP_CATALOG: file /no/such/catalog.yaml does not exist"),
    (["catalogue.yaml"], {}, "DOORSTEP_STREET_DIR: unexpected file(s) catalogue.yaml"),
    ([], {"DOORSTEP_ROUTING_TIMER_S": "0"}, "DOORSTEP_ROUTING_TIMER_S: 应为正数的秒数 / must be a positive number of seconds"),
])
def test_a_wrong_street_setting_stops_start_up_naming_it(tmp_path, files, environ, message):
    for name in files:
        (tmp_path / name).write_text("", "utf-8")
    with pytest.raises(ConfigError) as error:
        load_settings(environ={"DOORSTEP_STREET_DIR": str(tmp_path), **environ})
    assert str(error.value).startswith(message)
    with pytest.raises(ConfigError, match="DOORSTEP_STREET_DIR: .* is not a directory"):
        load_settings(environ={"DOORSTEP_STREET_DIR": str(tmp_path / "missing")})
