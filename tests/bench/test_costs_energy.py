import pytest

from leanformer.bench import energy
from leanformer.bench.costs import Price, speedups, usd_per_100m


def test_speedups_on_fixed_timings():
    cumulative, step = speedups([200.0, 50.0, 10.0, 4.0])
    assert cumulative == [1.0, 4.0, 20.0, 50.0]
    assert step == [1.0, 4.0, 5.0, 2.5]


def test_cost_per_100m_queries():
    price = Price()  # the paper's F16s_v2: USD 0.677/h for 16 cores
    assert price.per_hour(16) == pytest.approx(0.677)
    assert price.per_hour(2) == pytest.approx(0.677 / 8)
    # 1,000 queries in 10 s on all 16 cores: 1e8 queries take 1e6 s = 277.8 h
    assert usd_per_100m(10.0, 1000, price, 16) == pytest.approx(1e6 / 3600 * 0.677)
    # the same rate on 2 cores costs an eighth
    assert usd_per_100m(10.0, 1000, price, 2) == pytest.approx(1e6 / 3600 * 0.677 / 8)


def test_energy_estimate_without_rapl(monkeypatch):
    monkeypatch.setattr(energy, "_rapl_files", lambda: [])
    with energy.EnergyMeter(watts_per_core=10.0) as meter:
        sum(i * i for i in range(2_000_000))
    assert meter.source.startswith("estimate:") and meter.joules > 0


def test_energy_from_rapl_counter_with_wraparound(tmp_path, monkeypatch):
    zone = tmp_path / "intel-rapl:0"
    zone.mkdir()
    (zone / "energy_uj").write_text("999000000")
    (zone / "max_energy_range_uj").write_text("1000000000")
    monkeypatch.setattr(energy, "_rapl_files", lambda: [zone / "energy_uj"])
    with energy.EnergyMeter() as meter:
        (zone / "energy_uj").write_text("4000000")  # wrapped: 1 J to the top, then 4 J
    assert meter.source == "rapl" and meter.joules == pytest.approx(5.0)
