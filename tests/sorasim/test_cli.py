"""The command line: every option in --help with its SORASIM_<NAME> variable; environment and flags combined."""

import subprocess
import sys

import pytest

from sorasim.config import OPTIONS, env_name, parse_config
from tests.fixtures.sorasim import REPO_ROOT, start_sorasim


def test_help_lists_every_option_and_its_variable():
    result = subprocess.run(
        [sys.executable, "-m", "sorasim", "--help"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    text = " ".join(result.stdout.split())
    for flag, *_ in OPTIONS:
        assert flag in text
        assert env_name(flag) in text
    for flag in (
        "--api-key",
        "--job-seconds",
        "--moderate-word",
        "--data-dir",
        "--media",
        "--expire-seconds",
        "--rpm",
        "--credit-usd",
        "--webhook-url",
        "--webhook-secret",
        "--fault-rate",
        "--seed",
        "--pad-mb",
    ):
        assert flag in text


def test_environment_variables_set_options_and_lists_are_comma_separated():
    config = parse_config(
        [],
        {
            "SORASIM_API_KEY": "k1, k2",
            "SORASIM_JOB_SECONDS": "2.5",
            "SORASIM_RPM": "9",
            "SORASIM_MODERATE_WORD": "war,gore",
            "SORASIM_WEBHOOK_REORDER": "true",
            "SORASIM_FAULT_STATUSES": "503",
            "SORASIM_CREDIT_USD": "3.5",
        },
    )
    assert config.api_keys == ["k1", "k2"]
    assert config.faults.job_seconds == 2.5 and config.rpm == 9 and config.credit_usd == 3.5
    assert config.moderate_words == ["war", "gore"]
    assert config.faults.webhook_reorder is True and config.faults.error_statuses == [503]


def test_flags_win_over_the_environment():
    config = parse_config(
        ["--api-key", "a", "--api-key", "b", "--rpm", "3", "--webhook-reorder"],
        {"SORASIM_API_KEY": "z", "SORASIM_RPM": "9"},
    )
    assert config.api_keys == ["a", "b"] and config.rpm == 3 and config.faults.webhook_reorder is True


def test_the_defaults():
    config = parse_config([], {})
    assert config.api_keys == ["sk-sorasim-demo"]
    assert (config.faults.job_seconds, config.faults.expire_seconds, config.media) == (10.0, 3600.0, "real")
    assert config.data_dir is None and config.credit_usd is None and config.rpm == 0


@pytest.mark.parametrize(
    ("argv", "environ"),
    [
        (["--media", "slow"], {}),
        (["--fault-rate", "2"], {}),
        ([], {"SORASIM_RPM": "many"}),
        (["--webhook-secret", "nope"], {}),
        (["--fault-endpoints", "upload"], {}),
    ],
)
def test_bad_values_stop_with_a_message(argv, environ, capsys):
    with pytest.raises(SystemExit):
        parse_config(argv, environ)
    assert "error" in capsys.readouterr().err


def test_a_server_started_from_the_environment_uses_it():
    with start_sorasim(
        "--media", "fast", SORASIM_API_KEY="env-a,env-b", SORASIM_RPM="7", SORASIM_CREDIT_USD="3"
    ) as sim:
        keys = {k["key"]: k for k in sim.control.keys()}
        assert set(keys) == {"env-a", "env-b"}
        assert keys["env-a"]["rpm"] == 7 and keys["env-b"]["credit_usd"] == 3
        assert sim.control.faults()["job_seconds"] == 10
        assert sim.client(api_key="env-b").videos.create(prompt="from env").status == "queued"


def test_the_start_up_line_shows_only_the_last_four_characters_of_each_key():
    with start_sorasim("--media", "fast", "--api-key", "sk-live-secret-abcd1234", "--api-key", "sk-other-9876") as sim:
        line = next(line for line in sim.log_text().splitlines() if "keys:" in line)
    assert "keys: ••••1234, ••••9876," in line
    assert "secret" not in line and "sk-" not in line
