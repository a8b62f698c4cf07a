"""The server's run settings (.streamlit/config.toml) that keep a click's answer quick.

After every run Streamlit collects all garbage by default (runner.postScriptGC: gc.collect(2)
on the script's thread), holding the GIL while the run's last messages wait to be sent. A
full pass walks every object the process holds: about 0.1 s with streamlit, pandas and plotly
imported, 0.24 s once torch and timm are (460,000 objects, measured on this 2-core machine),
more under load. On the Model page's switch to a model counted before, the run's last message
left the server 0.25-0.5 s after its 0.03 s run (benchmarks/bench_source_switch.py, timed
in the browser's network log); without the pass, 0.02-0.07 s. Python's own generational
collector still runs; the models a page builds are freed by their reference counts (no
cycle holds their weights), so nothing waits for a full pass to be let go."""

from __future__ import annotations

from pathlib import Path

from streamlit import config

ROOT = Path(__file__).resolve().parents[1]


def test_the_server_skips_a_full_garbage_collection_after_each_run(monkeypatch):
    monkeypatch.chdir(ROOT)  # Streamlit reads .streamlit/config.toml from where it is started
    monkeypatch.delenv("STREAMLIT_RUNNER_POST_SCRIPT_GC", raising=False)
    option = config.get_config_options(force_reparse=True)["runner.postScriptGC"]
    assert option.value is False
    assert Path(option.where_defined) == ROOT / ".streamlit" / "config.toml"
