import base64
import io

import pytest

from providers.models import ApiKey
from providers.simulator_key import SORASIM_KEY_NAME, seed_sorasim_key
from soraweb import envfile


@pytest.fixture
def env_path(tmp_path):
    path = tmp_path / ".env"
    path.write_text("DEBUG=1\nSECRET_KEY=keep-me\n")
    return path


@pytest.mark.django_db
def test_it_creates_the_sorasim_key_and_writes_env(alice, env_path, settings, monkeypatch):
    settings.SITE_URL = "http://127.0.0.1:8000"
    monkeypatch.setenv("SORASIM_PORT", "9123")
    out = io.StringIO()
    key = seed_sorasim_key(alice, out, env_path=env_path)

    key.refresh_from_db()
    assert key.name == SORASIM_KEY_NAME
    assert key.base_url == "http://127.0.0.1:9123/v1"
    assert key.has_webhooks
    assert (key.rpm_limit, key.max_concurrent) == (0, 0)  # unlimited on our side: sorasim's limits apply
    assert key.webhook_secret.startswith("whsec_")
    assert len(base64.b64decode(key.webhook_secret.removeprefix("whsec_"))) == 32
    env = envfile.read(env_path)
    assert env["SORASIM_API_KEY"] == key.secret
    assert env["SORASIM_WEBHOOK_SECRET"] == key.webhook_secret
    assert env["SORASIM_WEBHOOK_URL"] == f"http://127.0.0.1:8000/webhooks/{key.webhook_uuid}/"
    assert env["SECRET_KEY"] == "keep-me"
    assert key.secret not in out.getvalue()
    assert key.masked_secret in out.getvalue()


@pytest.mark.django_db
def test_it_keeps_the_same_key_on_a_rerun(alice, env_path):
    first = seed_sorasim_key(alice, io.StringIO(), env_path=env_path)
    before = env_path.read_text()
    second = seed_sorasim_key(alice, io.StringIO(), env_path=env_path)
    assert second.pk == first.pk
    assert ApiKey.objects.filter(name=SORASIM_KEY_NAME).count() == 1
    assert second.secret == first.secret and second.webhook_uuid == first.webhook_uuid
    assert env_path.read_text() == before


@pytest.mark.django_db
def test_it_reuses_the_env_secrets_for_a_fresh_database(alice, env_path):
    envfile.set_values({"SORASIM_API_KEY": "sk-sim-from-env-1234", "SORASIM_WEBHOOK_SECRET": "whsec_ZnJvbWVudg=="},
                       env_path)
    key = seed_sorasim_key(alice, io.StringIO(), env_path=env_path)
    assert key.secret == "sk-sim-from-env-1234"
    assert key.webhook_secret == "whsec_ZnJvbWVudg=="
    assert envfile.read(env_path)["SORASIM_WEBHOOK_URL"] == key.webhook_url


@pytest.mark.django_db
def test_it_corrects_env_to_the_existing_key(alice, env_path, settings):
    key = seed_sorasim_key(alice, io.StringIO(), env_path=env_path)
    envfile.set_values({"SORASIM_API_KEY": "stale"}, env_path, overwrite=True)
    settings.SITE_URL = "https://studio.example.org"
    seed_sorasim_key(alice, io.StringIO(), env_path=env_path)
    env = envfile.read(env_path)
    assert env["SORASIM_API_KEY"] == key.secret
    assert env["SORASIM_WEBHOOK_URL"] == f"https://studio.example.org/webhooks/{key.webhook_uuid}/"
    assert [line.split("=")[0] for line in env_path.read_text().splitlines()].count("SORASIM_API_KEY") == 1


@pytest.mark.django_db
def test_it_runs_from_seed_demo(monkeypatch, tmp_path):
    from django.core.management import call_command

    env_path = tmp_path / ".env"
    monkeypatch.setattr(envfile, "ENV_FILE", env_path)
    monkeypatch.setenv("DEMO_PASSWORD", "demo-password-123")
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())
    key = ApiKey.objects.get(name=SORASIM_KEY_NAME)
    assert envfile.read(env_path)["SORASIM_API_KEY"] == key.secret


@pytest.mark.django_db
def test_it_seeds_a_key_that_the_procfile_sorasim_accepts(alice, env_path, monkeypatch):
    from tests.fixtures.processes import free_port
    from tests.fixtures.sorasim import SorasimProcess

    port = free_port()
    monkeypatch.setenv("SORASIM_PORT", str(port))
    key = seed_sorasim_key(alice, io.StringIO(), env_path=env_path)
    # as the Procfile starts it: its options from the environment (.env), on SORASIM_PORT
    sorasim_env = {name: value for name, value in envfile.read(env_path).items() if name.startswith("SORASIM_")}
    sim = SorasimProcess(["--media", "fast"], sorasim_env, port=port)
    try:
        sim.start()
        with key.client() as client:
            assert list(client.list()) == []
        seen_by_sorasim = sim.control.key(key.secret)
        assert seen_by_sorasim["webhook_urls"] == [key.webhook_url]
        assert seen_by_sorasim["webhook_secret"] == key.webhook_secret
    finally:
        sim.close()
