import subprocess
import sys

from crawlers.seeds import parse_seeds
from flows.demo import DemoNetwork


def test_crawl_process_opens_no_remote_control(tmp_path):
    with DemoNetwork(ports=None) as net:
        seeds = net.write_seeds(tmp_path / "seeds.yaml")
        site = parse_seeds(seeds.read_text()).sources[0].name
        proc = subprocess.run(
            [sys.executable, "-m", "crawlers.run", "--seeds", str(seeds), "--source", site,
             "--out", str(tmp_path / "out"), "--allow-private"],
            capture_output=True, text=True, timeout=120,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    log = proc.stdout + proc.stderr
    assert "Enabled extensions" in log  # the log is Scrapy's, at INFO
    assert "TelnetConsole" not in log and "Telnet console listening" not in log
    assert "RemoteControl" not in log and "Remote control HTTP server" not in log
