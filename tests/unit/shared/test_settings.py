import subprocess
import sys

import pytest

from shared.settings import CommonSettings, Env, SettingsError

GOOD = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092", "MONGODB_URI": "mongodb://127.0.0.1:27017/"}


def test_good_settings_load_with_defaults():
    s = CommonSettings.from_env(Env(GOOD))
    assert s.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert s.kafka_session_timeout_ms == 45_000
    assert s.kafka_enable_idempotence is True


@pytest.mark.parametrize("name, value, message", [
    ("KAFKA_BOOTSTRAP_SERVERS", "", "KAFKA_BOOTSTRAP_SERVERS: is not set"),
    ("KAFKA_BOOTSTRAP_SERVERS", "localhost", "KAFKA_BOOTSTRAP_SERVERS: 'localhost' is not host:port"),
    ("MONGODB_URI", "", "MONGODB_URI: is not set"),
    ("MONGODB_URI", "http://x", "MONGODB_URI: must start with mongodb://"),
    ("KAFKA_SESSION_TIMEOUT_MS", "soon", "KAFKA_SESSION_TIMEOUT_MS: 'soon' is not a whole number"),
    ("KAFKA_SESSION_TIMEOUT_MS", "10", "KAFKA_SESSION_TIMEOUT_MS: 10 is outside"),
    ("KAFKA_HEARTBEAT_INTERVAL_MS", "60000", "KAFKA_HEARTBEAT_INTERVAL_MS: must be below"),
    ("KAFKA_ENABLE_IDEMPOTENCE", "maybe", "KAFKA_ENABLE_IDEMPOTENCE: 'maybe' is not a boolean"),
    ("LOG_LEVEL", "LOUD", "LOG_LEVEL: 'LOUD' is not one of"),
])
def test_bad_setting_names_the_variable(name, value, message):
    with pytest.raises(SettingsError) as err:
        CommonSettings.from_env(Env({**GOOD, name: value}))
    assert str(err.value).startswith(message)


def test_a_service_with_a_bad_setting_exits_with_one_line():
    env = {"PATH": "/usr/bin:/bin", "KAFKA_BOOTSTRAP_SERVERS": "nohostport",
           "MONGODB_URI": "mongodb://127.0.0.1:1/"}
    proc = subprocess.run([sys.executable, "-m", "shared.check"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "KAFKA_BOOTSTRAP_SERVERS" in lines[0]


@pytest.mark.parametrize("uri, shown", [
    ("mongodb://app:s3cret@db1:27017,db2:27017/campaign?replicaSet=rs0",
     "mongodb://app:***@db1:27017,db2:27017/campaign?replicaSet=rs0"),
    ("mongodb+srv://app:p%40ss@cluster.example.net/", "mongodb+srv://app:***@cluster.example.net/"),
    ("mongodb://app@db1/", "mongodb://app:***@db1/"),
    ("mongodb://a:b@c@db1/", "mongodb://a:***@db1/"),
    ("mongodb://127.0.0.1:27017/", "mongodb://127.0.0.1:27017/"),
    ("garbage", "<not a URI>"),
])
def test_a_mongodb_uri_is_shown_without_its_password(uri, shown):
    from shared.settings import redacted_uri

    assert redacted_uri(uri) == shown


def test_a_failed_start_up_never_prints_the_password(capsys):
    from shared.entry import check_dependencies, guarded

    settings = CommonSettings.from_env(Env({**GOOD, "MONGODB_URI": "mongodb://app:s3cret-pw@127.0.0.1:1/"}))
    assert "s3cret-pw" not in repr(settings)
    assert guarded(lambda: check_dependencies(settings, timeout_s=0.3), "intake") == 3
    err = capsys.readouterr().err
    assert err.startswith("intake: MONGODB_URI: no MongoDB answers at mongodb://app:***@127.0.0.1:1/")
    assert "s3cret-pw" not in err and err.count("\n") == 1
