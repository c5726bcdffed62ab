# Two commands for a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# Debian packages the tests talk to (real peers) and read with: tzdata for the monitor's
# maintenance windows (zoneinfo), PostgreSQL, Prometheus and Alertmanager beside the monitor,
# chromium for its dashboard, tcpdump, graphviz and arp-scan's OUI registry for packets, ruby
# for rpc's cross-language XML-RPC client; bash-completion, zsh and fish load netkit's completion,
# groff and man render its man pages.
TEST_DEBS  := tzdata nginx-light tinyproxy-bin dnsmasq-base dovecot-pop3d dovecot-imapd openssh-server openssh-client \
              nftables nmap-common libxml2-utils xsltproc ndiff iproute2 nmap \
              postgresql prometheus prometheus-alertmanager tcpdump graphviz \
              chromium chromium-driver fonts-dejavu-core ruby ruby-xmlrpc \
              arp-scan zsh fish bash-completion groff-base man-db
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

# `make install`: the `netkit` command (a link to .venv's), its bash, zsh and fish completion
# and its man pages, where the shells and man look under PREFIX (DESTDIR for a staging root).
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d

install: $(VENV)/.installed
	install -d '$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(MANDIR)/man1' '$(DESTDIR)$(BASHCOMPDIR)' \
		'$(DESTDIR)$(ZSHCOMPDIR)' '$(DESTDIR)$(FISHCOMPDIR)'
	ln -sfn '$(abspath $(VENV))/bin/netkit' '$(DESTDIR)$(BINDIR)/netkit'
	$(PY) -m netkit completion bash > '$(DESTDIR)$(BASHCOMPDIR)/netkit.tmp'
	$(PY) -m netkit completion zsh > '$(DESTDIR)$(ZSHCOMPDIR)/_netkit.tmp'
	$(PY) -m netkit completion fish > '$(DESTDIR)$(FISHCOMPDIR)/netkit.fish.tmp'
	mv '$(DESTDIR)$(BASHCOMPDIR)/netkit.tmp' '$(DESTDIR)$(BASHCOMPDIR)/netkit'
	mv '$(DESTDIR)$(ZSHCOMPDIR)/_netkit.tmp' '$(DESTDIR)$(ZSHCOMPDIR)/_netkit'
	mv '$(DESTDIR)$(FISHCOMPDIR)/netkit.fish.tmp' '$(DESTDIR)$(FISHCOMPDIR)/netkit.fish'
	$(PY) -m netkit.cli.manpage '$(DESTDIR)$(MANDIR)/man1'
install-test: $(VENV)/.installed-test

# The main job: the monitor on this machine's services (examples/monitor.toml), its SQLite
# store in .state/, the dashboard on http://127.0.0.1:9115/ ; Ctrl-C stops it.
run: $(VENV)/.installed
	$(VENV)/bin/netkit monitor run examples/monitor.toml

debs-test:
	@./.ci/apt-ensure $(TEST_DEBS)

debs-bench:
	@./.ci/apt-ensure $(BENCH_DEBS) $(TEST_DEBS)

test: debs-test install-test
	$(PY) -m mypy
	$(PY) -m pytest -q -n 4 --dist loadfile

bench: debs-bench $(VENV)/.installed-bench
	@status=0; for b in start sweep protocols scan transfer mirror serve ssh rpc mail packets monitor_store monitor_web monitor; do \
		echo "== bench_$$b"; $(PY) benchmarks/bench_$$b.py || status=1; \
	done; exit $$status

clean:
	rm -rf $(VENV) build src/*.egg-info
