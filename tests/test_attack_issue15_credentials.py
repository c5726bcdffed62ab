"""The red team's attacks on issue 15's credentials in the library: the typed check specs
(netkit.check's HttpCheck ...) and transfer.Options are values programs log (``%r``); their
repr showed the password of the URL (``ftp://bob:PASSWORD@host/``), a proxy's, and an
Authorization or API key header whole, where Credentials, CheckSpec and Options' own
password= are masked."""

import pytest

from netkit import check, transfer

SECRETS = ("hunter2", "PROXYPW", "SECRETTOKEN", "K3YVALUE")


@pytest.mark.parametrize("spec", [
    lambda: check.FtpCheck("ftp://bob:hunter2@127.0.0.1:21/"),
    lambda: check.HttpCheck("http://bob:hunter2@127.0.0.1/", proxy="http://u:PROXYPW@127.0.0.1:3128",
                            header={"Authorization": "Bearer SECRETTOKEN", "X-Api-Key": "K3YVALUE"}),
    lambda: check.HttpCheck("https://127.0.0.1/", header=["Authorization: Basic SECRETTOKEN", ("X-Api-Key", "K3YVALUE")]),
    lambda: check.ImapCheck("imap://bob:hunter2@127.0.0.1/"),
    lambda: check.HttpCheck("http://127.0.0.1/", user="bob", password="hunter2"),
], ids=["ftp-url", "http-url-proxy-headers", "header-lines", "imap-url", "password"])
def test_a_typed_check_repr_shows_no_secret(spec):
    shown = repr(spec()) + str(spec())
    assert not [s for s in SECRETS if s in shown], shown
    assert "127.0.0.1" in shown and "bob" in shown or "Authorization" in shown


def test_transfer_options_repr_shows_no_secret_header():
    options = transfer.Options(user="bob", password="hunter2",
                               headers={"Authorization": "Bearer SECRETTOKEN", "X-Api-Key": "K3YVALUE",
                                        "Accept": "text/csv"})
    shown = repr(options)
    assert not [s for s in SECRETS if s in shown], shown
    assert "Accept" in shown and "text/csv" in shown and "bob" in shown
