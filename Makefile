# Two commands for a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# Debian packages the tests talk to (real peers) and read with: tzdata for the monitor's
# maintenance windows (zoneinfo), PostgreSQL, Prometheus and Alertmanager beside the monitor,
# chromium for its dashboard, tcpdump, graphviz and arp-scan's OUI registry for packets, ruby
# for rpc's cross-language XML-RPC client, zsh and fish whose completion of netkit is tested.
TEST_DEBS  := tzdata nginx-light tinyproxy-bin dnsmasq-base dovecot-pop3d dovecot-imapd openssh-server openssh-client \
              nftables nmap-common libxml2-utils xsltproc ndiff iproute2 nmap \
              postgresql prometheus prometheus-alertmanager tcpdump graphviz \
              chromium chromium-driver fonts-dejavu-core ruby ruby-xmlrpc \
              arp-scan zsh fish
# monitoring-plugins-standard has check_dns, which runs nslookup (bind9-dnsutils); the scan
# benchmark runs nmap, and reads peak memory with GNU time (time).
BENCH_DEBS := monitoring-plugins-basic monitoring-plugins-standard bind9-dnsutils \
              prometheus-blackbox-exporter apache2-utils nmap time pssh gcc curl lftp \
              swaks getmail6 fetchmail arp-scan traceroute mtr-tiny

.PHONY: run test bench install install-test debs-test debs-bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[monitor,rpc,packets]'
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[test,monitor,rpc,packets]'
	touch $@

$(VENV)/.installed-bench: $(VENV)/.installed-test
	$(PY) -m pip install -q -e '.[test,monitor,rpc,packets,bench]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# The main job: the monitor on this machine's services (examples/monitor.toml), its SQLite
# store in .state/, the dashboard on http://127.0.0.1:9115/ ; Ctrl-C stops it.
run: install
	$(VENV)/bin/netkit monitor run examples/monitor.toml

debs-test:
	@./.ci/apt-ensure $(TEST_DEBS)

debs-bench:
	@./.ci/apt-ensure $(BENCH_DEBS) $(TEST_DEBS)

test: debs-test install-test
	$(PY) -m pytest -q -n 4 --dist loadfile

bench: debs-bench $(VENV)/.installed-bench
	@status=0; for b in start sweep protocols scan transfer mirror serve ssh rpc mail packets monitor_store monitor_web monitor; do \
		echo "== bench_$$b"; $(PY) benchmarks/bench_$$b.py || status=1; \
	done; exit $$status

clean:
	rm -rf $(VENV) build src/*.egg-info
