import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from quotas.services import UnknownPrice, cost_cents, price_per_second

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("model", "size", "price"), [
    ("sora-2", "720x1280", "0.10"),
    ("sora-2", "1280x720", "0.10"),
    ("sora-2-pro", "720x1280", "0.30"),
    ("sora-2-pro", "1280x720", "0.30"),
    ("sora-2-pro", "1024x1792", "0.50"),
    ("sora-2-pro", "1792x1024", "0.50"),
])
def test_it_prices_the_reference_table(model, size, price):
    assert price_per_second(model, size) == Decimal(price)
    assert isinstance(price_per_second(model, size), Decimal)


def test_it_refuses_a_model_and_size_it_has_no_price_for():
    with pytest.raises(UnknownPrice, match="no price for sora-2 at 1792x1024"):
        price_per_second("sora-2", "1792x1024")
    with pytest.raises(UnknownPrice):
        price_per_second("veo-3", "1280x720")


def test_it_prices_a_dated_alias_like_its_base_model():
    assert price_per_second("sora-2-pro-2025-10-06", "1792x1024") == Decimal("0.50")
    assert price_per_second("sora-2-2025-10-06", "720x1280") == Decimal("0.10")


def test_it_reads_the_table_from_settings(settings):
    settings.QUOTA_PRICES = {"sora-2": {"1280x720": Decimal("0.125")}}
    assert price_per_second("sora-2", "1280x720") == Decimal("0.125")
    # 0.125 $/s for 4 s is exactly 50 cents; for 3.5 s, 43.75 cents rounds half up to 44
    assert cost_cents(Decimal("0.125"), 4000) == 50
    assert cost_cents(Decimal("0.125"), 3500) == 44


def test_it_takes_overrides_from_the_environment(tmp_path):
    code = ("import django; django.setup(); from quotas.services import price_per_second as p;"
            " print(p('sora-2-pro', '1792x1024'), p('sora-2', '1280x720'), p('sora-3', '1280x720'))")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(SORAWEB_TESTING="1", SORAWEB_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="soraweb.settings",
               QUOTA_PRICES_JSON='{"sora-2-pro": {"1792x1024": "0.60"}, "sora-3": {"1280x720": 1}}')
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0.60", "0.10", "1"]
