"""RFC 5321 paths: what SES inbound checks in MAIL FROM and RCPT TO before it looks at the receipt rules.

aiosmtpd parses a path with the lenient RFC 5322 header parser of the standard library, which keeps NUL
and other control characters, empty dot-atoms (`a..b`), labels starting with `-` and more; SES answers
such commands with `501` and the mail is never accepted with a recipient it cannot deliver. The grammar
is RFC 5321 §4.1.2 (`Mailbox = Local-part "@" ( Domain / address-literal )`) with the SMTPUTF8 extension
of RFC 6531 (non-ASCII UTF-8 in atoms, quoted strings and labels, never control characters), and the
size limits of §4.5.3.1 (local part 64 octets, domain 255). Like aiosmtpd (and SES's own documentation),
the angle brackets may be left out; a source route (`<@relay:user@domain>`) is accepted and ignored.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata

MAX_LOCAL_PART_OCTETS = 64
MAX_DOMAIN_OCTETS = 255
MAX_LABEL_OCTETS = 63

# UTF8-non-ascii without the C1 controls (U+0080-U+009F) and lone surrogates (undecodable bytes).
_NON_ASCII = "\u00a0-\ud7ff\ue000-\U0010ffff"
_ATOM = f"[A-Za-z0-9!#$%&'*+/=?^_`{{|}}~{_NON_ASCII}-]+"
_DOT_STRING = rf"{_ATOM}(?:\.{_ATOM})*"
_QUOTED_STRING = rf'"(?:[\x20\x21\x23-\x5b\x5d-\x7e{_NON_ASCII}]|\\[\x20-\x7e])*"'
_LET_DIG = f"[A-Za-z0-9{_NON_ASCII}]"
_LABEL = f"{_LET_DIG}(?:[A-Za-z0-9{_NON_ASCII}-]*{_LET_DIG})?"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})*"
_ADDRESS_LITERAL = r"\[[\x21-\x5a\x5e-\x7e]+\]"
_SOURCE_ROUTE = rf"@{_DOMAIN}(?:,@{_DOMAIN})*:"
_PATH = re.compile(
    rf"(?P<open><(?:{_SOURCE_ROUTE})?)?"
    rf"(?P<local>{_DOT_STRING}|{_QUOTED_STRING})@(?P<domain>{_DOMAIN}|{_ADDRESS_LITERAL})"
    r"(?(open)>)(?=[ \t]|$)"
)
_POSTMASTER = re.compile(r"<postmaster>(?=[ \t]|$)", re.IGNORECASE)
_GENERAL_LITERAL = re.compile(r"[A-Za-z0-9-]*[A-Za-z0-9]:[\x21-\x5a\x5e-\x7e]+")


def _control_character(text: str) -> str | None:
    for char in text:
        if unicodedata.category(char) == "Cc":
            return f"U+{ord(char):04X}"
    return None


def _literal_problem(literal: str) -> str | None:
    content = literal[1:-1]
    try:
        if content[:5].lower() == "ipv6:":
            ipaddress.IPv6Address(content[5:])
        elif re.fullmatch(r"[0-9.]+", content):
            ipaddress.IPv4Address(content)
        elif not _GENERAL_LITERAL.fullmatch(content):
            return f"{literal} is not an address literal"
    except ValueError:
        return f"{literal} is not an IP address literal"
    return None


def path_problem(argument: str, *, reverse: bool) -> str | None:
    """Why the path that starts `argument` (what follows `MAIL FROM:` / `RCPT TO:`, parameters included) is
    not an RFC 5321 path, or None when it is one. `reverse`: a MAIL FROM reverse-path (`<>` allowed)."""
    control = _control_character(argument)
    if control is not None:
        return f"the address contains the control character {control}"
    if reverse and re.match(r"<>(?=[ \t]|$)", argument):
        return None
    if not reverse and _POSTMASTER.match(argument):
        return None  # RFC 5321 §4.1.1.3: RCPT TO:<Postmaster> needs no domain
    match = _PATH.match(argument)
    if match is None:
        return "the address is not an RFC 5321 mailbox (local-part@domain)"
    local, domain = match.group("local"), match.group("domain")
    if len(local.encode("utf-8")) > MAX_LOCAL_PART_OCTETS:
        return f"the local part is longer than {MAX_LOCAL_PART_OCTETS} octets"
    if domain.startswith("["):
        return _literal_problem(domain)
    if len(domain.encode("utf-8")) > MAX_DOMAIN_OCTETS:
        return f"the domain is longer than {MAX_DOMAIN_OCTETS} octets"
    if any(label.isascii() and len(label) > MAX_LABEL_OCTETS for label in domain.split(".")):
        return f"a domain label is longer than {MAX_LABEL_OCTETS} octets"
    return None
